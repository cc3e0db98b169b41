/**
 * The synthetic VP8-like payload: a 1-byte VP8 payload descriptor (S=1,
 * partition 0), a 3-byte VP8 payload header (P=0 on keyframes), then the
 * bench's stamp — send time (ms, float64, performance.now() of the one
 * client process), a sequence counter (uint32) and a magic word — and
 * random bytes up to the payload size. The module forwards bytes after the
 * codec header untouched, so the stamp arrives as sent.
 */
export const STAMP_MAGIC = 0x6d656265; // "mebe"
export const HEADER_BYTES = 4;
export const STAMP_BYTES = 16;

export function buildPayload(size: number, key: boolean, sentAtMs: number, seq: number, filler: Buffer, fillerOffset = 0): Buffer {
  if (size < HEADER_BYTES + STAMP_BYTES) throw new Error(`payload of ${size} bytes cannot hold the stamp`);
  const payload = Buffer.allocUnsafe(size);
  payload[0] = 0x10;
  payload[1] = key ? 0x00 : 0x01;
  payload[2] = 0x00;
  payload[3] = 0x9d;
  payload.writeDoubleBE(sentAtMs, 4);
  payload.writeUInt32BE(seq >>> 0, 12);
  payload.writeUInt32BE(STAMP_MAGIC, 16);
  const body = HEADER_BYTES + STAMP_BYTES;
  const offset = fillerOffset % Math.max(1, filler.length - (size - body));
  filler.copy(payload, body, offset, offset + (size - body));
  return payload;
}

/** The stamp of a received payload, or undefined for anything else. */
export function readStamp(payload: Uint8Array): { sentAtMs: number; seq: number } | undefined {
  if (payload.length < HEADER_BYTES + STAMP_BYTES) return undefined;
  const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (buf.readUInt32BE(16) !== STAMP_MAGIC) return undefined;
  return { sentAtMs: buf.readDoubleBE(4), seq: buf.readUInt32BE(12) };
}
