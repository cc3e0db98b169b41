/**
 * VP8 RTP payload descriptor (RFC 7741 §4.2) and keyframe detection.
 *
 * ```
 *       0 1 2 3 4 5 6 7
 *      +-+-+-+-+-+-+-+-+
 *      |X|R|N|S|R| PID | (required)
 *      +-+-+-+-+-+-+-+-+
 * X:   |I|L|T|K| RSV   | (optional)
 *      +-+-+-+-+-+-+-+-+
 * I:   |M| PictureID   | (optional; M=1: 15 bits over two bytes)
 *      +-+-+-+-+-+-+-+-+
 * L:   |   TL0PICIDX   | (optional)
 *      +-+-+-+-+-+-+-+-+
 * T/K: |TID|Y| KEYIDX  | (optional)
 *      +-+-+-+-+-+-+-+-+
 * ```
 *
 * The bytes after the descriptor are the VP8 frame, which clients may encrypt
 * end to end (DESIGN.md: modules forward frames opaque). The only one this
 * module ever reads is the first byte of the VP8 payload header of a
 * partition start, whose P bit says "inter frame" (0 = keyframe, RFC 7741
 * §4.3) and which stays in the clear for exactly this purpose. Nothing here
 * writes past the descriptor.
 */
import { u8 } from './bytes';

/** What `readVp8Descriptor` found. Offsets are absolute in the parsed buffer. */
export interface Vp8Descriptor {
  /** Offset of the descriptor's first byte (the RTP payload offset). */
  offset: number;
  /** Descriptor length in bytes (1..6); the VP8 payload starts at offset + length. */
  length: number;
  /** X bit: the extension byte is present. */
  extended: boolean;
  /** N bit: this frame is not used as a reference; it can be dropped. */
  nonReference: boolean;
  /** S bit: the packet starts a VP8 partition. */
  startOfPartition: boolean;
  /** PID: partition index (0..7). */
  partitionIndex: number;
  /** Picture id (7- or 15-bit), or -1 when absent. */
  pictureId: number;
  /** Width of the picture id field: 7 or 15 bits; 0 when absent. */
  pictureIdBits: number;
  /** Offset of the picture id field's first byte, or -1. */
  pictureIdOffset: number;
  /** TL0PICIDX (0..255), or -1 when absent. */
  tl0PicIdx: number;
  /** Offset of the TL0PICIDX byte, or -1. */
  tl0PicIdxOffset: number;
  /** Temporal layer index TID (0..3), or -1 when the T bit is clear. */
  temporalLayer: number;
  /** Y bit: layer sync (only meaningful with TID). */
  layerSync: boolean;
  /** KEYIDX (0..31), or -1 when the K bit is clear. */
  keyIndex: number;
  /** The packet starts a keyframe: S=1, PID=0 and the payload header's P bit is 0. */
  isKeyframe: boolean;
}

/** A zeroed descriptor, to be reused as `readVp8Descriptor`'s `into`. */
export function createVp8Descriptor(): Vp8Descriptor {
  return {
    offset: 0,
    length: 0,
    extended: false,
    nonReference: false,
    startOfPartition: false,
    partitionIndex: 0,
    pictureId: -1,
    pictureIdBits: 0,
    pictureIdOffset: -1,
    tl0PicIdx: -1,
    tl0PicIdxOffset: -1,
    temporalLayer: -1,
    layerSync: false,
    keyIndex: -1,
    isKeyframe: false,
  };
}

/**
 * Parses the VP8 payload descriptor at `buf[offset .. offset + length)` (the
 * RTP payload: `header.payloadOffset`, `header.payloadLength`).
 *
 * @param into descriptor to fill (reuse one per receive loop); default: a new one
 * @returns `into`, or undefined when the payload is empty or ends inside the
 *   descriptor. A descriptor followed by no payload byte is accepted (never a
 *   keyframe).
 */
export function readVp8Descriptor(
  buf: Uint8Array,
  offset: number,
  length: number,
  into?: Vp8Descriptor,
): Vp8Descriptor | undefined {
  const end = Math.min(offset + length, buf.length);
  if (offset < 0 || offset >= end) return undefined;
  const b0 = u8(buf, offset);
  let p = offset + 1;
  const extended = (b0 & 0x80) !== 0;
  let pictureId = -1;
  let pictureIdBits = 0;
  let pictureIdOffset = -1;
  let tl0PicIdx = -1;
  let tl0PicIdxOffset = -1;
  let temporalLayer = -1;
  let layerSync = false;
  let keyIndex = -1;
  if (extended) {
    if (p >= end) return undefined;
    const x = u8(buf, p++);
    if (x & 0x80) {
      if (p >= end) return undefined;
      pictureIdOffset = p;
      const m = u8(buf, p++);
      if (m & 0x80) {
        if (p >= end) return undefined;
        pictureId = ((m & 0x7f) << 8) | u8(buf, p++);
        pictureIdBits = 15;
      } else {
        pictureId = m;
        pictureIdBits = 7;
      }
    }
    if (x & 0x40) {
      if (p >= end) return undefined;
      tl0PicIdxOffset = p;
      tl0PicIdx = u8(buf, p++);
    }
    if (x & 0x30) {
      if (p >= end) return undefined;
      const t = u8(buf, p++);
      if (x & 0x20) {
        temporalLayer = t >> 6;
        layerSync = (t & 0x20) !== 0;
      }
      if (x & 0x10) keyIndex = t & 0x1f;
    }
  }
  const d = into ?? createVp8Descriptor();
  d.offset = offset;
  d.length = p - offset;
  d.extended = extended;
  d.nonReference = (b0 & 0x20) !== 0;
  d.startOfPartition = (b0 & 0x10) !== 0;
  d.partitionIndex = b0 & 0x07;
  d.pictureId = pictureId;
  d.pictureIdBits = pictureIdBits;
  d.pictureIdOffset = pictureIdOffset;
  d.tl0PicIdx = tl0PicIdx;
  d.tl0PicIdxOffset = tl0PicIdxOffset;
  d.temporalLayer = temporalLayer;
  d.layerSync = layerSync;
  d.keyIndex = keyIndex;
  // Only the first partition's first packet carries the payload header.
  d.isKeyframe = d.startOfPartition && d.partitionIndex === 0 && p < end && (u8(buf, p) & 0x01) === 0;
  return d;
}

/**
 * True when the RTP payload at `buf[offset .. offset + length)` starts a VP8
 * keyframe. Parses the descriptor into a throwaway object; the forwarding
 * path reads `isKeyframe` from its reused descriptor instead.
 */
export function isVp8Keyframe(buf: Uint8Array, offset: number, length: number): boolean {
  return readVp8Descriptor(buf, offset, length)?.isKeyframe ?? false;
}

/**
 * Writes a picture id in place, in the width the packet already uses (7-bit
 * values wrap at 128, 15-bit at 32768). `desc` comes from parsing the same
 * bytes (or the bytes this buffer is a copy of).
 * @returns false when the packet has no picture id field
 */
export function writeVp8PictureId(buf: Uint8Array, desc: Vp8Descriptor, pictureId: number): boolean {
  const o = desc.pictureIdOffset;
  if (o < 0) return false;
  if (desc.pictureIdBits === 15) {
    buf[o] = 0x80 | ((pictureId >> 8) & 0x7f);
    buf[o + 1] = pictureId & 0xff;
  } else {
    buf[o] = pictureId & 0x7f;
  }
  return true;
}

/**
 * Writes TL0PICIDX (low 8 bits of `value`) in place.
 * @returns false when the packet has no TL0PICIDX field
 */
export function writeVp8Tl0PicIdx(buf: Uint8Array, desc: Vp8Descriptor, value: number): boolean {
  const o = desc.tl0PicIdxOffset;
  if (o < 0) return false;
  buf[o] = value & 0xff;
  return true;
}
