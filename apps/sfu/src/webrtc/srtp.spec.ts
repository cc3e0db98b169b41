import { randomBytes } from 'node:crypto';
import { SRTP_PROFILES, rtpPacketBytes, srtpSessions } from '@meetedge/werift-kit/testing';
import { RtpHeader, RtpPacket } from 'werift';
import { RolloverCounter, SrtpProtector, localSrtpKeys } from './srtp';

describe.each(SRTP_PROFILES)('SrtpProtector with %s', (_name, profile) => {
  it('protects packets that werift decrypts to the same bytes, across a sequence-number wrap', () => {
    const { sender, receiver } = srtpSessions(profile);
    const protector = new SrtpProtector(localSrtpKeys(sender));
    const roc = new RolloverCounter();
    for (const seq of [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3]) {
      const plain = rtpPacketBytes(seq, randomBytes(200 + seq), seq % 2 === 0);
      const headerLength = RtpHeader.deSerialize(plain).payloadOffset;
      const protectedPacket = protector.protect(plain, headerLength, plain.length, roc.of(seq));
      expect(protectedPacket.length).toBe(plain.length + protector.tagLength);
      expect(receiver.decrypt(protectedPacket).equals(plain)).toBe(true);
    }
  });

  it('matches werift\'s own encryption byte for byte', () => {
    const { sender } = srtpSessions(profile);
    const twin = srtpSessions(profile);
    const protector = new SrtpProtector(localSrtpKeys(sender));
    const plain = rtpPacketBytes(7, randomBytes(300), true);
    const packet = RtpPacket.deSerialize(plain);
    const expected = sender.encrypt(packet.payload, packet.header);
    expect(protector.protect(plain, packet.header.payloadOffset, plain.length, 0).equals(expected)).toBe(true);
    // A different key gives different bytes (the comparison above can fail).
    expect(new SrtpProtector(localSrtpKeys(twin.sender)).protect(plain, packet.header.payloadOffset, plain.length, 0).equals(expected)).toBe(false);
  });

  it('fails authentication at the receiver when a byte changes in transit', () => {
    const { sender, receiver } = srtpSessions(profile);
    const protector = new SrtpProtector(localSrtpKeys(sender));
    const plain = rtpPacketBytes(100, randomBytes(100));
    const protectedPacket = protector.protect(plain, 12, plain.length, 0);
    protectedPacket[20] = (protectedPacket[20] as number) ^ 1;
    expect(() => receiver.decrypt(protectedPacket)).toThrow(/authenticat/i);
  });
});

describe('RolloverCounter', () => {
  it('counts forward wraps and gives a retransmission from before a wrap the previous counter', () => {
    const roc = new RolloverCounter();
    expect([65534, 65535, 0, 1].map((s) => roc.of(s))).toEqual([0, 0, 1, 1]);
    expect(roc.of(65535)).toBe(0); // resent, from before the wrap
    expect(roc.of(2)).toBe(1);
    expect([30000, 60000, 100].map((s) => roc.of(s))).toEqual([1, 1, 2]);
  });

  it('never goes below zero for an old number before any wrap', () => {
    const roc = new RolloverCounter();
    expect(roc.of(10)).toBe(0);
    expect(roc.of(65000)).toBe(0);
  });
});

it('refuses an unknown protection profile', () => {
  expect(() => new SrtpProtector({ profile: 2, key: randomBytes(16), salt: randomBytes(14), authKey: randomBytes(20) })).toThrow(
    /unsupported SRTP protection profile 2/,
  );
});
