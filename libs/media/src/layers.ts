/**
 * Simulcast layer selection per (subscriber, published video track), after
 * LiveKit's forwarder/streamallocator and mediasoup's SimulcastConsumer.
 *
 * The publisher sends up to three spatial layers (rid q/h/f: about 180p,
 * 360p, 720p). Each subscriber gets one of them, chosen from:
 * - what it asked for: SD (at most the middle, 360p layer) or HD (up to
 *   720p), or nothing while it has paused the track;
 * - what the publisher actually sends now (a layer measured at 0 bit/s is
 *   off: browsers drop layers when their uplink is short);
 * - what reaches the subscriber: its bandwidth estimate (REMB) and the loss
 *   in its receiver reports.
 *
 * Downgrades are quick (loss above 10 %, or the layer's bitrate above the
 * estimate); upgrades are cautious: one layer at a time, only after a hold
 * time without congestion, and only into a layer that fits the estimate with
 * headroom. Every change of target needs a keyframe of the new layer, which
 * `LayerChange.requestKeyframe` says.
 *
 * The selector knows layers by spatial index; the caller maps an index to
 * the layer's current SSRC (`RtpMunger.setTarget`).
 */

/** A subscriber's wish, as in the meeting's SD/HD setting (@meetedge/core `Quality`). */
export type VideoQuality = 'SD' | 'HD';

/** One simulcast layer of a published track. */
export interface SimulcastLayer {
  /** Spatial index: 0 = lowest resolution. */
  spatial: number;
  /** RTP stream id ('q', 'h', 'f' from browsers), for logs. */
  rid?: string;
  /** Frame height in pixels when known; decides SD/HD eligibility before the index does. */
  height?: number;
  /** Measured incoming bitrate in bit/s; 0 = the publisher is not sending this layer now. */
  bitrateBps: number;
}

/** Spatial index of a browser rid: 'q' → 0, 'h' → 1, 'f' → 2; -1 for others. */
export function spatialIndexOfRid(rid: string): number {
  switch (rid) {
    case 'q':
      return 0;
    case 'h':
      return 1;
    case 'f':
      return 2;
    default:
      return -1;
  }
}

/** Why the target changed. */
export type LayerChangeReason =
  /** The first choice once layers are known. */
  | 'start'
  /** The subscriber paused the track. */
  | 'pause'
  /** The subscriber resumed the track. */
  | 'resume'
  /** The subscriber's SD/HD wish changed. */
  | 'quality'
  /** The publisher stopped or (re)started sending a layer. */
  | 'layers'
  /** Loss above the congestion threshold. */
  | 'congestion'
  /** The layer's bitrate exceeds the subscriber's bandwidth estimate. */
  | 'bandwidth'
  /** A cautious step up after a calm hold time. */
  | 'probe';

/** A new target layer. */
export interface LayerChange {
  /** Previous target spatial index (-1: none). */
  from: number;
  /** New target spatial index (-1: forward nothing). */
  to: number;
  /** Why. */
  reason: LayerChangeReason;
  /** Ask the publisher for a keyframe of layer `to` (true whenever `to` >= 0). */
  requestKeyframe: boolean;
}

/** Options of `LayerSelector`. */
export interface LayerSelectorOptions {
  /** The subscriber's wish at start. Default 'HD'. */
  quality?: VideoQuality;
  /** Highest frame height SD may get, in pixels. Default 360. */
  sdMaxHeight?: number;
  /** Highest frame height HD may get, in pixels. Default 720. */
  hdMaxHeight?: number;
  /** Highest spatial index SD may get when heights are unknown. Default 1. */
  sdMaxSpatial?: number;
  /** Highest spatial index HD may get when heights are unknown. Default 2. */
  hdMaxSpatial?: number;
  /** Loss fraction (0..1) in a receiver report above which the layer steps down. Default 0.10. */
  congestionLoss?: number;
  /** Highest loss fraction that still allows a step up. Default 0.02. */
  upgradeMaxLoss?: number;
  /** Calm time (no change, no congestion) before a step up, in ms. Default 3000. */
  upgradeHoldMs?: number;
  /** Least time between two loss-driven steps down, in ms (lets the first take effect). Default 1000. */
  downgradeHoldMs?: number;
  /** Fraction of the bandwidth estimate a layer may use when stepping up. Default 0.9. */
  headroom?: number;
}

/** Chooses the simulcast layer one subscriber gets of one track. */
export class LayerSelector {
  private layers: SimulcastLayer[] = [];
  private quality: VideoQuality;
  private paused = false;
  private resumed = false;
  private qualityChanged = false;
  private estimateBps = -1;
  private loss = 0;
  private targetLayer = -1;
  private lastChangeMs = Number.NEGATIVE_INFINITY;
  private lastDowngradeMs = Number.NEGATIVE_INFINITY;
  private lastCongestionMs = Number.NEGATIVE_INFINITY;
  private readonly sdMaxHeight: number;
  private readonly hdMaxHeight: number;
  private readonly sdMaxSpatial: number;
  private readonly hdMaxSpatial: number;
  private readonly congestionLoss: number;
  private readonly upgradeMaxLoss: number;
  private readonly upgradeHoldMs: number;
  private readonly downgradeHoldMs: number;
  private readonly headroom: number;

  constructor(options: LayerSelectorOptions = {}) {
    this.quality = options.quality ?? 'HD';
    this.sdMaxHeight = options.sdMaxHeight ?? 360;
    this.hdMaxHeight = options.hdMaxHeight ?? 720;
    this.sdMaxSpatial = options.sdMaxSpatial ?? 1;
    this.hdMaxSpatial = options.hdMaxSpatial ?? 2;
    this.congestionLoss = options.congestionLoss ?? 0.1;
    this.upgradeMaxLoss = options.upgradeMaxLoss ?? 0.02;
    this.upgradeHoldMs = options.upgradeHoldMs ?? 3000;
    this.downgradeHoldMs = options.downgradeHoldMs ?? 1000;
    this.headroom = options.headroom ?? 0.9;
  }

  /** Target spatial index (-1: forward nothing). */
  get target(): number {
    return this.targetLayer;
  }

  /** The subscriber's current wish. */
  get wanted(): VideoQuality {
    return this.quality;
  }

  /** The publisher's layers and their measured bitrates (replaces the previous list). */
  setLayers(layers: readonly SimulcastLayer[], nowMs: number): LayerChange | undefined {
    this.layers = [...layers].sort((a, b) => a.spatial - b.spatial);
    return this.update(nowMs);
  }

  /** The subscriber's SD/HD wish. */
  setQuality(quality: VideoQuality, nowMs: number): LayerChange | undefined {
    if (quality !== this.quality) {
      this.quality = quality;
      this.qualityChanged = true;
    }
    return this.update(nowMs);
  }

  /** The subscriber stops viewing the track (e.g. it scrolled off the gallery page). */
  pause(nowMs: number): LayerChange | undefined {
    this.paused = true;
    return this.update(nowMs);
  }

  /** The subscriber views the track again. */
  resume(nowMs: number): LayerChange | undefined {
    if (this.paused) {
      this.paused = false;
      this.resumed = true;
    }
    return this.update(nowMs);
  }

  /**
   * The subscriber's bandwidth estimate for this track, in bit/s: a REMB,
   * or the track's share of one (the caller splits a connection's estimate
   * between the tracks it carries).
   */
  onBandwidthEstimate(bitrateBps: number, nowMs: number): LayerChange | undefined {
    this.estimateBps = Math.max(0, bitrateBps);
    return this.update(nowMs);
  }

  /**
   * Loss the subscriber reported for this track's outgoing SSRC.
   * @param fraction 0..1 (a report block's `fractionLost / 256`)
   */
  onLoss(fraction: number, nowMs: number): LayerChange | undefined {
    this.loss = Math.min(1, Math.max(0, fraction));
    return this.update(nowMs);
  }

  /** Re-evaluates the target; the setters call this, and a caller may on a timer (for step-ups). */
  update(nowMs: number): LayerChange | undefined {
    const congested = this.loss > this.congestionLoss;
    if (congested) this.lastCongestionMs = nowMs;
    if (this.paused) return this.change(-1, 'pause', nowMs);
    const active = this.layers.filter((l) => l.bitrateBps > 0);
    const lowest = active[0];
    if (!lowest) return this.change(-1, 'layers', nowMs);
    const ceiling = this.ceiling(active, lowest);
    const budget = this.estimateBps < 0 ? Number.POSITIVE_INFINITY : this.estimateBps * this.headroom;
    const best = bestFitting(active, ceiling, budget, lowest);
    const current = active.find((l) => l.spatial === this.targetLayer);

    if (this.resumed) {
      this.resumed = false;
      return this.change(best, 'resume', nowMs);
    }
    if (this.targetLayer < 0) return this.change(best, 'start', nowMs);
    if (this.qualityChanged) {
      this.qualityChanged = false;
      return this.change(best, 'quality', nowMs);
    }
    if (!current) return this.change(best, 'layers', nowMs);
    if (current.spatial > ceiling) return this.change(best, 'quality', nowMs);
    if (congested && nowMs - this.lastDowngradeMs >= this.downgradeHoldMs) {
      const lower = [...active].reverse().find((l) => l.spatial < current.spatial);
      if (lower) {
        this.lastDowngradeMs = nowMs;
        return this.change(lower.spatial, 'congestion', nowMs);
      }
    }
    if (this.estimateBps >= 0 && current.bitrateBps > this.estimateBps && current.spatial > lowest.spatial) {
      this.lastDowngradeMs = nowMs;
      return this.change(bestFitting(active, current.spatial - 1, budget, lowest), 'bandwidth', nowMs);
    }
    if (
      current.spatial < ceiling &&
      nowMs - this.lastChangeMs >= this.upgradeHoldMs &&
      nowMs - this.lastCongestionMs >= this.upgradeHoldMs &&
      this.loss <= this.upgradeMaxLoss
    ) {
      const higher = active.find((l) => l.spatial > current.spatial && l.spatial <= ceiling);
      if (higher && higher.bitrateBps <= budget) return this.change(higher.spatial, 'probe', nowMs);
    }
    return undefined;
  }

  /** Highest active layer the wish allows; the lowest active one when it allows none. */
  private ceiling(active: readonly SimulcastLayer[], lowest: SimulcastLayer): number {
    const maxHeight = this.quality === 'SD' ? this.sdMaxHeight : this.hdMaxHeight;
    const maxSpatial = this.quality === 'SD' ? this.sdMaxSpatial : this.hdMaxSpatial;
    let ceiling = -1;
    for (const l of active) {
      const allowed = l.height !== undefined ? l.height <= maxHeight : l.spatial <= maxSpatial;
      if (allowed && l.spatial > ceiling) ceiling = l.spatial;
    }
    return ceiling < 0 ? lowest.spatial : ceiling;
  }

  private change(to: number, reason: LayerChangeReason, nowMs: number): LayerChange | undefined {
    if (to === this.targetLayer) return undefined;
    const from = this.targetLayer;
    this.targetLayer = to;
    this.lastChangeMs = nowMs;
    return { from, to, reason, requestKeyframe: to >= 0 };
  }
}

/** Highest active layer up to `ceiling` whose bitrate fits `budget`; the lowest active one when none fits. */
function bestFitting(active: readonly SimulcastLayer[], ceiling: number, budget: number, lowest: SimulcastLayer): number {
  let best = -1;
  for (const l of active) {
    if (l.spatial <= ceiling && l.bitrateBps <= budget && l.spatial > best) best = l.spatial;
  }
  return best < 0 ? lowest.spatial : best;
}

/**
 * Bitrate of a stream over a sliding window, from the bytes of its packets:
 * what `SimulcastLayer.bitrateBps` needs. Fixed buckets, no allocation per
 * packet. Reads low during the first window of a stream.
 */
export class BitrateMeter {
  private readonly bucketMs: number;
  private readonly bucketIds: Float64Array;
  private readonly bucketBytes: Float64Array;

  /**
   * @param windowMs averaging window in ms; default 1000
   * @param buckets resolution of the window; default 10
   */
  constructor(
    private readonly windowMs = 1000,
    private readonly buckets = 10,
  ) {
    this.bucketMs = windowMs / buckets;
    this.bucketIds = new Float64Array(buckets).fill(-1);
    this.bucketBytes = new Float64Array(buckets);
  }

  /** Counts one packet of `bytes` bytes arriving at `nowMs`. */
  add(bytes: number, nowMs: number): void {
    const id = Math.floor(nowMs / this.bucketMs);
    const slot = ((id % this.buckets) + this.buckets) % this.buckets;
    if (this.bucketIds[slot] !== id) {
      this.bucketIds[slot] = id;
      this.bucketBytes[slot] = 0;
    }
    this.bucketBytes[slot] = (this.bucketBytes[slot] as number) + bytes;
  }

  /** Bits per second over the last `windowMs` (the current bucket included). */
  bitrateBps(nowMs: number): number {
    const id = Math.floor(nowMs / this.bucketMs);
    let bytes = 0;
    for (let i = 0; i < this.buckets; i++) {
      const b = this.bucketIds[i] as number;
      if (b > id - this.buckets && b <= id) bytes += this.bucketBytes[i] as number;
    }
    return (bytes * 8 * 1000) / this.windowMs;
  }
}
