/**
 * A published track and the subscriptions to it: the werift adapter around
 * the forwarding core (@meetedge/media). A published track receives RTP from
 * its publisher (one werift track per simulcast layer), learns each layer's
 * SSRC and bitrate, detects keyframes from the codec header only, and hands
 * each packet to its subscriptions; a subscription decides (munger, layer
 * selector, pause) and sends a rewritten copy on its subscriber's sender.
 */
import type { StreamOrigin } from '@meetedge/cascade';
import type { ParticipantId } from '@meetedge/core';
import {
  BitrateMeter,
  KeyframeAction,
  KeyframeRequester,
  LayerSelector,
  MungeResult,
  NackResponder,
  RetransmissionCache,
  RtpMunger,
  SequenceUnwrapper,
  Vp8Munger,
  createVp8Descriptor,
  isH264Keyframe,
  readVp8Descriptor,
  spatialIndexOfRid,
  type LayerChange,
  type SimulcastLayer,
  type Vp8Descriptor,
} from '@meetedge/media';
import type { TrackInfo, TrackSource } from '@meetedge/signaling';
import type { MediaStreamTrack, RTCRtpSender, RTCRtpTransceiver, RtcpSrPacket, RtpPacket } from 'werift';
import { sendRemb } from '../webrtc/rtcp-feedback';
import { MAX_RTP_PAYLOAD, RtpOutput } from '../webrtc/rtp-output';
import type { TrafficCounters } from './bandwidth';
import type { MediaCounters } from './stats';

const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/** What a published track needs from the meeting it belongs to. */
export interface TrackHost {
  readonly counters: MediaCounters;
  /** The most a publisher may send on one video track, bit/s: advertised to it with REMB. */
  readonly maxPublishBps: number;
  /** The audio level of a participant's packet (RFC 6464: 0 loud … 127 silent). */
  onAudioLevel(participantId: ParticipantId, level: number, nowMs: number): void;
  now(): number;
}

interface Layer {
  readonly rid: string;
  readonly spatial: number;
  ssrc: number | undefined;
  /** Has sent since the last tick (a layer that stops is dropped from selection at the next tick). */
  active: boolean;
  readonly meter: BitrateMeter;
  readonly keyframes: KeyframeRequester;
  /** Extended sequence numbers of the layer's current SSRC, for loss. */
  readonly sequence: SequenceUnwrapper;
}

type Codec = 'opus' | 'vp8' | 'h264' | 'other';

function codecOfMime(mimeType: string): Codec {
  const mime = mimeType.toLowerCase();
  if (mime === 'audio/opus') return 'opus';
  if (mime === 'video/vp8') return 'vp8';
  if (mime === 'video/h264') return 'h264';
  return 'other';
}

export class PublishedTrack {
  readonly kind: 'audio' | 'video';
  /** The codec of the last packet (a publisher may send any negotiated one). */
  codec: Codec = 'other';
  readonly clockRate: number;
  /** Negotiated payload types of the publisher → codec. */
  private readonly codecByPayloadType = new Map<number, Codec>();
  private readonly layers: Layer[] = [];
  private readonly subscriptions = new Set<Subscription>();
  private readonly descriptor: Vp8Descriptor = createVp8Descriptor();
  private readonly unsubscribers: (() => void)[] = [];
  /** Recent packets of each video layer (by incoming SSRC), for subscribers' NACKs. */
  private readonly caches = new Map<number, RetransmissionCache>();
  /** Where an incoming packet is assembled (12-byte header, payload) before the cache copies it. */
  private readonly scratch = Buffer.alloc(12 + MAX_RTP_PAYLOAD);
  /** The cache of an incoming SSRC, for NackResponder. */
  readonly cacheFor = (ssrc: number): RetransmissionCache | undefined => this.caches.get(ssrc);
  /**
   * Where a relayed track came from: the cascade link it arrived by and the
   * media server where it entered the system. Undefined for a local publisher.
   */
  origin: StreamOrigin | undefined;
  closed = false;

  constructor(
    readonly trackId: string,
    readonly participantId: ParticipantId,
    readonly source: TrackSource,
    readonly transceiver: RTCRtpTransceiver,
    private readonly host: TrackHost,
    /** The path it arrives by, counted apart: the meeting's client traffic, or its cascade link's. */
    private readonly traffic: TrafficCounters,
  ) {
    this.kind = transceiver.kind === 'audio' ? 'audio' : 'video';
    for (const c of transceiver.codecs) this.codecByPayloadType.set(c.payloadType, codecOfMime(c.mimeType));
    this.codec = codecOfMime(transceiver.codecs[0]?.mimeType ?? '');
    this.clockRate = transceiver.codecs[0]?.clockRate ?? (this.kind === 'audio' ? 48000 : 90000);
    this.attach();
  }

  /** Receives from werift tracks: one per rid for simulcast, else one. Called again after renegotiation. */
  attach(): void {
    for (const track of this.transceiver.receiver.tracks) {
      const rid = track.rid ?? '';
      if (this.layers.some((l) => l.rid === rid)) continue;
      const layer: Layer = {
        rid,
        spatial: rid ? Math.max(0, spatialIndexOfRid(rid)) : 0,
        ssrc: track.ssrc,
        active: false,
        meter: new BitrateMeter(),
        keyframes: new KeyframeRequester(),
        sequence: new SequenceUnwrapper(),
      };
      this.layers.push(layer);
      this.layers.sort((a, b) => a.spatial - b.spatial);
      this.listen(track, layer);
    }
  }

  private listen(track: MediaStreamTrack, layer: Layer): void {
    const { unSubscribe } = track.onReceiveRtp.subscribe((packet, extensions) => {
      const nowMs = this.host.now();
      const bytes = packet.payload.length + 12;
      const counters = this.host.counters;
      counters.packetsIn++;
      counters.bytesIn += bytes;
      const traffic = this.traffic;
      traffic.packetsIn++;
      traffic.bytesIn += bytes;
      // RFC 3550 loss, expected − received, kept as a running sum: a gap of k
      // adds k, a late packet (or a duplicate) takes one back.
      const highest = layer.sequence.highest;
      const extended = layer.sequence.unwrap(packet.header.sequenceNumber);
      if (highest !== undefined) counters.packetsLostIn += Math.max(0, extended - highest) - 1;
      layer.meter.add(bytes, nowMs);
      if (layer.ssrc !== packet.header.ssrc || !layer.active) {
        // A layer starts (or its SSRC changed): subscriptions choose again now,
        // before this packet, so a keyframe that starts the layer is not lost.
        if (layer.ssrc !== undefined && layer.ssrc !== packet.header.ssrc) {
          this.caches.delete(layer.ssrc);
          layer.sequence.reset();
        }
        layer.ssrc = packet.header.ssrc;
        layer.active = true;
        this.layersChanged(nowMs);
      }
      this.codec = this.codecByPayloadType.get(packet.header.payloadType) ?? this.codec;
      let keyframe = true;
      let descriptor: Vp8Descriptor | undefined;
      let audioLevel: number | undefined;
      if (this.kind === 'audio') {
        const level = (extensions?.[AUDIO_LEVEL_URI] as { level?: number } | undefined)?.level;
        if (typeof level === 'number') {
          audioLevel = level;
          this.host.onAudioLevel(this.participantId, level, nowMs);
        }
      } else if (this.codec === 'vp8') {
        descriptor = readVp8Descriptor(packet.payload, 0, packet.payload.length, this.descriptor);
        keyframe = descriptor?.isKeyframe ?? false;
      } else if (this.codec === 'h264') {
        keyframe = isH264Keyframe(packet.payload, 0, packet.payload.length);
      } else {
        keyframe = false;
      }
      if (this.kind === 'video') {
        if (keyframe) layer.keyframes.onKeyframe();
        this.remember(packet, nowMs);
      }
      for (const subscription of this.subscriptions) {
        subscription.forward(packet, keyframe, descriptor, nowMs, audioLevel);
      }
    });
    this.unsubscribers.push(unSubscribe);
  }

  /** Keeps a copy of a video packet for retransmission (audio is not NACKed). */
  private remember(packet: RtpPacket, nowMs: number): void {
    const { header, payload } = packet;
    if (payload.length > MAX_RTP_PAYLOAD) return;
    let cache = this.caches.get(header.ssrc);
    if (!cache) {
      cache = new RetransmissionCache();
      this.caches.set(header.ssrc, cache);
    }
    const scratch = this.scratch;
    scratch[0] = 0x80;
    scratch[1] = (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f);
    scratch.writeUInt16BE(header.sequenceNumber, 2);
    scratch.writeUInt32BE(header.timestamp >>> 0, 4);
    scratch.writeUInt32BE(header.ssrc >>> 0, 8);
    scratch.set(payload, 12);
    cache.put(scratch, nowMs, 12 + payload.length);
  }

  private lastRembMs = Number.NEGATIVE_INFINITY;

  /**
   * Once a second, tells a video publisher the most it may send (REMB), so a
   * browser ramps up to its top simulcast layer in seconds instead of probing
   * up from receiver reports alone (~20 s to 720p without it). The sender's
   * own loss-based control still backs off under loss. Lowering the figure
   * from a receive-side estimate is later work.
   */
  private advertiseBitrate(nowMs: number): void {
    if (this.kind !== 'video' || nowMs - this.lastRembMs < 1000) return;
    const ssrcs = this.layers.map((l) => l.ssrc).filter((s): s is number => s !== undefined);
    if (ssrcs.length === 0) return;
    this.lastRembMs = nowMs;
    void sendRemb(this.transceiver.receiver, ssrcs, this.host.maxPublishBps).catch(() => undefined);
  }

  /** The SSRC of a single-layer track (its only, or lowest, layer). */
  get primarySsrc(): number | undefined {
    return this.layers[0]?.ssrc;
  }

  /** Layers that are sending, for layer selection. */
  simulcastLayers(nowMs: number): SimulcastLayer[] {
    return this.layers
      .filter((l) => l.ssrc !== undefined && l.active)
      .map((l) => ({ spatial: l.spatial, rid: l.rid || undefined, bitrateBps: Math.max(1, l.meter.bitrateBps(nowMs)) }));
  }

  /** True when the publisher sends simulcast (subscriptions then choose a layer). */
  get simulcast(): boolean {
    return this.layers.length > 1;
  }

  /**
   * Periodic upkeep (every ~200 ms): layers that went quiet stop being
   * candidates, and each subscription's layer choice follows bitrates,
   * loss and its calm-time probing.
   */
  tick(nowMs: number): void {
    this.advertiseBitrate(nowMs);
    let changed = false;
    for (const layer of this.layers) {
      const active = layer.meter.bitrateBps(nowMs) > 0;
      if (active !== layer.active) {
        layer.active = active;
        changed = true;
      }
    }
    // Quiet matters for simulcast choice only: a single-layer track that pauses
    // (a static screen share) keeps its subscribers, who need no new keyframe.
    if (changed && this.simulcast) this.layersChanged(nowMs);
    for (const subscription of this.subscriptions) subscription.tick(nowMs);
  }

  ssrcOfSpatial(spatial: number): number | undefined {
    return this.layers.find((l) => l.spatial === spatial)?.ssrc;
  }

  info(): TrackInfo {
    return {
      trackId: this.trackId,
      participantId: this.participantId,
      source: this.source,
      kind: this.kind,
      layers: this.layers.filter((l) => l.rid).map((l) => l.rid),
    };
  }

  /** Asks the publisher for a keyframe of the layer with `ssrc`, at most once per interval. */
  requestKeyframe(ssrc: number, nowMs: number): void {
    const layer = this.layers.find((l) => l.ssrc === ssrc);
    if (!layer) return;
    const action = layer.keyframes.request(nowMs);
    // werift has no FIR API; a PLI asks for the same thing.
    if (action === KeyframeAction.None) return;
    this.host.counters.plisSent++;
    void this.transceiver.receiver.sendRtcpPLI(ssrc).catch(() => undefined);
  }

  add(subscription: Subscription): void {
    this.subscriptions.add(subscription);
    subscription.layersChanged(this.simulcastLayers(this.host.now()));
  }

  remove(subscription: Subscription): void {
    this.subscriptions.delete(subscription);
  }

  private layersChanged(nowMs: number): void {
    const layers = this.simulcastLayers(nowMs);
    for (const subscription of this.subscriptions) subscription.layersChanged(layers);
  }

  /** Stops receiving; subscriptions are closed by the meeting. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.subscriptions.clear();
  }
}

/**
 * One receive slot of a subscriber carrying one published track (video), or
 * whichever loud speaker owns it (audio: a subscriber has N audio slots and
 * the meeting binds them to the N loudest others, so it never receives more
 * than N audio streams). Outgoing sequence numbers and
 * timestamps stay continuous across layer switches and owner changes.
 */
export class Subscription {
  private munger: RtpMunger;
  private readonly vp8 = new Vp8Munger();
  private readonly descriptor: Vp8Descriptor = createVp8Descriptor();
  private readonly output: RtpOutput;
  private readonly nacks = new NackResponder();
  private selector: LayerSelector | undefined;
  private track: PublishedTrack | undefined;
  paused = false;

  constructor(
    readonly subscriberId: ParticipantId,
    readonly mid: string,
    readonly kind: 'audio' | 'video',
    private readonly transceiver: RTCRtpTransceiver,
    private readonly host: TrackHost,
    /** The path it sends on, counted apart: the meeting's client traffic, or its cascade link's. */
    private readonly traffic: TrafficCounters,
    /** The subscriber's wish for a track (pause, SD/HD); it follows the track, not the slot. */
    private readonly wishOf: (trackId: string) => { paused: boolean; quality: 'SD' | 'HD' },
  ) {
    this.munger = new RtpMunger({ ssrc: transceiver.sender.ssrc, clockRate: kind === 'audio' ? 48000 : 90000 });
    this.output = new RtpOutput(transceiver);
  }

  private get sender(): RTCRtpSender {
    return this.transceiver.sender;
  }

  /** The SSRC this slot's packets carry. */
  get ssrc(): number {
    return this.transceiver.sender.ssrc;
  }

  get trackId(): string | undefined {
    return this.track?.trackId;
  }

  get publisherId(): ParticipantId | undefined {
    return this.track?.participantId;
  }

  /** Binds the slot to a track (or frees it with undefined), with the subscriber's wish for that track. */
  bind(track: PublishedTrack | undefined): void {
    if (this.track === track) return;
    this.track?.remove(this);
    this.track = track;
    if (!track) {
      this.munger.setTarget(undefined);
      return;
    }
    if (this.munger.clockRate !== track.clockRate) {
      this.munger = new RtpMunger({ ssrc: this.sender.ssrc, clockRate: track.clockRate });
    }
    const wish = this.wishOf(track.trackId);
    this.paused = wish.paused;
    if (this.kind === 'video') {
      this.selector = new LayerSelector({ quality: wish.quality });
      if (wish.paused) this.selector.pause(this.host.now());
    }
    track.add(this);
  }

  /** The publisher's layers changed (first packets of a layer, or a layer stopped). */
  layersChanged(layers: SimulcastLayer[]): void {
    const nowMs = this.host.now();
    const track = this.track;
    if (!track) return;
    if (!this.selector || !track.simulcast) {
      // One layer (audio, or video without simulcast): forward it unless paused.
      const ssrc = this.paused ? undefined : track.primarySsrc;
      if (ssrc === this.munger.target) return;
      this.munger.setTarget(ssrc);
      if (ssrc !== undefined && this.kind === 'video') track.requestKeyframe(ssrc, nowMs);
      return;
    }
    this.apply(this.selector.setLayers(layers, nowMs), nowMs);
  }

  /** Periodic layer upkeep (simulcast only). */
  tick(nowMs: number): void {
    if (this.selector && this.track?.simulcast) this.apply(this.selector.update(nowMs), nowMs);
  }

  /** Pause/resume and SD/HD from the subscriber. */
  configure(paused: boolean, quality: 'SD' | 'HD'): void {
    const nowMs = this.host.now();
    const wasPaused = this.paused;
    this.paused = paused;
    const track = this.track;
    const selector = this.selector;
    if (!selector || !track?.simulcast) {
      // Remember the wish for when the publisher turns simulcast on.
      selector?.setQuality(quality, nowMs);
      if (track) this.layersChanged(track.simulcastLayers(nowMs));
      return;
    }
    if (paused && !wasPaused) this.apply(selector.pause(nowMs), nowMs);
    if (!paused && wasPaused) this.apply(selector.resume(nowMs), nowMs);
    this.apply(selector.setQuality(quality, nowMs), nowMs);
  }

  private apply(change: LayerChange | undefined, nowMs: number): void {
    if (!change || !this.track) return;
    const ssrc = change.to >= 0 ? this.track.ssrcOfSpatial(change.to) : undefined;
    this.munger.setTarget(ssrc);
    if (ssrc !== undefined && change.requestKeyframe) this.track.requestKeyframe(ssrc, nowMs);
  }

  /** A subscriber's keyframe request (PLI), relayed to the publisher of what it gets now. */
  onKeyframeRequest(): void {
    const target = this.munger.target;
    this.host.counters.plisReceived++;
    if (this.track && target !== undefined) this.track.requestKeyframe(target, this.host.now());
  }

  forward(packet: RtpPacket, keyframe: boolean, descriptor: Vp8Descriptor | undefined, nowMs: number, audioLevel?: number): void {
    const counters = this.host.counters;
    const track = this.track;
    if (!track || this.paused) {
      counters.packetsDropped++;
      return;
    }
    const header = packet.header;
    const result = this.munger.process(header.ssrc, header.sequenceNumber, header.timestamp, keyframe, nowMs);
    if (result !== MungeResult.Forward) {
      counters.packetsDropped++;
      if (result === MungeResult.DropAwaitingSwitchPoint && this.munger.target !== undefined) {
        track.requestKeyframe(this.munger.target, nowMs);
      }
      return;
    }
    const payload = packet.payload;
    if (payload.length > MAX_RTP_PAYLOAD) {
      counters.packetsDropped++;
      return;
    }
    // The subscriber's own copy, written once into its output: payload, then
    // the VP8 picture id continued across switches, then the header on send.
    const output = this.output;
    const buf = output.buffer;
    const at = output.headerLength;
    buf.set(payload, at);
    if (descriptor) {
      const own = readVp8Descriptor(buf, at, payload.length, this.descriptor);
      if (own) this.vp8.rewrite(buf, own, this.munger.segment);
    }
    if (!output.send(header.marker, this.payloadType(track.codec), this.munger.sequenceNumber, this.munger.timestamp, payload.length, audioLevel)) {
      counters.packetsDropped++;
      return;
    }
    const bytes = payload.length + 12;
    counters.packetsOut++;
    counters.bytesOut += bytes;
    const traffic = this.traffic;
    traffic.packetsOut++;
    traffic.bytesOut += bytes;
  }

  /**
   * A subscriber's NACK: the packets it lost, from the publisher's recent
   * packets (each rewritten as this subscriber first got it), resent.
   */
  onNack(lost: readonly number[]): void {
    const track = this.track;
    const counters = this.host.counters;
    counters.nacksReceived++;
    if (!track || this.kind !== 'video') return;
    const nowMs = this.host.now();
    const packets = this.nacks.respond(lost, lost.length, this.munger, track.cacheFor, nowMs, track.codec === 'vp8' ? this.vp8 : undefined);
    const payloadType = this.payloadType(track.codec);
    for (const packet of packets) {
      if (this.output.resend(packet, 12, payloadType)) counters.packetsRetransmitted++;
    }
  }

  private reportedLost = 0;

  /** The sender report of this slot's stream, if it sent since the last one. */
  senderReport(): RtcpSrPacket | undefined {
    return this.output.senderReport();
  }

  /**
   * The subscriber's receiver report for this slot: `cumulativeLost` (the
   * report's running count) goes to the stats, `fraction` (0..1, since its
   * last report) lowers the layer.
   */
  onReceiverReport(fraction: number, cumulativeLost: number): void {
    this.host.counters.packetsLostOut += cumulativeLost - this.reportedLost;
    this.reportedLost = cumulativeLost;
    this.onLoss(fraction);
  }

  private onLoss(fraction: number): void {
    if (this.selector && this.track?.simulcast) {
      const nowMs = this.host.now();
      this.apply(this.selector.onLoss(fraction, nowMs), nowMs);
    }
  }

  /** This slot's share of the subscriber's bandwidth estimate (REMB), bit/s. */
  onBandwidthEstimate(bitrateBps: number): void {
    if (this.selector && this.track?.simulcast) {
      const nowMs = this.host.now();
      this.apply(this.selector.onBandwidthEstimate(bitrateBps, nowMs), nowMs);
    }
  }

  /** True while this slot carries video (it then shares the subscriber's estimate). */
  get receivingVideo(): boolean {
    return this.kind === 'video' && this.track !== undefined && !this.paused;
  }

  /**
   * The subscriber's payload type for `codec` (what it negotiated; werift's
   * sender keeps its codec for the sender reports and stats).
   */
  private payloadType(codec: Codec): number {
    // Per packet: answer from the last lookup while the codec and the sender's codec stay the same.
    const current = this.sender.codec;
    if (codec === this.ptCodec && current === this.ptSenderCodec) return this.pt;
    let chosen = current;
    if (!current || codecOfMime(current.mimeType) !== codec) {
      const match = this.transceiver.codecs.find((c) => codecOfMime(c.mimeType) === codec);
      if (match) this.sender.codec = match;
      chosen = match ?? current;
    }
    this.ptCodec = codec;
    this.ptSenderCodec = this.sender.codec;
    this.pt = chosen?.payloadType ?? 0;
    return this.pt;
  }

  private ptCodec: Codec | undefined;
  private ptSenderCodec: unknown;
  private pt = 0;

  close(): void {
    this.bind(undefined);
  }
}
