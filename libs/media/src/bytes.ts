/**
 * Big-endian field access on byte arrays, for the parsers of this library.
 *
 * Internal: not exported from the package. Every caller checks bounds first;
 * these helpers only spare the `as number` that `noUncheckedIndexedAccess`
 * asks for on every indexed read, and keep the hot path free of DataView
 * objects (one per packet would be an allocation).
 */

/** Byte at `o`; the caller has checked `o < b.length`. */
export function u8(b: Uint8Array, o: number): number {
  return b[o] as number;
}

/** Unsigned 16-bit big-endian at `o`. */
export function u16(b: Uint8Array, o: number): number {
  return ((b[o] as number) << 8) | (b[o + 1] as number);
}

/** Unsigned 24-bit big-endian at `o`. */
export function u24(b: Uint8Array, o: number): number {
  return ((b[o] as number) << 16) | ((b[o + 1] as number) << 8) | (b[o + 2] as number);
}

/** Unsigned 32-bit big-endian at `o` (0..2^32-1; `>>> 0` keeps it non-negative). */
export function u32(b: Uint8Array, o: number): number {
  return (
    (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0
  );
}

/** Writes the low 16 bits of `v` big-endian at `o`. */
export function w16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/** Writes the low 32 bits of `v` big-endian at `o`. */
export function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
