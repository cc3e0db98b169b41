/**
 * RTP header view (RFC 3550 §5.1) with header extensions (RFC 8285).
 *
 * The forwarding path parses each incoming packet once, into a header object
 * the caller owns and reuses (`readRtpHeader(buf, scratch)`), and reads or
 * writes fields by offset in the packet's own bytes. Nothing here allocates
 * per packet, and nothing throws on bad bytes: a packet that does not hold
 * together is answered with `undefined` (or -1) and the caller drops it.
 */
import { u16, u32, u8, w16, w32 } from './bytes';

/** Length of the fixed RTP header, before CSRCs and extensions (bytes). */
export const RTP_FIXED_HEADER_LENGTH = 12;
/** Header extension profile of the one-byte form (RFC 8285 §4.2). */
export const ONE_BYTE_EXTENSION_PROFILE = 0xbede;
/**
 * Header extension profile of the two-byte form (RFC 8285 §4.3): 0x100 in the
 * top 12 bits, "appbits" in the low 4, so 0x1000..0x100f.
 */
export const TWO_BYTE_EXTENSION_PROFILE = 0x1000;

/**
 * What `readRtpHeader` found in one packet. Offsets are from the start of the
 * buffer that was parsed, so they stay valid for a byte-for-byte copy of it.
 */
export interface RtpHeader {
  /** Always 2 for a packet that parsed. */
  version: number;
  /** P bit: the packet ends with padding (its length is `paddingLength`). */
  padding: boolean;
  /** X bit: a header extension block follows the CSRCs. */
  extension: boolean;
  /** Number of CSRC identifiers (0..15). */
  csrcCount: number;
  /** M bit (for video: last packet of a frame). */
  marker: boolean;
  /** Payload type, 0..127. */
  payloadType: number;
  /** 16-bit sequence number. */
  sequenceNumber: number;
  /** 32-bit RTP timestamp, in the clock rate of the payload type. */
  timestamp: number;
  /** Synchronisation source, 0..2^32-1. */
  ssrc: number;
  /** Bytes before the payload: fixed header, CSRCs and the extension block. */
  headerLength: number;
  /** Extension profile (0xBEDE, 0x100x or another), or -1 without extension. */
  extensionProfile: number;
  /** Offset of the first extension element (after the 4-byte block header), or -1. */
  extensionOffset: number;
  /** Bytes of extension elements (a multiple of 4), 0 without extension. */
  extensionLength: number;
  /** Offset of the payload (= headerLength). */
  payloadOffset: number;
  /** Payload bytes, padding excluded; may be 0 (e.g. a padding-only probe). */
  payloadLength: number;
  /** Padding bytes at the end, including the count byte; 0 without the P bit. */
  paddingLength: number;
  /** Bytes of the whole packet that were parsed. */
  packetLength: number;
}

/** A zeroed header object, to be reused as `readRtpHeader`'s `into`. */
export function createRtpHeader(): RtpHeader {
  return {
    version: 0,
    padding: false,
    extension: false,
    csrcCount: 0,
    marker: false,
    payloadType: 0,
    sequenceNumber: 0,
    timestamp: 0,
    ssrc: 0,
    headerLength: 0,
    extensionProfile: -1,
    extensionOffset: -1,
    extensionLength: 0,
    payloadOffset: 0,
    payloadLength: 0,
    paddingLength: 0,
    packetLength: 0,
  };
}

/**
 * Parses and validates the RTP header of `buf[0..length)`.
 *
 * @param buf the packet bytes
 * @param into header object to fill (reuse one per receive loop to avoid an
 *   allocation per packet); default: a new one
 * @param length bytes of `buf` that belong to the packet; default `buf.length`
 * @returns `into`, filled; or undefined when the bytes are not an RTP packet:
 *   shorter than 12 bytes, version other than 2, CSRCs, extension block or
 *   padding reaching past the end, or a padding count of 0. `into` may then
 *   hold partial values.
 */
export function readRtpHeader(buf: Uint8Array, into?: RtpHeader, length?: number): RtpHeader | undefined {
  const len = length === undefined || length > buf.length ? buf.length : length;
  if (len < RTP_FIXED_HEADER_LENGTH) return undefined;
  const b0 = u8(buf, 0);
  if (b0 >> 6 !== 2) return undefined;
  const csrcCount = b0 & 0x0f;
  let headerLength = RTP_FIXED_HEADER_LENGTH + 4 * csrcCount;
  if (headerLength > len) return undefined;
  const hasExtension = (b0 & 0x10) !== 0;
  let extensionProfile = -1;
  let extensionOffset = -1;
  let extensionLength = 0;
  if (hasExtension) {
    if (headerLength + 4 > len) return undefined;
    extensionProfile = u16(buf, headerLength);
    extensionLength = 4 * u16(buf, headerLength + 2);
    extensionOffset = headerLength + 4;
    headerLength = extensionOffset + extensionLength;
    if (headerLength > len) return undefined;
  }
  const hasPadding = (b0 & 0x20) !== 0;
  let paddingLength = 0;
  if (hasPadding) {
    // The last byte counts the padding, itself included (RFC 3550 §5.1), so
    // 0 is malformed and the count cannot reach into the header.
    if (len === headerLength) return undefined;
    paddingLength = u8(buf, len - 1);
    if (paddingLength === 0 || headerLength + paddingLength > len) return undefined;
  }
  const h = into ?? createRtpHeader();
  const b1 = u8(buf, 1);
  h.version = 2;
  h.padding = hasPadding;
  h.extension = hasExtension;
  h.csrcCount = csrcCount;
  h.marker = (b1 & 0x80) !== 0;
  h.payloadType = b1 & 0x7f;
  h.sequenceNumber = u16(buf, 2);
  h.timestamp = u32(buf, 4);
  h.ssrc = u32(buf, 8);
  h.headerLength = headerLength;
  h.extensionProfile = extensionProfile;
  h.extensionOffset = extensionOffset;
  h.extensionLength = extensionLength;
  h.payloadOffset = headerLength;
  h.payloadLength = len - headerLength - paddingLength;
  h.paddingLength = paddingLength;
  h.packetLength = len;
  return h;
}

/** True when the extension block uses the one-byte form (profile 0xBEDE). */
export function isOneByteExtension(h: RtpHeader): boolean {
  return h.extensionProfile === ONE_BYTE_EXTENSION_PROFILE;
}

/** True when the extension block uses the two-byte form (profile 0x1000..0x100F). */
export function isTwoByteExtension(h: RtpHeader): boolean {
  return h.extensionProfile >= 0 && (h.extensionProfile & 0xfff0) === TWO_BYTE_EXTENSION_PROFILE;
}

/**
 * Finds header extension element `id` in a packet parsed by `readRtpHeader`.
 *
 * @param id element id: 1..14 in the one-byte form, 1..255 in the two-byte form
 * @returns offset of the element's value in `buf`, or -1 when the packet has
 *   no such element, uses another extension profile, or the element list is
 *   malformed before it (a length running past the block). The value's length
 *   is `headerExtensionLength(buf, h, offset)`.
 */
export function findHeaderExtension(buf: Uint8Array, h: RtpHeader, id: number): number {
  if (h.extensionOffset < 0) return -1;
  const end = Math.min(h.extensionOffset + h.extensionLength, buf.length);
  let p = h.extensionOffset;
  if (h.extensionProfile === ONE_BYTE_EXTENSION_PROFILE) {
    if (id < 1 || id > 14) return -1;
    while (p < end) {
      const b = u8(buf, p);
      if (b === 0) {
        p += 1; // padding between elements
        continue;
      }
      const elementId = b >> 4;
      // Id 15 is reserved: "the parser MUST stop parsing" (RFC 8285 §4.2).
      if (elementId === 15) return -1;
      const valueLength = (b & 0x0f) + 1;
      if (p + 1 + valueLength > end) return -1;
      if (elementId === id) return p + 1;
      p += 1 + valueLength;
    }
    return -1;
  }
  if (isTwoByteExtension(h)) {
    if (id < 1 || id > 255) return -1;
    while (p < end) {
      const elementId = u8(buf, p);
      if (elementId === 0) {
        p += 1;
        continue;
      }
      if (p + 2 > end) return -1;
      const valueLength = u8(buf, p + 1);
      if (p + 2 + valueLength > end) return -1;
      if (elementId === id) return p + 2;
      p += 2 + valueLength;
    }
  }
  return -1;
}

/**
 * Length in bytes of the extension value at `valueOffset`, an offset returned
 * by `findHeaderExtension` for the same packet (0 is possible in the two-byte
 * form).
 */
export function headerExtensionLength(buf: Uint8Array, h: RtpHeader, valueOffset: number): number {
  if (valueOffset < 1 || valueOffset > buf.length) return 0;
  if (h.extensionProfile === ONE_BYTE_EXTENSION_PROFILE) return (u8(buf, valueOffset - 1) & 0x0f) + 1;
  return u8(buf, valueOffset - 1);
}

/**
 * The value of extension element `id` as a view into `buf` (no copy; valid as
 * long as `buf` is). Allocates the view, so for per-packet use prefer
 * `findHeaderExtension`.
 */
export function getHeaderExtension(buf: Uint8Array, h: RtpHeader, id: number): Uint8Array | undefined {
  const offset = findHeaderExtension(buf, h, id);
  if (offset < 0) return undefined;
  return buf.subarray(offset, offset + headerExtensionLength(buf, h, offset));
}

// Field readers and writers by fixed offset. They do not validate: call them
// on bytes that `readRtpHeader` accepted (or on a copy of such bytes).

/** Sequence number of a validated RTP packet. */
export function readRtpSequenceNumber(buf: Uint8Array): number {
  return u16(buf, 2);
}

/** Timestamp of a validated RTP packet. */
export function readRtpTimestamp(buf: Uint8Array): number {
  return u32(buf, 4);
}

/** SSRC of a validated RTP packet. */
export function readRtpSsrc(buf: Uint8Array): number {
  return u32(buf, 8);
}

/** Writes the sequence number (low 16 bits of `seq`) in place. */
export function writeRtpSequenceNumber(buf: Uint8Array, seq: number): void {
  w16(buf, 2, seq);
}

/** Writes the timestamp (low 32 bits of `ts`) in place. */
export function writeRtpTimestamp(buf: Uint8Array, ts: number): void {
  w32(buf, 4, ts);
}

/** Writes the SSRC in place. */
export function writeRtpSsrc(buf: Uint8Array, ssrc: number): void {
  w32(buf, 8, ssrc);
}

/** Writes the payload type (0..127) in place, keeping the marker bit. */
export function writeRtpPayloadType(buf: Uint8Array, payloadType: number): void {
  buf[1] = (u8(buf, 1) & 0x80) | (payloadType & 0x7f);
}

/** Sets or clears the marker bit in place, keeping the payload type. */
export function writeRtpMarker(buf: Uint8Array, marker: boolean): void {
  buf[1] = marker ? u8(buf, 1) | 0x80 : u8(buf, 1) & 0x7f;
}
