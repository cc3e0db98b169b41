/**
 * The RTCP an SFU needs (RFC 3550, RFC 4585, RFC 5104, REMB draft): demux from
 * RTP on a muxed port, iteration over a compound packet, the feedback
 * messages that drive forwarding (PLI, FIR, generic NACK, REMB, report
 * blocks), and builders for the ones the SFU sends itself.
 *
 * Readers never throw on bad bytes and never read past the packet: they
 * answer -1, 0 or undefined. Readers that return lists fill an array the
 * caller passes in (cleared first) so a receive loop can reuse it.
 */
import { u16, u24, u32, u8, w16, w32 } from './bytes';
import { seqDiff } from './sequence';

/** RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1). */
export const RtcpType = {
  /** Sender report. */
  SR: 200,
  /** Receiver report. */
  RR: 201,
  SDES: 202,
  BYE: 203,
  APP: 204,
  /** Transport-layer feedback (generic NACK is FMT 1). */
  RTPFB: 205,
  /** Payload-specific feedback (PLI FMT 1, FIR FMT 4, REMB FMT 15). */
  PSFB: 206,
} as const;

/** Feedback message types (the FMT field of RTPFB/PSFB packets). */
export const RtcpFeedbackFormat = {
  /** RTPFB: generic NACK (RFC 4585 §6.2.1). */
  NACK: 1,
  /** PSFB: picture loss indication (RFC 4585 §6.3.1). */
  PLI: 1,
  /** PSFB: full intra request (RFC 5104 §4.3.1). */
  FIR: 4,
  /** PSFB: application layer feedback; REMB uses it (draft-alvestrand-rmcat-remb). */
  AFB: 15,
} as const;

/** Length of the RTCP common header (bytes). */
const HEADER = 4;
/** Common header + sender SSRC + media SSRC of a feedback message (bytes). */
const FEEDBACK_HEADER = 12;

/**
 * RTP/RTCP demux on one port (RFC 5761 §4): RTCP packet types 192..223 in the
 * second byte cannot be RTP payload types once the marker bit is included,
 * as long as RTP payload types stay out of 64..95.
 *
 * @returns true for a version-2 packet whose second byte is 192..223
 */
export function isRtcp(buf: Uint8Array): boolean {
  if (buf.length < HEADER) return false;
  const b1 = u8(buf, 1);
  return u8(buf, 0) >> 6 === 2 && b1 >= 192 && b1 <= 223;
}

/**
 * Walks the packets of a compound RTCP packet without allocating. After
 * `next()` returns true, the fields describe the current packet.
 *
 * ```ts
 * const reader = new RtcpReader(); // once
 * reader.reset(datagram);
 * while (reader.next()) { if (reader.packetType === RtcpType.PSFB) ... }
 * if (reader.malformed) countDrop();
 * ```
 */
export class RtcpReader {
  /** Offset of the current packet's first byte. */
  offset = 0;
  /** Bytes of the current packet (header included, from its length field). */
  length = 0;
  /** Packet type of the current packet (see `RtcpType`). */
  packetType = 0;
  /** The 5-bit RC/FMT field: report count, or feedback message type. */
  count = 0;
  /** True when iteration stopped at bytes that are not a valid RTCP packet. */
  malformed = false;

  private buf: Uint8Array = new Uint8Array(0);
  private end = 0;
  private nextOffset = 0;

  /**
   * Starts over on a new compound packet.
   * @param length bytes of `buf` that belong to it; default `buf.length`
   */
  reset(buf: Uint8Array, length?: number): this {
    this.buf = buf;
    this.end = length === undefined || length > buf.length ? buf.length : length;
    this.nextOffset = 0;
    this.offset = 0;
    this.length = 0;
    this.packetType = 0;
    this.count = 0;
    this.malformed = false;
    return this;
  }

  /**
   * Advances to the next packet.
   * @returns false at the end, or at a packet with a version other than 2 or
   *   a length past the end (then `malformed` is true)
   */
  next(): boolean {
    const o = this.nextOffset;
    if (o >= this.end) return false;
    if (o + HEADER > this.end) return this.fail();
    const b0 = u8(this.buf, o);
    if (b0 >> 6 !== 2) return this.fail();
    const length = 4 * (u16(this.buf, o + 2) + 1);
    if (o + length > this.end) return this.fail();
    this.offset = o;
    this.length = length;
    this.packetType = u8(this.buf, o + 1);
    this.count = b0 & 0x1f;
    this.nextOffset = o + length;
    return true;
  }

  private fail(): false {
    this.malformed = true;
    this.nextOffset = this.end;
    return false;
  }
}

/** Clamps a caller's (offset, length) to the buffer. */
function packetEnd(buf: Uint8Array, offset: number, length: number): number {
  return Math.min(offset + length, buf.length);
}

/** True when the packet at `offset` is a feedback message of `type`/`fmt` with its 12-byte header. */
function isFeedback(buf: Uint8Array, offset: number, length: number, type: number, fmt: number): boolean {
  return (
    offset >= 0 &&
    packetEnd(buf, offset, length) - offset >= FEEDBACK_HEADER &&
    u8(buf, offset + 1) === type &&
    (u8(buf, offset) & 0x1f) === fmt
  );
}

/**
 * Media SSRC of a PLI (PSFB FMT 1): the stream that needs a keyframe.
 * @returns the SSRC, or -1 when the packet is not a PLI
 */
export function readPliMediaSsrc(buf: Uint8Array, offset: number, length: number): number {
  if (!isFeedback(buf, offset, length, RtcpType.PSFB, RtcpFeedbackFormat.PLI)) return -1;
  return u32(buf, offset + 8);
}

/**
 * Sender SSRC of any RTPFB/PSFB message (who sent the feedback).
 * @returns the SSRC, or -1 when the packet is shorter than a feedback header
 */
export function readFeedbackSenderSsrc(buf: Uint8Array, offset: number, length: number): number {
  if (offset < 0 || packetEnd(buf, offset, length) - offset < FEEDBACK_HEADER) return -1;
  return u32(buf, offset + 4);
}

/**
 * Media SSRC field of any RTPFB/PSFB message (0 in FIR and REMB, whose
 * targets are in their FCI).
 * @returns the SSRC, or -1 when the packet is shorter than a feedback header
 */
export function readFeedbackMediaSsrc(buf: Uint8Array, offset: number, length: number): number {
  if (offset < 0 || packetEnd(buf, offset, length) - offset < FEEDBACK_HEADER) return -1;
  return u32(buf, offset + 8);
}

/**
 * Entries of a FIR (PSFB FMT 4): each names a media SSRC and a command
 * sequence number (RFC 5104 §4.3.1.1).
 *
 * @param ssrcs cleared, then filled with the media SSRCs
 * @param sequenceNumbers optional; cleared, then filled with the matching
 *   command sequence numbers (0..255)
 * @returns number of entries, or -1 when the packet is not a FIR
 */
export function readFirEntries(
  buf: Uint8Array,
  offset: number,
  length: number,
  ssrcs: number[],
  sequenceNumbers?: number[],
): number {
  ssrcs.length = 0;
  if (sequenceNumbers) sequenceNumbers.length = 0;
  if (!isFeedback(buf, offset, length, RtcpType.PSFB, RtcpFeedbackFormat.FIR)) return -1;
  const end = packetEnd(buf, offset, length);
  for (let p = offset + FEEDBACK_HEADER; p + 8 <= end; p += 8) {
    ssrcs.push(u32(buf, p));
    sequenceNumbers?.push(u8(buf, p + 4));
  }
  return ssrcs.length;
}

/**
 * Lost sequence numbers of a generic NACK (RTPFB FMT 1), expanded from each
 * FCI's PID and bitmask of following lost packets (BLP), in packet order.
 *
 * @param out cleared, then filled with sequence numbers (16-bit)
 * @returns how many were written, or -1 when the packet is not a generic NACK
 */
export function readNackSequenceNumbers(buf: Uint8Array, offset: number, length: number, out: number[]): number {
  out.length = 0;
  if (!isFeedback(buf, offset, length, RtcpType.RTPFB, RtcpFeedbackFormat.NACK)) return -1;
  const end = packetEnd(buf, offset, length);
  for (let p = offset + FEEDBACK_HEADER; p + 4 <= end; p += 4) {
    const pid = u16(buf, p);
    const blp = u16(buf, p + 2);
    out.push(pid);
    for (let bit = 0; bit < 16; bit++) {
      if ((blp >> bit) & 1) out.push((pid + bit + 1) & 0xffff);
    }
  }
  return out.length;
}

/**
 * Bitrate of a REMB (PSFB FMT 15 with the 'REMB' identifier): the receiver's
 * estimate of what it can take, for all the SSRCs it lists.
 *
 * @param ssrcs optional; cleared, then filled with the SSRCs the estimate covers
 * @returns bits per second, or -1 when the packet is not a well-formed REMB
 */
export function readRemb(buf: Uint8Array, offset: number, length: number, ssrcs?: number[]): number {
  if (ssrcs) ssrcs.length = 0;
  if (!isFeedback(buf, offset, length, RtcpType.PSFB, RtcpFeedbackFormat.AFB)) return -1;
  const end = packetEnd(buf, offset, length);
  const p = offset + FEEDBACK_HEADER;
  if (p + 8 > end) return -1;
  // 'R' 'E' 'M' 'B'
  if (u8(buf, p) !== 0x52 || u8(buf, p + 1) !== 0x45 || u8(buf, p + 2) !== 0x4d || u8(buf, p + 3) !== 0x42) return -1;
  const count = u8(buf, p + 4);
  if (p + 8 + 4 * count > end) return -1;
  const exponent = u8(buf, p + 5) >> 2;
  const mantissa = u24(buf, p + 5) & 0x3ffff;
  if (ssrcs) for (let i = 0; i < count; i++) ssrcs.push(u32(buf, p + 8 + 4 * i));
  // Multiply, not shift: exponents up to 63 overflow 32-bit shifts.
  return mantissa * 2 ** exponent;
}

/** One reception report block of an SR or RR (RFC 3550 §6.4.1). */
export interface ReportBlock {
  /** The source this block reports on. */
  ssrc: number;
  /** Fraction of packets lost since the previous report, in 1/256 (0..255). */
  fractionLost: number;
  /** Packets lost since reception started (signed 24-bit: duplicates can make it negative). */
  cumulativeLost: number;
  /** Extended highest sequence number received (cycles << 16 | seq). */
  highestSequenceNumber: number;
  /** Interarrival jitter, in RTP timestamp units of the source. */
  jitter: number;
  /** Middle 32 bits of the NTP time of the last SR received from the source (0: none). */
  lastSenderReport: number;
  /** Delay since that SR, in 1/65536 s. */
  delaySinceLastSenderReport: number;
}

/** A zeroed report block, to be reused as `readReportBlock`'s `into`. */
export function createReportBlock(): ReportBlock {
  return {
    ssrc: 0,
    fractionLost: 0,
    cumulativeLost: 0,
    highestSequenceNumber: 0,
    jitter: 0,
    lastSenderReport: 0,
    delaySinceLastSenderReport: 0,
  };
}

/** Offset of the first report block in an SR or RR, or -1 for other packets. */
function firstReportBlock(buf: Uint8Array, offset: number): number {
  const type = u8(buf, offset + 1);
  if (type === RtcpType.RR) return offset + 8;
  if (type === RtcpType.SR) return offset + 28; // + 20 bytes of sender info
  return -1;
}

/**
 * Number of complete report blocks in an SR or RR (its RC field, capped to
 * what the packet length holds); 0 for other packets.
 */
export function reportBlockCount(buf: Uint8Array, offset: number, length: number): number {
  const end = packetEnd(buf, offset, length);
  if (offset < 0 || end - offset < 8) return 0;
  const first = firstReportBlock(buf, offset);
  if (first < 0 || first > end) return 0;
  return Math.min(u8(buf, offset) & 0x1f, Math.floor((end - first) / 24));
}

/**
 * Reads report block `index` of an SR or RR.
 * @param into block object to fill (reuse one); default: a new one
 * @returns `into`, or undefined when there is no such block
 */
export function readReportBlock(
  buf: Uint8Array,
  offset: number,
  length: number,
  index: number,
  into?: ReportBlock,
): ReportBlock | undefined {
  if (index < 0 || index >= reportBlockCount(buf, offset, length)) return undefined;
  const p = firstReportBlock(buf, offset) + 24 * index;
  const block = into ?? createReportBlock();
  block.ssrc = u32(buf, p);
  block.fractionLost = u8(buf, p + 4);
  const lost = u24(buf, p + 5);
  block.cumulativeLost = lost >= 0x80_0000 ? lost - 0x100_0000 : lost;
  block.highestSequenceNumber = u32(buf, p + 8);
  block.jitter = u32(buf, p + 12);
  block.lastSenderReport = u32(buf, p + 16);
  block.delaySinceLastSenderReport = u32(buf, p + 20);
  return block;
}

/** Writes a common header: version 2, no padding, RC/FMT, type, total bytes. */
function writeHeader(buf: Uint8Array, count: number, type: number, bytes: number): void {
  buf[0] = 0x80 | (count & 0x1f);
  buf[1] = type;
  w16(buf, 2, bytes / 4 - 1);
}

/** Builds a PLI (12 bytes) asking `mediaSsrc`'s sender for a keyframe. */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const buf = Buffer.alloc(FEEDBACK_HEADER);
  writeHeader(buf, RtcpFeedbackFormat.PLI, RtcpType.PSFB, FEEDBACK_HEADER);
  w32(buf, 4, senderSsrc);
  w32(buf, 8, mediaSsrc);
  return buf;
}

/**
 * Builds a FIR (20 bytes) for one stream.
 * @param sequenceNumber command sequence number (0..255): the same for
 *   repetitions of one request, +1 for each new request (RFC 5104 §4.3.1.1)
 */
export function buildFir(senderSsrc: number, mediaSsrc: number, sequenceNumber: number): Buffer {
  const bytes = FEEDBACK_HEADER + 8;
  const buf = Buffer.alloc(bytes);
  writeHeader(buf, RtcpFeedbackFormat.FIR, RtcpType.PSFB, bytes);
  w32(buf, 4, senderSsrc);
  w32(buf, 8, 0); // RFC 5104: the media SSRC field is unused in FIR
  w32(buf, 12, mediaSsrc);
  buf[16] = sequenceNumber & 0xff;
  return buf;
}

/**
 * Builds a generic NACK for `mediaSsrc` listing `sequenceNumbers` as PID+BLP
 * items. Any order is valid; ascending order (as a jitter buffer reports
 * losses) packs up to 17 numbers into each 4-byte item. Duplicates are
 * harmless.
 *
 * @param count how many entries of `sequenceNumbers` to use; default all
 * @returns the packet, or undefined when there is nothing to NACK
 */
export function buildNack(
  senderSsrc: number,
  mediaSsrc: number,
  sequenceNumbers: ArrayLike<number>,
  count = sequenceNumbers.length,
): Buffer | undefined {
  const items: number[] = [];
  let pid = -1;
  let blp = 0;
  for (let i = 0; i < count && i < sequenceNumbers.length; i++) {
    const seq = (sequenceNumbers[i] as number) & 0xffff;
    if (pid >= 0) {
      const d = seqDiff(seq, pid);
      if (d === 0) continue;
      if (d >= 1 && d <= 16) {
        blp |= 1 << (d - 1);
        continue;
      }
      items.push(pid, blp);
    }
    pid = seq;
    blp = 0;
  }
  if (pid < 0) return undefined;
  items.push(pid, blp);
  const bytes = FEEDBACK_HEADER + 2 * items.length;
  const buf = Buffer.alloc(bytes);
  writeHeader(buf, RtcpFeedbackFormat.NACK, RtcpType.RTPFB, bytes);
  w32(buf, 4, senderSsrc);
  w32(buf, 8, mediaSsrc);
  for (let i = 0; i < items.length; i++) w16(buf, FEEDBACK_HEADER + 2 * i, items[i] as number);
  return buf;
}

/** Largest REMB mantissa (18 bits). */
const REMB_MANTISSA_MAX = 0x3ffff;

/**
 * Builds a REMB telling a sender the bitrate this side can receive.
 * @param bitrateBps estimate in bits per second (rounded down to what an
 *   18-bit mantissa and a 6-bit exponent can say; negative counts as 0)
 * @param ssrcs the streams the estimate covers (at most 255)
 */
export function buildRemb(senderSsrc: number, bitrateBps: number, ssrcs: readonly number[]): Buffer {
  const n = Math.min(ssrcs.length, 255);
  const bytes = FEEDBACK_HEADER + 8 + 4 * n;
  const buf = Buffer.alloc(bytes);
  writeHeader(buf, RtcpFeedbackFormat.AFB, RtcpType.PSFB, bytes);
  w32(buf, 4, senderSsrc);
  w32(buf, 8, 0);
  let mantissa = Math.max(0, Math.floor(bitrateBps));
  let exponent = 0;
  while (mantissa > REMB_MANTISSA_MAX && exponent < 63) {
    mantissa = Math.floor(mantissa / 2);
    exponent++;
  }
  mantissa = Math.min(mantissa, REMB_MANTISSA_MAX);
  buf[12] = 0x52;
  buf[13] = 0x45;
  buf[14] = 0x4d;
  buf[15] = 0x42;
  buf[16] = n;
  buf[17] = (exponent << 2) | (mantissa >>> 16);
  w16(buf, 18, mantissa & 0xffff);
  for (let i = 0; i < n; i++) w32(buf, 20 + 4 * i, ssrcs[i] as number);
  return buf;
}
