/**
 * Header rewriting per (subscriber, published track): the subscriber sees ONE
 * stream (one SSRC, continuous sequence numbers and timestamps, continuous
 * VP8 picture ids) while the SFU forwards whichever simulcast layer suits it,
 * and while the publisher's SSRCs change under it.
 *
 * The model, as in LiveKit's rtpmunger/forwarder and mediasoup's
 * SimulcastConsumer:
 *
 * - A *segment* is a run of packets forwarded from one incoming SSRC with one
 *   fixed (sequence, timestamp) offset. Within a segment the mapping is plain
 *   arithmetic, so a gap in the input is the same gap in the output (the
 *   subscriber NACKs it and the SFU can answer from the publisher's cache),
 *   and reordered packets land where they belong.
 * - A new segment starts only at a *switch point* of the target SSRC (a
 *   keyframe for video; any packet for audio). Its first packet gets the
 *   sequence number after the last one sent, and a timestamp advanced by the
 *   wall-clock time since the last packet sent, converted to the clock rate,
 *   so the subscriber's jitter buffer sees neither a jump nor a rewind.
 * - Packets of the current SSRC from before the switch point are dropped.
 * - A ring of the most recent outgoing sequence numbers remembers which
 *   segment each belongs to, so a subscriber's NACK maps back to
 *   (incoming SSRC, incoming sequence number) for the retransmission cache.
 *
 * No method allocates. Results are numbers; the values of the last decision
 * are fields of the munger (`sequenceNumber`, `timestamp`, `segment`).
 */
import {
  readRtpTimestamp,
  writeRtpSequenceNumber,
  writeRtpSsrc,
  writeRtpTimestamp,
} from './rtp';
import { seqDiff } from './sequence';
import { type Vp8Descriptor, writeVp8PictureId, writeVp8Tl0PicIdx } from './vp8';

/**
 * What `RtpMunger.process` decided for one packet. A plain object of numbers
 * rather than a TS enum, so it survives isolated (per-file) compilation.
 */
export const MungeResult = {
  /** Send it: `sequenceNumber`/`timestamp` hold the outgoing values; call `rewrite`. */
  Forward: 0,
  /** The subscriber paused this track (no target). */
  DropPaused: 1,
  /** The packet belongs to an SSRC that is neither forwarded nor the target (another layer). */
  DropOtherStream: 2,
  /** The target SSRC has not yet sent a switch point (keyframe); request one. */
  DropAwaitingSwitchPoint: 3,
  /** A late packet of the current SSRC from before the switch point. */
  DropBeforeSwitch: 4,
  /** A packet already forwarded (same incoming sequence number). */
  DropDuplicate: 5,
  /** A packet so late that the outgoing history no longer covers it. */
  DropTooOld: 6,
} as const;
/** One of the `MungeResult` values. */
export type MungeResult = (typeof MungeResult)[keyof typeof MungeResult];

/** Segments remembered for NACK mapping; more switches than this within one history window lose the oldest. */
const SEGMENT_SLOTS = 32;
const SLOT_EMPTY = 0;
/** An outgoing number skipped by an input gap: mapped, not yet sent. */
const SLOT_GAP = 1;
const SLOT_SENT = 2;
/** Longest real-time gap carried into the timestamp, in ticks: keeps the jump "forward" (< 2^31). */
const MAX_TS_ADVANCE = 0x4000_0000;

/** Rounds up to a power of two within [16, 32768] (≤ half the sequence space, so a slot check is unambiguous). */
function historySlots(requested: number): number {
  let n = 16;
  while (n < requested && n < 0x8000) n *= 2;
  return n;
}

/** Options of `RtpMunger`. */
export interface RtpMungerOptions {
  /** The SSRC the subscriber receives this track on (fixed for its lifetime). */
  ssrc: number;
  /** Clock rate of the track's RTP timestamps, in Hz (90000 for video, 48000 for Opus). */
  clockRate: number;
  /**
   * Outgoing sequence numbers remembered for NACK mapping and duplicate
   * detection; also how late (in packets) a reordered packet may arrive and
   * still be forwarded. Rounded up to a power of two, at most 32768.
   * Default 1024.
   */
  historySize?: number;
  /** First outgoing sequence number. Default: the first forwarded packet's own. */
  initialSequenceNumber?: number;
  /** First outgoing timestamp. Default: the first forwarded packet's own. */
  initialTimestamp?: number;
  /**
   * Consecutive packets of the current SSRC that arrive older than the
   * history (or than the switch point) after which the munger concludes the
   * sender restarted its numbering and starts a new segment there. Default 16.
   */
  resyncAfter?: number;
}

/**
 * Maps the packets of one published track's layers onto one outgoing stream
 * for one subscriber.
 *
 * Call order per incoming packet (after parsing the header once and deciding
 * once whether it is a switch point, for all subscribers):
 *
 * ```ts
 * const r = munger.process(h.ssrc, h.sequenceNumber, h.timestamp, isKeyframe, nowMs);
 * if (r === MungeResult.Forward) {
 *   out.set(packet);                 // the subscriber's own copy
 *   munger.rewrite(out);
 *   if (vp8) vp8Munger.rewrite(out, desc, munger.segment);
 *   send(out, h.packetLength);
 * } else if (r === MungeResult.DropAwaitingSwitchPoint) keyframes.request(nowMs);
 * ```
 */
export class RtpMunger {
  /** Outgoing SSRC. */
  readonly ssrc: number;
  /** RTP clock rate in Hz. */
  readonly clockRate: number;

  /** Outgoing sequence number of the last packet `process` forwarded. */
  sequenceNumber = 0;
  /** Outgoing timestamp of the last packet `process` forwarded. */
  timestamp = 0;
  /** Segment of the last packet `process` forwarded (increases by 1 per switch; -1 before the first). */
  segment = -1;

  /** After a successful `lookup`: the incoming SSRC the outgoing number came from. */
  lookupSsrc = 0;
  /** After a successful `lookup`: the incoming sequence number. */
  lookupSequenceNumber = 0;
  /** After a successful `lookup`: the outgoing sequence number looked up. */
  lookupOutgoingSequenceNumber = 0;
  /** After a successful `lookup`: outgoing timestamp = (incoming - this) mod 2^32. */
  lookupTimestampOffset = 0;
  /** After a successful `lookup`: the segment (for `Vp8Munger.rewrite`). */
  lookupSegment = -1;

  private targetSsrc = -1;
  private currentSsrc = -1;
  private seqOffset = 0;
  private tsOffset = 0;
  /** Highest incoming sequence number of the current segment. */
  private highestIn = 0;
  /** Extended `highestIn`, counted from the switch point (0). */
  private highestInExt = 0;
  private started = false;
  private lastOutSeq = 0;
  private lastOutTs = 0;
  private lastOutMs = 0;
  private staleRun = 0;
  private readonly resyncAfter: number;
  private readonly initialSequenceNumber: number | undefined;
  private readonly initialTimestamp: number | undefined;

  // Outgoing history, indexed by outgoing sequence number & mask.
  private readonly mask: number;
  private readonly ringOut: Int32Array;
  private readonly ringSegment: Float64Array;
  private readonly ringState: Uint8Array;

  // Segment table, indexed by segment id % SEGMENT_SLOTS.
  private readonly segIds = new Float64Array(SEGMENT_SLOTS).fill(-1);
  private readonly segSsrc = new Float64Array(SEGMENT_SLOTS);
  private readonly segSeqOffset = new Int32Array(SEGMENT_SLOTS);
  private readonly segTsOffset = new Float64Array(SEGMENT_SLOTS);

  constructor(options: RtpMungerOptions) {
    this.ssrc = options.ssrc >>> 0;
    this.clockRate = options.clockRate;
    this.resyncAfter = options.resyncAfter ?? 16;
    this.initialSequenceNumber = options.initialSequenceNumber;
    this.initialTimestamp = options.initialTimestamp;
    const slots = historySlots(options.historySize ?? 1024);
    this.mask = slots - 1;
    this.ringOut = new Int32Array(slots).fill(-1);
    this.ringSegment = new Float64Array(slots);
    this.ringState = new Uint8Array(slots);
  }

  /**
   * Chooses the incoming SSRC to forward: a simulcast layer's, or the
   * publisher's new SSRC after a change. The switch happens at that SSRC's
   * next switch point; until then the current SSRC keeps flowing.
   * `undefined` pauses the track: nothing is forwarded, and resuming needs a
   * switch point (the subscriber's decoder missed frames meanwhile).
   */
  setTarget(ssrc: number | undefined): void {
    if (ssrc === undefined) {
      this.targetSsrc = -1;
      this.currentSsrc = -1;
      return;
    }
    this.targetSsrc = ssrc >>> 0;
  }

  /** The SSRC to switch to (or being forwarded); undefined while paused. */
  get target(): number | undefined {
    return this.targetSsrc < 0 ? undefined : this.targetSsrc;
  }

  /** The SSRC being forwarded now; undefined before the first switch point and while paused. */
  get current(): number | undefined {
    return this.currentSsrc < 0 ? undefined : this.currentSsrc;
  }

  /** True while the target SSRC is not yet forwarded: a keyframe of it is needed. */
  get needsKeyframe(): boolean {
    return this.targetSsrc >= 0 && this.targetSsrc !== this.currentSsrc;
  }

  /**
   * Decides about one incoming packet and, when it is forwarded, computes its
   * outgoing sequence number and timestamp (fields `sequenceNumber`,
   * `timestamp`, `segment`).
   *
   * @param ssrc incoming SSRC (the layer it came on)
   * @param sequenceNumber incoming sequence number
   * @param timestamp incoming RTP timestamp
   * @param isSwitchPoint a decoder can start here: a keyframe's first packet
   *   for video, true for every audio packet
   * @param nowMs arrival time in milliseconds on any monotonic clock
   */
  process(ssrc: number, sequenceNumber: number, timestamp: number, isSwitchPoint: boolean, nowMs: number): MungeResult {
    if (this.targetSsrc < 0) return MungeResult.DropPaused;
    if (ssrc !== this.currentSsrc) {
      if (ssrc !== this.targetSsrc) return MungeResult.DropOtherStream;
      if (!isSwitchPoint) return MungeResult.DropAwaitingSwitchPoint;
      this.startSegment(ssrc, sequenceNumber, timestamp, nowMs);
      return MungeResult.Forward;
    }
    const diff = seqDiff(sequenceNumber, this.highestIn);
    if (diff > 0) {
      const out = (sequenceNumber - this.seqOffset) & 0xffff;
      // Outgoing numbers skipped by an input gap stay mapped, so the
      // subscriber's NACKs for them can be answered when the publisher's
      // retransmission (or a late packet) fills the cache.
      const gaps = Math.min(diff - 1, this.mask + 1);
      for (let k = gaps; k >= 1; k--) this.mark((out - k) & 0xffff, SLOT_GAP);
      this.mark(out, SLOT_SENT);
      this.highestIn = sequenceNumber;
      this.highestInExt += diff;
      this.emit(out, (timestamp - this.tsOffset) >>> 0);
      this.lastOutSeq = out;
      this.lastOutTs = this.timestamp;
      this.lastOutMs = nowMs;
      return MungeResult.Forward;
    }
    if (diff === 0) return MungeResult.DropDuplicate;
    // Late (reordered or retransmitted) packet of the current segment.
    const tooOld = -diff > this.mask;
    if (tooOld || this.highestInExt + diff < 0) {
      if (++this.staleRun >= this.resyncAfter) {
        this.startSegment(ssrc, sequenceNumber, timestamp, nowMs);
        return MungeResult.Forward;
      }
      return tooOld ? MungeResult.DropTooOld : MungeResult.DropBeforeSwitch;
    }
    const out = (sequenceNumber - this.seqOffset) & 0xffff;
    const slot = out & this.mask;
    if (this.ringOut[slot] === out && this.ringSegment[slot] === this.segment && this.ringState[slot] === SLOT_SENT) {
      return MungeResult.DropDuplicate;
    }
    this.mark(out, SLOT_SENT);
    this.emit(out, (timestamp - this.tsOffset) >>> 0);
    return MungeResult.Forward;
  }

  /**
   * Writes the last forwarded packet's outgoing SSRC, sequence number and
   * timestamp into `dst`, the subscriber's copy of that packet.
   */
  rewrite(dst: Uint8Array): void {
    writeRtpSsrc(dst, this.ssrc);
    writeRtpSequenceNumber(dst, this.sequenceNumber);
    writeRtpTimestamp(dst, this.timestamp);
  }

  /**
   * Maps an outgoing sequence number (from the subscriber's NACK) back to the
   * incoming packet, filling the `lookup*` fields.
   * @returns false when the number was never mapped or has left the history
   */
  lookup(outgoingSequenceNumber: number): boolean {
    const out = outgoingSequenceNumber & 0xffff;
    const slot = out & this.mask;
    if (this.ringState[slot] === SLOT_EMPTY || this.ringOut[slot] !== out) return false;
    const segment = this.ringSegment[slot] as number;
    const i = segment % SEGMENT_SLOTS;
    if (this.segIds[i] !== segment) return false;
    this.lookupSsrc = this.segSsrc[i] as number;
    this.lookupSequenceNumber = (out + (this.segSeqOffset[i] as number)) & 0xffff;
    this.lookupOutgoingSequenceNumber = out;
    this.lookupTimestampOffset = this.segTsOffset[i] as number;
    this.lookupSegment = segment;
    return true;
  }

  /**
   * Rewrites `dst`, a copy of the cached incoming packet found by the last
   * successful `lookup`, into the outgoing packet it was (or would have been).
   */
  rewriteRetransmission(dst: Uint8Array): void {
    writeRtpSsrc(dst, this.ssrc);
    writeRtpSequenceNumber(dst, this.lookupOutgoingSequenceNumber);
    writeRtpTimestamp(dst, (readRtpTimestamp(dst) - this.lookupTimestampOffset) >>> 0);
  }

  private startSegment(ssrc: number, sequenceNumber: number, timestamp: number, nowMs: number): void {
    let out: number;
    let outTs: number;
    if (!this.started) {
      this.started = true;
      out = (this.initialSequenceNumber ?? sequenceNumber) & 0xffff;
      outTs = (this.initialTimestamp ?? timestamp) >>> 0;
    } else {
      out = (this.lastOutSeq + 1) & 0xffff;
      // At least one tick: a switch point is a new frame, and two frames
      // with one timestamp would be merged by the subscriber's jitter buffer.
      const ticks = Math.round(((nowMs - this.lastOutMs) * this.clockRate) / 1000);
      outTs = (this.lastOutTs + Math.min(Math.max(1, ticks), MAX_TS_ADVANCE)) >>> 0;
    }
    const segment = this.segment + 1;
    this.seqOffset = (sequenceNumber - out) & 0xffff;
    this.tsOffset = (timestamp - outTs) >>> 0;
    this.currentSsrc = ssrc;
    this.highestIn = sequenceNumber;
    this.highestInExt = 0;
    const i = segment % SEGMENT_SLOTS;
    this.segIds[i] = segment;
    this.segSsrc[i] = ssrc;
    this.segSeqOffset[i] = this.seqOffset;
    this.segTsOffset[i] = this.tsOffset;
    this.segment = segment;
    this.mark(out, SLOT_SENT);
    this.emit(out, outTs);
    this.lastOutSeq = out;
    this.lastOutTs = outTs;
    this.lastOutMs = nowMs;
  }

  private emit(out: number, outTs: number): void {
    this.sequenceNumber = out;
    this.timestamp = outTs;
    this.staleRun = 0;
  }

  private mark(out: number, state: number): void {
    const slot = out & this.mask;
    this.ringOut[slot] = out;
    this.ringSegment[slot] = this.segment;
    this.ringState[slot] = state;
  }
}

/** Offsets of one segment, so retransmissions of older segments are rewritten like their originals. */
const VP8_SEGMENT_SLOTS = SEGMENT_SLOTS;

/**
 * VP8 picture id and TL0PICIDX continuity across switches, per (subscriber,
 * published track), driven by `RtpMunger`'s segments. At each new segment the
 * offsets are chosen so the first picture id is the last one sent + 1 (and
 * TL0PICIDX likewise), so the subscriber's decoder sees no missing pictures.
 * Picture ids keep the width the packet uses (7 or 15 bits). KEYIDX is not
 * rewritten (browsers do not use it).
 */
export class Vp8Munger {
  /** Outgoing picture id of the last rewritten packet (-1 when it had none). */
  pictureId = -1;
  /** Outgoing TL0PICIDX of the last rewritten packet (-1 when it had none). */
  tl0PicIdx = -1;

  private segment = -1;
  private lastPictureId = -1;
  private lastTl0PicIdx = -1;
  private readonly segIds = new Float64Array(VP8_SEGMENT_SLOTS).fill(-1);
  private readonly pictureIdOffsets = new Int32Array(VP8_SEGMENT_SLOTS);
  private readonly tl0Offsets = new Int32Array(VP8_SEGMENT_SLOTS);

  /**
   * Rewrites picture id and TL0PICIDX of `dst` (a copy of the packet `desc`
   * was parsed from) for `segment` (`RtpMunger.segment` after a Forward, or
   * `RtpMunger.lookupSegment` for a retransmission). Bytes after the
   * descriptor are never touched.
   * @returns false when the segment is too old to be known (leave the packet unsent)
   */
  rewrite(dst: Uint8Array, desc: Vp8Descriptor, segment: number): boolean {
    const i = segment % VP8_SEGMENT_SLOTS;
    if (segment > this.segment) {
      // The switch point of a new segment: continue from the last values sent.
      this.segIds[i] = segment;
      this.pictureIdOffsets[i] =
        desc.pictureId >= 0 && this.lastPictureId >= 0 ? desc.pictureId - this.lastPictureId - 1 : 0;
      this.tl0Offsets[i] = desc.tl0PicIdx >= 0 && this.lastTl0PicIdx >= 0 ? desc.tl0PicIdx - this.lastTl0PicIdx - 1 : 0;
      this.segment = segment;
    } else if (this.segIds[i] !== segment) {
      return false;
    }
    const current = segment === this.segment;
    this.pictureId = -1;
    this.tl0PicIdx = -1;
    if (desc.pictureId >= 0) {
      const mask = desc.pictureIdBits === 15 ? 0x7fff : 0x7f;
      const out = (desc.pictureId - (this.pictureIdOffsets[i] as number)) & mask;
      writeVp8PictureId(dst, desc, out);
      this.pictureId = out;
      if (current && (this.lastPictureId < 0 || isNewerMod(out, this.lastPictureId, mask))) this.lastPictureId = out;
    }
    if (desc.tl0PicIdx >= 0) {
      const out = (desc.tl0PicIdx - (this.tl0Offsets[i] as number)) & 0xff;
      writeVp8Tl0PicIdx(dst, desc, out);
      this.tl0PicIdx = out;
      if (current && (this.lastTl0PicIdx < 0 || isNewerMod(out, this.lastTl0PicIdx, 0xff))) this.lastTl0PicIdx = out;
    }
    return true;
  }
}

/** `a` newer than `b` in a wrapping space of `mask + 1` values (a power of two). */
function isNewerMod(a: number, b: number, mask: number): boolean {
  const d = (a - b) & mask;
  return d !== 0 && d <= mask >> 1;
}
