import { randomBytes } from 'node:crypto';
import { loadFastPath, type FastPath } from '@meetedge/fastpath';
import { RtcpPacketConverter, RtcpReceiverInfo, RtcpRrPacket, RtpPacket, SrtcpSession, type SrtpSession, keyLength, saltLength } from 'werift';
import { ReceiveRollover, fastRtpDecryptor, fastSrtcpCodec } from './fast-srtp';
import { SRTP_PROFILES, rtpPacketBytes, srtpSessions, type SrtpProfile } from './testing';

const GCM = 0x0007;

function fastPath(): FastPath {
  const load = loadFastPath();
  if (!load.fastPath) throw new Error(load.error);
  return load.fastPath;
}

/** The receiving side's keys of `receiver` (its remote context), as werift's patch 012 hands them over. */
function remoteKeys(receiver: SrtpSession) {
  const remote = (receiver as unknown as { remoteContext: { srtpSessionKey: Buffer; srtpSessionSalt: Buffer; srtpSessionAuthTag: Buffer; profile: number } })
    .remoteContext;
  return { profile: remote.profile, key: remote.srtpSessionKey, salt: remote.srtpSessionSalt, authKey: remote.srtpSessionAuthTag };
}

describe.each(SRTP_PROFILES)('fastRtpDecryptor with %s', (_name, profile) => {
  it('decrypts what werift encrypted, across a wrap, out of order and resent from before the wrap', () => {
    const { sender, receiver } = srtpSessions(profile);
    const decrypt = fastRtpDecryptor(fastPath())(remoteKeys(receiver));
    // werift's sender numbers the ROC by what it sent; the receiver must follow it.
    // (Steps under half the number space, as a real stream's are: a larger jump is ambiguous.)
    // Extended numbers (ROC · 65536 + seq). werift's sender counts a wrap only
    // from near the top to near zero, as a real stream wraps.
    const roll = (roc: number, seq: number) => roc * 65536 + seq;
    const sent = [65530, 65531, 65532, 65533, 65534, 65535, roll(1, 0), roll(1, 1), roll(1, 2), roll(1, 3), roll(1, 20000), roll(1, 40000)];
    sent.push(roll(1, 59990), roll(1, 60000), roll(1, 65500), roll(1, 65535), roll(2, 5));
    const received = [65530, 65532, 65531, 65533, 65534, 65535, roll(1, 0), roll(1, 2), roll(1, 1), 65535, roll(1, 3), roll(1, 20000)];
    received.push(roll(1, 40000), roll(1, 60000), roll(1, 65500), roll(1, 65535), roll(2, 5), roll(1, 59990));
    const encrypted = new Map<number, { datagram: Buffer; plain: Buffer }>();
    for (const index of sent) {
      const plain = rtpPacketBytes(index & 0xffff, randomBytes(100 + (index % 500)), index % 2 === 0);
      const packet = RtpPacket.deSerialize(plain);
      encrypted.set(index, { datagram: sender.encrypt(packet.payload, packet.header), plain });
    }
    for (const index of received) {
      const entry = encrypted.get(index);
      if (!entry) throw new Error(`no packet ${index}`);
      const out = decrypt(Buffer.from(entry.datagram));
      expect(out?.toString('hex')).toBe(entry.plain.toString('hex'));
    }
  });

  it('drops forged and malformed packets, and a forged packet does not move the counter', () => {
    const { sender, receiver } = srtpSessions(profile);
    const decrypt = fastRtpDecryptor(fastPath())(remoteKeys(receiver));
    const encrypt = (seq: number) => {
      const packet = RtpPacket.deSerialize(rtpPacketBytes(seq, randomBytes(200)));
      return sender.encrypt(packet.payload, packet.header);
    };
    expect(decrypt(encrypt(60000))).toBeDefined();
    // A forged packet numbered past a wrap: it would make the counter 1 if it counted.
    const forged = encrypt(100);
    forged[30] = (forged[30] as number) ^ 0xff;
    expect(decrypt(forged)).toBeUndefined();
    expect(decrypt(Buffer.alloc(8))).toBeUndefined();
    expect(decrypt(randomBytes(300))).toBeUndefined();
    // Still on counter 0: the next genuine packet before the wrap decrypts.
    expect(decrypt(encrypt(60001))).toBeDefined();
    // A packet of another session's keys never decrypts.
    const other = srtpSessions(profile);
    const packet = RtpPacket.deSerialize(rtpPacketBytes(60002, randomBytes(50)));
    expect(decrypt(other.sender.encrypt(packet.payload, packet.header))).toBeUndefined();
  });
});

/** Two werift SRTCP sessions with mirrored keys, and the codec of the first (as werift's patch 015 keys it). */
function srtcpSessions(profile: SrtpProfile) {
  const a = { key: randomBytes(keyLength(profile)), salt: randomBytes(saltLength(profile)) };
  const b = { key: randomBytes(keyLength(profile)), salt: randomBytes(saltLength(profile)) };
  const ours = new SrtcpSession({ keys: { localMasterKey: a.key, localMasterSalt: a.salt, remoteMasterKey: b.key, remoteMasterSalt: b.salt }, profile });
  const theirs = new SrtcpSession({ keys: { localMasterKey: b.key, localMasterSalt: b.salt, remoteMasterKey: a.key, remoteMasterSalt: a.salt }, profile });
  type Ctx = { srtcpSessionKey: Buffer; srtcpSessionSalt: Buffer; srtcpSessionAuthTag: Buffer };
  const keysOf = (context: Ctx) => ({ profile, key: context.srtcpSessionKey, salt: context.srtcpSessionSalt, authKey: context.srtcpSessionAuthTag });
  const session = ours as unknown as { localContext: Ctx; remoteContext: Ctx };
  const codec = fastSrtcpCodec(fastPath())({ local: keysOf(session.localContext), remote: keysOf(session.remoteContext) });
  return { codec, theirs };
}

function receiverReport(ssrc: number, lost: number): Buffer {
  return new RtcpRrPacket({ ssrc, reports: [new RtcpReceiverInfo({ ssrc: 0x5555, fractionLost: 0, packetsLost: lost, highestSequence: 1000 + lost, jitter: 3, lsr: 0, dlsr: 0 })] }).serialize();
}

describe.each(SRTP_PROFILES)('fastSrtcpCodec with %s', (_name, profile) => {
  it('encrypts what werift decrypts, numbering the session\'s packets from 0 whatever their SSRC', () => {
    const { codec, theirs } = srtcpSessions(profile);
    const indexOf = (datagram: Buffer) => datagram.readUInt32BE(profile === GCM ? datagram.length - 4 : datagram.length - 14);
    const sent: number[] = [];
    for (let i = 0; i < 6; i++) {
      const ssrc = i % 2 === 0 ? 0x1111 : 0x2222;
      const plain = Buffer.concat([receiverReport(ssrc, i), receiverReport(ssrc, 100 + i)]);
      const datagram = codec.encrypt(plain);
      sent.push(indexOf(datagram));
      expect(theirs.decrypt(datagram).equals(plain)).toBe(true);
      expect(RtcpPacketConverter.deSerialize(theirs.decrypt(codec.encrypt(plain)))).toHaveLength(2);
    }
    // E flag set; two packets a round, one counter for the session: no (SSRC, index) twice.
    expect(sent.map((word) => word >>> 31)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(sent.map((word) => word & 0x7fff_ffff)).toEqual([0, 2, 4, 6, 8, 10]);
  });

  it('never uses an (SSRC, index) pair twice, however many SSRCs send, and each SSRC\'s indices grow', () => {
    const { codec, theirs } = srtcpSessions(profile);
    const indexOf = (datagram: Buffer) => datagram.readUInt32BE(profile === GCM ? datagram.length - 4 : datagram.length - 14) & 0x7fff_ffff;
    const seen = new Set<string>();
    const last = new Map<number, number>();
    for (let round = 0; round < 3; round++) {
      for (let ssrc = 1; ssrc <= 100; ssrc++) {
        const datagram = codec.encrypt(receiverReport(ssrc, round));
        const index = indexOf(datagram);
        expect(seen.has(`${ssrc}/${index}`)).toBe(false);
        seen.add(`${ssrc}/${index}`);
        expect(index).toBeGreaterThan(last.get(ssrc) ?? -1);
        last.set(ssrc, index);
        expect(theirs.decrypt(datagram).readUInt32BE(4)).toBe(ssrc);
      }
    }
    // What is not RTCP is refused without spending an index.
    expect(() => codec.encrypt(Buffer.alloc(4))).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_BOUNDS' }));
    expect(indexOf(codec.encrypt(receiverReport(1, 9)))).toBe(300);
  });

  it('decrypts what werift encrypted, in place, and drops forged, foreign and malformed packets', () => {
    const { codec, theirs } = srtcpSessions(profile);
    for (let i = 0; i < 5; i++) {
      const plain = receiverReport(0x3333, i);
      expect(codec.decrypt(theirs.encrypt(plain))?.toString('hex')).toBe(plain.toString('hex'));
    }
    const forged = theirs.encrypt(receiverReport(0x3333, 9));
    forged[12] = (forged[12] as number) ^ 1;
    expect(codec.decrypt(forged)).toBeUndefined();
    expect(codec.decrypt(srtcpSessions(profile).theirs.encrypt(receiverReport(0x3333, 9)))).toBeUndefined();
    expect(codec.decrypt(Buffer.alloc(6))).toBeUndefined();
    expect(codec.decrypt(randomBytes(60))).toBeUndefined();
    expect(() => codec.encrypt(Buffer.alloc(4))).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_BOUNDS' }));
  });
});

describe('ReceiveRollover', () => {
  it('estimates as RFC 3711 Appendix A and advances only on commit', () => {
    const r = new ReceiveRollover(65000);
    expect(r.estimate(100)).toBe(1); // past the wrap
    expect(r.estimate(65100)).toBe(0);
    r.commit(100, 1);
    expect(r.estimate(65500)).toBe(0); // late, from before the wrap
    expect(r.estimate(200)).toBe(1);
    r.commit(65500, 0); // a late packet leaves the counter and the highest number alone
    expect(r.estimate(30000)).toBe(1);
    expect(r.estimate(40000)).toBe(0); // more than half the space behind: the roll before
    const start = new ReceiveRollover(10);
    expect(start.estimate(65000)).toBe(0); // never below zero
  });
});
