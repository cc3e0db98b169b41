// Test helpers for SRTP with werift's own sessions as the reference: for this
// library's specs and the module's (apps/sfu srtp.spec.ts).
import { randomBytes } from 'node:crypto';
import { RtpHeader, RtpPacket, SrtpSession, keyLength, saltLength } from 'werift';

/** The DTLS-SRTP profiles werift negotiates, named, for describe.each. */
export const SRTP_PROFILES = [
  ['AES_CM_128_HMAC_SHA1_80', 0x0001],
  ['AEAD_AES_128_GCM', 0x0007],
] as const;

export type SrtpProfile = (typeof SRTP_PROFILES)[number][1];

/** Two werift sessions with mirrored keys: what `sender` encrypts, `receiver` decrypts. */
export function srtpSessions(profile: SrtpProfile): { sender: SrtpSession; receiver: SrtpSession } {
  const a = { key: randomBytes(keyLength(profile)), salt: randomBytes(saltLength(profile)) };
  const b = { key: randomBytes(keyLength(profile)), salt: randomBytes(saltLength(profile)) };
  const sender = new SrtpSession({
    keys: { localMasterKey: a.key, localMasterSalt: a.salt, remoteMasterKey: b.key, remoteMasterSalt: b.salt },
    profile,
  });
  const receiver = new SrtpSession({
    keys: { localMasterKey: b.key, localMasterSalt: b.salt, remoteMasterKey: a.key, remoteMasterSalt: a.salt },
    profile,
  });
  return { sender, receiver };
}

/** A serialized RTP packet numbered `seq` (one header extension when `extensions`). */
export function rtpPacketBytes(seq: number, payload: Buffer, extensions = false): Buffer {
  const header = new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp: seq * 3000, ssrc: 0x11223344, marker: true });
  if (extensions) {
    header.extension = true;
    header.extensions = [{ id: 1, payload: Buffer.from('0') }];
  }
  return new RtpPacket(header, payload).serialize();
}
