/**
 * Keyframe request limiting per published stream (one per incoming SSRC:
 * each simulcast layer has its own keyframes).
 *
 * Many subscribers joining, switching layers or losing packets all want a
 * keyframe of the same stream; a keyframe costs the publisher several times
 * a normal frame, so the SFU coalesces their wishes into at most one PLI (or
 * FIR) per interval, repeats it each interval while no keyframe arrives (the
 * request or the keyframe may be lost), and stops as soon as one arrives.
 * No timers: the caller asks `poll(nowMs)` whenever convenient (on every
 * packet of the stream, on each subscriber request, or on a tick).
 */

/** What the caller should send to the publisher now. */
export const KeyframeAction = {
  /** Nothing (no need, or the interval has not passed). */
  None: 0,
  /** A PLI (`buildPli`). */
  Pli: 1,
  /** A FIR with `KeyframeRequester.firSequenceNumber` (`buildFir`). */
  Fir: 2,
} as const;
/** One of the `KeyframeAction` values. */
export type KeyframeAction = (typeof KeyframeAction)[keyof typeof KeyframeAction];

/** Options of `KeyframeRequester`. */
export interface KeyframeRequesterOptions {
  /** Least time between two requests sent to the publisher, in ms. Default 500. */
  minIntervalMs?: number;
  /**
   * Send FIR instead of PLI (when the publisher negotiated `ccm fir` and not
   * `nack pli`). Default false.
   */
  useFir?: boolean;
}

/** Coalesces keyframe wishes for one published stream into rate-limited PLI/FIR. */
export class KeyframeRequester {
  /** Least time between two requests, in ms. */
  readonly minIntervalMs: number;
  /** True when requests go out as FIR. */
  readonly useFir: boolean;
  /**
   * FIR command sequence number of the current request (0..255): +1 for each
   * new need, unchanged for repetitions (RFC 5104 §4.3.1.1), so the
   * publisher does not answer one need twice.
   */
  firSequenceNumber = 0;
  /** Requests sent (PLI or FIR), in total. */
  sent = 0;
  /** Wishes that were folded into a pending or recent request. */
  coalesced = 0;

  private pending = false;
  private lastSentMs = Number.NEGATIVE_INFINITY;
  /** The current `firSequenceNumber` went out in a FIR. */
  private firNumberSent = false;

  constructor(options: KeyframeRequesterOptions = {}) {
    this.minIntervalMs = options.minIntervalMs ?? 500;
    this.useFir = options.useFir ?? false;
  }

  /** True while a keyframe is wanted and has not arrived. */
  get needed(): boolean {
    return this.pending;
  }

  /**
   * Someone needs a keyframe of this stream (a subscriber's PLI/FIR, a new
   * subscriber, a layer switch).
   * @returns what to send now (then call nothing else); `None` when folded
   *   into a pending or recent request, which `poll` sends when it is due
   */
  request(nowMs: number): KeyframeAction {
    if (!this.pending) {
      this.pending = true;
      // A new need is a new FIR command; repetitions keep the number.
      if (this.firNumberSent) {
        this.firSequenceNumber = (this.firSequenceNumber + 1) & 0xff;
        this.firNumberSent = false;
      }
    }
    const action = this.poll(nowMs);
    if (action === KeyframeAction.None) this.coalesced++;
    return action;
  }

  /**
   * What to send now: a request when one is needed and the last was sent at
   * least `minIntervalMs` ago (which also repeats a request whose keyframe
   * never came).
   */
  poll(nowMs: number): KeyframeAction {
    if (!this.pending || nowMs - this.lastSentMs < this.minIntervalMs) return KeyframeAction.None;
    this.lastSentMs = nowMs;
    this.sent++;
    if (this.useFir) {
      this.firNumberSent = true;
      return KeyframeAction.Fir;
    }
    return KeyframeAction.Pli;
  }

  /** A keyframe of this stream arrived: the need is met. */
  onKeyframe(): void {
    this.pending = false;
  }
}
