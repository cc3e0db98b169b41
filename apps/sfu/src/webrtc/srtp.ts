import { createCipheriv, createHmac } from 'node:crypto';

// SRTP protection of outgoing RTP (RFC 3711, RFC 7714) with the session keys
// werift derived for a DTLS transport, for the forwarding path (rtp-output.ts).
// werift's own encryptRtp serializes a header object and concatenates three
// buffers per packet; this writes the packet once into its datagram. Node's
// crypto has no way to reuse a cipher with a new IV, so a cipher (and for
// AES-CM an HMAC) is still created per packet: that is most of what remains
// (docs/performance.md).

/** DTLS-SRTP protection profiles werift negotiates (RFC 5764, RFC 7714). */
export const SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001;
export const SRTP_AEAD_AES_128_GCM = 0x0007;

/** The session keys of one direction of an SRTP session. */
export interface SrtpSessionKeys {
  profile: number;
  /** Session encryption key (16 bytes). */
  key: Buffer;
  /** Session salt: 14 bytes (AES-CM) or 12 bytes (AES-GCM). */
  salt: Buffer;
  /** Session authentication key (AES-CM only; 20 bytes). */
  authKey: Buffer;
}

/** The shape of werift's SrtpContext that holds the derived session keys (werift 0.24.4). */
interface WeriftSrtpContext {
  profile: number;
  srtpSessionKey: Buffer;
  srtpSessionSalt: Buffer;
  srtpSessionAuthTag: Buffer;
}

/** The outgoing (local) keys of werift's SrtpSession of a connected DTLS transport. */
export function localSrtpKeys(session: unknown): SrtpSessionKeys {
  const context = (session as { localContext?: WeriftSrtpContext } | undefined)?.localContext;
  if (!context || !Buffer.isBuffer(context.srtpSessionKey)) throw new Error('werift SRTP session has no local context');
  return {
    profile: context.profile,
    key: context.srtpSessionKey,
    salt: context.srtpSessionSalt,
    authKey: context.srtpSessionAuthTag,
  };
}

/** The authentication tag length a profile appends to each SRTP packet. */
export function srtpTagLength(profile: number): number {
  if (profile === SRTP_AEAD_AES_128_GCM) return 16;
  if (profile === SRTP_AES128_CM_HMAC_SHA1_80) return 10;
  throw new RangeError(`unsupported SRTP protection profile ${profile}`);
}

/** Encrypts and authenticates RTP packets of one direction of an SRTP session. */
export class SrtpProtector {
  readonly tagLength: number;
  private readonly gcm: boolean;
  /** IV scratch: 12 bytes (GCM) or 16 bytes (CM); rewritten per packet. */
  private readonly iv: Buffer;
  private readonly rocBytes = Buffer.alloc(4);

  constructor(private readonly keys: SrtpSessionKeys) {
    this.tagLength = srtpTagLength(keys.profile);
    this.gcm = keys.profile === SRTP_AEAD_AES_128_GCM;
    this.iv = Buffer.alloc(this.gcm ? 12 : 16);
    if (keys.salt.length < (this.gcm ? 12 : 14)) throw new RangeError('SRTP session salt too short');
  }

  /**
   * Protects the RTP packet in `plain[0, length)` (header of `headerLength`
   * bytes, then payload) with rollover counter `roc`.
   * @returns a new buffer: header, encrypted payload, authentication tag
   */
  protect(plain: Uint8Array, headerLength: number, length: number, roc: number): Buffer {
    const ssrc = ((plain[8] as number) << 24) | ((plain[9] as number) << 16) | ((plain[10] as number) << 8) | (plain[11] as number);
    const seq = ((plain[2] as number) << 8) | (plain[3] as number);
    const out = Buffer.allocUnsafe(length + this.tagLength);
    out.set(plain.subarray(0, headerLength), 0);
    const header = out.subarray(0, headerLength);
    const payload = plain.subarray(headerLength, length);
    if (this.gcm) {
      // RFC 7714 §8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt; AAD = the header.
      const iv = this.iv;
      const salt = this.keys.salt;
      iv.writeUInt16BE(0, 0);
      iv.writeUInt32BE(ssrc >>> 0, 2);
      iv.writeUInt32BE(roc >>> 0, 6);
      iv.writeUInt16BE(seq, 10);
      for (let i = 0; i < 12; i++) iv[i] = (iv[i] as number) ^ (salt[i] as number);
      const cipher = createCipheriv('aes-128-gcm', this.keys.key, iv);
      cipher.setAAD(header);
      const encrypted = cipher.update(payload);
      cipher.final();
      out.set(encrypted, headerLength);
      out.set(cipher.getAuthTag(), length);
      return out;
    }
    // RFC 3711 §4.1.1: IV = (salt · 2^16) XOR (SSRC · 2^64) XOR (index · 2^16), index = ROC · 2^16 + SEQ.
    const iv = this.iv;
    const salt = this.keys.salt;
    iv.fill(0);
    iv.writeUInt32BE(ssrc >>> 0, 4);
    iv.writeUInt32BE(roc >>> 0, 8);
    iv.writeUInt16BE(seq, 12);
    for (let i = 0; i < 14; i++) iv[i] = (iv[i] as number) ^ (salt[i] as number);
    const cipher = createCipheriv('aes-128-ctr', this.keys.key, iv);
    out.set(cipher.update(payload), headerLength);
    cipher.final();
    // Authenticated portion: header and encrypted payload, then the ROC (RFC 3711 §4.2).
    this.rocBytes.writeUInt32BE(roc >>> 0, 0);
    const tag = createHmac('sha1', this.keys.authKey).update(out.subarray(0, length)).update(this.rocBytes).digest();
    out.set(tag.subarray(0, 10), length);
    return out;
  }
}

/**
 * The rollover counter of one outgoing SSRC (RFC 3711 §3.3.1) for packets
 * numbered by one sender: it counts wraps of the 16-bit sequence number, and
 * a packet numbered just before the last wrap (a retransmission) gets the
 * previous counter.
 */
export class RolloverCounter {
  private roc = 0;
  private highest = -1;

  /** The ROC for a packet with sequence number `seq`, advancing on a forward wrap. */
  of(seq: number): number {
    if (this.highest < 0) {
      this.highest = seq;
      return this.roc;
    }
    const delta = (seq - this.highest) & 0xffff;
    if (delta < 0x8000) {
      // Forward (or the same): a smaller number than the highest wrapped.
      if (seq < this.highest) this.roc = (this.roc + 1) >>> 0;
      if (delta !== 0) this.highest = seq;
      return this.roc;
    }
    // Backward: before the last wrap if it is numerically above the highest.
    return seq > this.highest && this.roc > 0 ? this.roc - 1 : this.roc;
  }
}
