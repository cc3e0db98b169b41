/**
 * Keyframe detection for H.264 over RTP (RFC 6184 §5.6–5.8).
 *
 * Only NAL unit headers are read (one byte each, and the FU header), never
 * the NAL payload: with end-to-end encryption the slice data is opaque and
 * the NAL headers are what the clients leave in the clear.
 */
import { u16, u8 } from './bytes';

/** NAL unit types that matter for forwarding (ITU-T H.264 table 7-1, RFC 6184 table 1). */
export const H264NalType = {
  /** Coded slice of an IDR picture: a decoder can start here. */
  IDR: 5,
  /** Sequence parameter set: sent right before an IDR. */
  SPS: 7,
  PPS: 8,
  /** Single-time aggregation packet. */
  STAP_A: 24,
  /** Fragmentation unit. */
  FU_A: 28,
} as const;

function startsDecoding(nalType: number): boolean {
  return nalType === H264NalType.IDR || nalType === H264NalType.SPS;
}

/**
 * True when the RTP payload at `buf[offset .. offset + length)` starts a
 * keyframe: a single IDR or SPS NAL unit, a STAP-A holding one, or the first
 * fragment (S bit) of an FU-A whose NAL unit is one. Truncated aggregates are
 * read only as far as they hold together; nothing is read past the payload.
 */
export function isH264Keyframe(buf: Uint8Array, offset: number, length: number): boolean {
  const end = Math.min(offset + length, buf.length);
  if (offset < 0 || offset >= end) return false;
  const type = u8(buf, offset) & 0x1f;
  if (type >= 1 && type <= 23) return startsDecoding(type);
  if (type === H264NalType.STAP_A) {
    // [STAP-A NAL header][size(16)][NAL unit][size(16)][NAL unit]...
    let p = offset + 1;
    while (p + 2 < end) {
      const size = u16(buf, p);
      p += 2;
      if (size === 0 || p + size > end) return false;
      if (startsDecoding(u8(buf, p) & 0x1f)) return true;
      p += size;
    }
    return false;
  }
  if (type === H264NalType.FU_A) {
    if (offset + 1 >= end) return false;
    const fu = u8(buf, offset + 1);
    return (fu & 0x80) !== 0 && startsDecoding(fu & 0x1f);
  }
  return false;
}
