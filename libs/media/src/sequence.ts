/**
 * RTP number arithmetic: 16-bit sequence numbers and 32-bit timestamps wrap,
 * so "newer" means "ahead by less than half the number space" (RFC 3550
 * appendix A.1 does the same for sequence numbers). Unwrappers turn them into
 * extended numbers that only grow, which are plain JS numbers (exact up to
 * 2^53, i.e. far beyond any meeting's length).
 */

/** Size of the RTP sequence-number space (2^16). */
export const SEQ_MODULO = 0x1_0000;
/** Size of the RTP timestamp space (2^32). */
export const TS_MODULO = 0x1_0000_0000;

/**
 * Signed distance `a - b` between two 16-bit sequence numbers, in
 * [-32768, 32767]: positive when `a` is newer. Exactly half the space apart
 * gives -32768 both ways, so of two such numbers neither is newer.
 */
export function seqDiff(a: number, b: number): number {
  return ((a - b + 0x8000) & 0xffff) - 0x8000;
}

/** True when sequence number `a` is newer than `b` (ahead by 1..32767, across a wrap too). */
export function isSeqNewer(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

/** `a + n` in the 16-bit sequence space; `n` may be negative. */
export function seqAdd(a: number, n: number): number {
  return (a + n) & 0xffff;
}

/**
 * Signed distance `a - b` between two 32-bit RTP timestamps, in
 * [-2^31, 2^31): positive when `a` is later.
 */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** True when timestamp `a` is later than `b` (ahead by 1..2^31-1, across a wrap too). */
export function isTsNewer(a: number, b: number): boolean {
  return tsDiff(a, b) > 0;
}

/** `a + n` in the 32-bit timestamp space; `n` is an integer and may be negative. */
export function tsAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/**
 * Turns wrapping numbers into extended ones. The first value keeps its own
 * number; later values are placed within half the space of the newest seen,
 * so reordered (older) values are placed correctly and never move the
 * reference back. A value older than the first one across a wrap gets a
 * negative extended number; callers compare extended numbers, they never
 * index with them.
 */
class Unwrapper {
  private newest = 0;
  private newestRaw = 0;
  private started = false;

  constructor(private readonly diff: (a: number, b: number) => number) {}

  /** Extended number for `value` (a 16- or 32-bit field read from a packet). */
  unwrap(value: number): number {
    if (!this.started) {
      this.started = true;
      this.newest = value;
      this.newestRaw = value;
      return value;
    }
    const d = this.diff(value, this.newestRaw);
    const extended = this.newest + d;
    if (d > 0) {
      this.newest = extended;
      this.newestRaw = value;
    }
    return extended;
  }

  /** The newest extended number seen; undefined before the first `unwrap`. */
  get highest(): number | undefined {
    return this.started ? this.newest : undefined;
  }

  /** Forgets everything; the next value starts afresh (e.g. a new SSRC). */
  reset(): void {
    this.started = false;
    this.newest = 0;
    this.newestRaw = 0;
  }
}

/** Unwraps 16-bit RTP sequence numbers into extended sequence numbers. */
export class SequenceUnwrapper extends Unwrapper {
  constructor() {
    super(seqDiff);
  }
}

/** Unwraps 32-bit RTP timestamps into extended timestamps. */
export class TimestampUnwrapper extends Unwrapper {
  constructor() {
    super(tsDiff);
  }
}
