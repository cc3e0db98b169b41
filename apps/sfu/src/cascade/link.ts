/**
 * One cascade link (cascade.proto): a werift connection between two media
 * servers for one meeting, carrying every stream that crosses it exactly
 * once, in both directions. To the meeting a link is one more destination of
 * the fan-out (a MeetingLink: it is offered every track it did not bring) and
 * the streams it brings are published like a local participant's tracks, by
 * participants that look local (RemoteParticipant).
 *
 * Negotiation: only the opener offers. It sends a section per stream it sends
 * (send-only) and as many receive-only sections as the answerer asked for
 * (`slots_wanted`); the answerer sends on those. A side that starts sending a
 * stream on a section says so with `announce` (what the stream is) and
 * `bound` (its mid), and `unbound` when it stops; the receiver then
 * publishes or unpublishes the stream. Sections are reused, never removed.
 *
 * Loops: a link never sends a stream that came by it, nor one whose path
 * (`via_server_ids`) already holds the server at its other end; a received
 * announcement whose path holds this server is dropped.
 */
import { mayCross, mayEnter, pathOnward, streamKey, type LinkScope } from '@meetedge/cascade';
import { MeetedgeError, ParticipantId } from '@meetedge/core';
import { v1 } from '@meetedge/proto';
import type { Logger } from '@meetedge/service-kit';
import type { TrackSource } from '@meetedge/signaling';
import { ConnectionReporter } from '@meetedge/werift-kit';
import type { RTCPeerConnection, RTCRtpTransceiver } from 'werift';
import { zeroTraffic, type TrafficCounters } from '../media/bandwidth';
import type { Meeting, MeetingLink } from '../media/meeting';
import { offererReceives, offererSends, scanOffer } from '../media/sdp';
import { PublishedTrack, Subscription } from '../media/track';
import { gathered } from '../webrtc/gathering';

type Kind = 'audio' | 'video';

const KIND_OF_SOURCE: Record<TrackSource, v1.MediaKind> = {
  microphone: v1.MediaKind.AUDIO,
  camera: v1.MediaKind.VIDEO,
  screen: v1.MediaKind.SCREEN,
};

const SOURCE_OF_KIND: Partial<Record<v1.MediaKind, TrackSource>> = {
  [v1.MediaKind.AUDIO]: 'microphone',
  [v1.MediaKind.VIDEO]: 'camera',
  [v1.MediaKind.SCREEN]: 'screen',
};

/** A link subscribes to the best layer: the far side chooses for its own subscribers. */
const LINK_WISH = { paused: false, quality: 'HD' } as const;

export type LinkRole = 'opener' | 'answerer';

export interface CascadeLinkOptions {
  readonly linkId: string;
  readonly role: LinkRole;
  readonly meeting: Meeting;
  /** This media server's module id. */
  readonly serverId: string;
  /** The module id of the server at the other end. */
  readonly peerServerId: string;
  /** North-south (one end is the cloud MMR: its media leaves the company network) or east-west; bandwidth.ts, linkScope. */
  readonly scope: LinkScope;
  readonly pc: RTCPeerConnection;
  readonly logger: Logger;
}

/**
 * Bytes and streams a link carries, for the bandwidth accounting: packets
 * and bytes since it opened (RTP header and payload, as TrafficCounters),
 * streams now.
 */
export interface LinkStats extends Readonly<TrafficCounters> {
  readonly linkId: string;
  readonly meetingId: string;
  readonly peerServerId: string;
  readonly role: LinkRole;
  readonly scope: LinkScope;
  readonly streamsOut: number;
  readonly streamsIn: number;
}

/** One of this side's sending sections. */
interface SendSlot {
  readonly mid: string;
  readonly kind: Kind;
  readonly subscription: Subscription;
  track: PublishedTrack | undefined;
}

function refKey(ref: v1.StreamRef | undefined): string {
  return streamKey(ref?.originServerId ?? '', ref?.streamId ?? '');
}

export class CascadeLink implements MeetingLink {
  readonly linkId: string;
  readonly role: LinkRole;
  readonly scope: LinkScope;
  /** What the link moved, bumped by its sending sections' subscriptions and the tracks it brings. */
  readonly traffic: TrafficCounters = zeroTraffic();
  readonly meeting: Meeting;
  private readonly pc: RTCPeerConnection;
  private readonly logger: Logger;
  private readonly slots = new Map<string, SendSlot>();
  /** Tracks to send, in the order they were offered, bound or waiting for a slot. */
  private readonly outgoing = new Map<string, PublishedTrack>();
  /** What the far side announced, by stream. */
  private readonly announced = new Map<string, v1.StreamInfo>();
  /** The far side's streams being received, by mid. */
  private readonly incoming = new Map<string, PublishedTrack>();
  /** Receive sections the answerer asked the opener for, per kind (opener side). */
  private readonly wanted: Record<Kind, number> = { audio: 0, video: 0 };
  private negotiating: Promise<unknown> = Promise.resolve();
  private renegotiationQueued = false;
  private control: ((message: v1.CascadeControl) => void) | undefined;
  private readonly pendingControl: v1.CascadeControl[] = [];
  /** Opener: sends an offer to the answerer and resolves with its answer. */
  private exchange: ((sdp: string) => Promise<string>) | undefined;
  private answerWaiter: { resolve: (sdp: string) => void; reject: (err: Error) => void } | undefined;
  private readonly closedHandlers: ((link: CascadeLink) => void)[] = [];
  /** The link's RTCP report about once a second: its sections' sender reports with what it received. */
  private readonly reporter: ConnectionReporter;
  /** Why the link closed, once it has. */
  closeReason: string | undefined;
  closed = false;

  constructor(private readonly options: CascadeLinkOptions) {
    this.linkId = options.linkId;
    this.role = options.role;
    this.scope = options.scope;
    this.meeting = options.meeting;
    this.pc = options.pc;
    this.logger = options.logger.child({
      linkId: options.linkId,
      meetingId: options.meeting.meetingId,
      peerServerId: options.peerServerId,
      role: options.role,
      scope: options.scope,
    });
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed' || state === 'closed') this.close(`media connection ${state}`);
    });
    this.reporter = new ConnectionReporter(this.pc, () => [...this.slots.values()].map((slot) => slot.subscription));
  }

  // ── The meeting's side ─────────────────────────────────────────────────

  offerTrack(track: PublishedTrack): void {
    if (this.closed || !this.sendable(track) || this.outgoing.has(track.trackId)) return;
    this.outgoing.set(track.trackId, track);
    this.bindOutgoing();
  }

  withdrawTrack(track: PublishedTrack): void {
    if (!this.outgoing.delete(track.trackId)) return;
    for (const slot of this.slots.values()) {
      if (slot.track !== track) continue;
      slot.subscription.bind(undefined);
      slot.track = undefined;
      this.sendControl({ kind: { $case: 'unbound', value: { stream: this.refOf(track), mid: slot.mid } } });
    }
    // A freed section takes a stream that was waiting for one.
    this.bindOutgoing();
  }

  /** A stream goes over this link unless it came by it or has already been where the link leads. */
  private sendable(track: PublishedTrack): boolean {
    return mayCross(track.origin, { linkId: this.linkId, peerServerId: this.options.peerServerId });
  }

  // ── Negotiation ────────────────────────────────────────────────────────

  /**
   * Opener: the first offer, sent with `exchange` (the OpenLink call); later
   * offers go over the control channel.
   */
  start(exchange: (sdp: string) => Promise<string>): Promise<void> {
    if (this.role !== 'opener') throw new Error('only the opener starts a link');
    this.exchange = exchange;
    return this.renegotiate();
  }

  /** Opener: adds the sections that are missing and offers again. Negotiations run one at a time. */
  private renegotiate(): Promise<void> {
    const run = this.negotiating.then(async () => {
      this.renegotiationQueued = false;
      if (this.closed) return;
      const exchange = this.exchange;
      if (!exchange) return;
      this.addOpenerSections();
      this.logger.debug({ wanted: this.wanted, transceivers: this.pc.getTransceivers().length }, 'cascade offer');
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      await gathered(this.pc);
      const answer = await exchange(this.pc.localDescription?.sdp ?? offer.sdp);
      if (this.closed) return;
      await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
      // Later offers travel on the control channel.
      this.exchange = (sdp) => this.offerOverControl(sdp);
      this.bindOutgoing();
    });
    this.negotiating = run.catch((err: unknown) => this.close(`negotiation failed: ${(err as Error).message}`));
    return run;
  }

  private queueRenegotiation(): void {
    if (this.renegotiationQueued || this.role !== 'opener' || this.closed) return;
    this.renegotiationQueued = true;
    void this.renegotiate().catch(() => undefined);
  }

  /** Opener: a send-only section per stream without one, and the receive-only sections the answerer wants. */
  private addOpenerSections(): void {
    const needed: Record<Kind, number> = { audio: 0, video: 0 };
    for (const track of this.outgoing.values()) if (!this.slotOf(track)) needed[track.kind]++;
    for (const kind of ['audio', 'video'] as const) {
      const free = [...this.slots.values()].filter((s) => s.kind === kind && !s.track).length;
      for (let i = free; i < needed[kind]; i++) {
        const transceiver = this.pc.addTransceiver(kind, { direction: 'sendonly' });
        this.pendingSendSections.push({ transceiver, kind });
      }
      const receiving = this.pc.getTransceivers().filter((t) => t.kind === kind && t.direction === 'recvonly').length;
      for (let i = receiving; i < this.wanted[kind]; i++) this.pc.addTransceiver(kind, { direction: 'recvonly' });
    }
    // An offer needs a media section: with nothing to send yet, one to receive the answerer's first audio stream.
    if (this.pc.getTransceivers().length === 0) this.pc.addTransceiver('audio', { direction: 'recvonly' });
  }

  /** Opener's send-only sections added for the next offer; they become slots once it is answered (mids are set then). */
  private readonly pendingSendSections: { transceiver: RTCRtpTransceiver; kind: Kind }[] = [];

  private offerOverControl(sdp: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.answerWaiter = { resolve, reject };
      this.sendControl({ kind: { $case: 'offer', value: { sdp } } });
    });
  }

  /** Answerer: applies an offer (OpenLink's, or a later one) and returns the answer. */
  answer(sdp: string): Promise<string> {
    if (this.role !== 'answerer') throw new Error('only the answerer answers');
    const run = this.negotiating.then(async () => {
      if (this.closed) throw new MeetedgeError('UNAVAILABLE', 'the link closed');
      const sections = scanOffer(sdp);
      try {
        await this.pc.setRemoteDescription({ type: 'offer', sdp });
      } catch (err) {
        throw new MeetedgeError('INVALID_ARGUMENT', `invalid SDP: ${(err as Error).message}`);
      }
      const byMid = new Map(sections.map((s) => [s.mid, s]));
      for (const transceiver of this.pc.getTransceivers()) {
        const section = transceiver.mid == null ? undefined : byMid.get(transceiver.mid);
        if (!section || offererSends(section)) continue;
        if (offererReceives(section) && (section.kind === 'audio' || section.kind === 'video')) {
          transceiver.setDirection('sendonly');
          this.addSlot(transceiver, section.kind);
        }
      }
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      await gathered(this.pc);
      return this.pc.localDescription?.sdp ?? answer.sdp;
    });
    this.negotiating = run.catch(() => undefined);
    void run.then(() => this.bindOutgoing()).catch(() => undefined);
    return run;
  }

  private addSlot(transceiver: RTCRtpTransceiver, kind: Kind): void {
    const mid = transceiver.mid;
    if (mid == null || this.slots.has(mid)) return;
    const subscription = new Subscription(ParticipantId(`link-${this.linkId}`), mid, kind, transceiver, this.meeting, this.traffic, () => LINK_WISH);
    const sender = transceiver.sender;
    sender.onPictureLossIndication.subscribe(() => subscription.onKeyframeRequest());
    sender.onGenericNack.subscribe((nack) => subscription.onNack(nack.lost));
    this.slots.set(mid, { mid, kind, subscription, track: undefined });
  }

  private slotOf(track: PublishedTrack): SendSlot | undefined {
    for (const slot of this.slots.values()) if (slot.track === track) return slot;
    return undefined;
  }

  /**
   * Puts every waiting stream on a free section of its kind, announcing it.
   * Short of sections, the opener offers more, the answerer asks for more.
   */
  private bindOutgoing(): void {
    if (this.closed) return;
    // The opener's new sections have mids once their offer was answered.
    for (const pending of this.pendingSendSections.splice(0)) {
      if (pending.transceiver.mid == null) this.pendingSendSections.push(pending);
      else this.addSlot(pending.transceiver, pending.kind);
    }
    const short: Record<Kind, number> = { audio: 0, video: 0 };
    for (const track of this.outgoing.values()) {
      if (this.slotOf(track)) continue;
      const slot = [...this.slots.values()].find((s) => s.kind === track.kind && !s.track);
      if (!slot) {
        short[track.kind]++;
        continue;
      }
      slot.track = track;
      slot.subscription.bind(track);
      this.sendControl({ kind: { $case: 'announce', value: { streams: [this.infoOf(track)] } } });
      this.sendControl({ kind: { $case: 'bound', value: { stream: this.refOf(track), mid: slot.mid, ssrc: slot.subscription.ssrc } } });
    }
    if (short.audio + short.video === 0) return;
    if (this.role === 'opener') {
      if (!this.exchange) return; // the first offer is on its way and carries them
      this.queueRenegotiation();
    } else {
      const total = (kind: Kind) => [...this.slots.values()].filter((s) => s.kind === kind).length + short[kind];
      this.sendControl({ kind: { $case: 'slotsWanted', value: { audio: total('audio'), video: total('video') } } });
    }
  }

  private refOf(track: PublishedTrack): v1.StreamRef {
    return { streamId: track.trackId, originServerId: track.origin?.serverId ?? this.options.serverId };
  }

  private infoOf(track: PublishedTrack): v1.StreamInfo {
    const participantId = track.participantId;
    const displayName = this.meeting.participants.get(participantId)?.displayName ?? this.meeting.remote.get(participantId)?.displayName ?? participantId;
    return {
      ref: this.refOf(track),
      participantId,
      kind: KIND_OF_SOURCE[track.source],
      codec: track.kind === 'audio' ? 'audio/opus' : `video/${track.codec.toUpperCase()}`,
      maxQuality: v1.Quality.HD,
      spatialLayers: 1,
      viaServerIds: pathOnward(track.origin, this.options.serverId),
      muted: false,
      displayName,
    };
  }

  // ── Control channel ────────────────────────────────────────────────────

  /** Binds the control channel; messages sent before are delivered now, in order. */
  attachControl(send: (message: v1.CascadeControl) => void): void {
    this.control = send;
    for (const message of this.pendingControl.splice(0)) send(message);
  }

  private sendControl(message: v1.CascadeControl): void {
    if (this.closed) return;
    this.logger.debug({ kind: message.kind?.$case, attached: this.control !== undefined }, 'cascade control out');
    if (this.control) this.control(message);
    else this.pendingControl.push(message);
  }

  /** A message from the other side's control channel. Malformed ones are logged and ignored. */
  onControl(message: v1.CascadeControl): void {
    if (this.closed) return;
    const kind = message.kind;
    this.logger.debug({ kind: kind?.$case }, 'cascade control in');
    try {
      switch (kind?.$case) {
        // A stream bound to a section is received once the negotiation that made the section is applied here.
        case 'announce':
          return this.afterNegotiation(() => {
            for (const info of kind.value.streams) this.onAnnounce(info);
          });
        case 'bound':
          return this.afterNegotiation(() => this.onBound(kind.value));
        case 'unbound':
          return this.afterNegotiation(() => this.onUnbound(kind.value));
        case 'offer':
          if (this.role !== 'answerer') throw new MeetedgeError('INVALID_ARGUMENT', 'only the opener offers');
          void this.answer(kind.value.sdp).then(
            (sdp) => this.sendControl({ kind: { $case: 'answer', value: { sdp } } }),
            (err: unknown) => this.close(`renegotiation failed: ${(err as Error).message}`),
          );
          return;
        case 'answer': {
          const waiter = this.answerWaiter;
          this.answerWaiter = undefined;
          waiter?.resolve(kind.value.sdp);
          return;
        }
        case 'slotsWanted':
          if (this.role !== 'opener') throw new MeetedgeError('INVALID_ARGUMENT', 'only the answerer asks for sections');
          this.wanted.audio = Math.min(Math.max(this.wanted.audio, kind.value.audio), 256);
          this.wanted.video = Math.min(Math.max(this.wanted.video, kind.value.video), 256);
          this.queueRenegotiation();
          return;
        case 'requestKeyframe': {
          const track = [...this.outgoing.values()].find((t) => refKey(this.refOf(t)) === refKey(kind.value.stream));
          if (track) this.slotOf(track)?.subscription.onKeyframeRequest();
          return;
        }
        default:
          this.logger.debug({ kind: kind?.$case }, 'cascade control message not acted on');
      }
    } catch (err) {
      this.logger.warn({ err, kind: kind?.$case }, 'cascade control message refused');
    }
  }

  /** Runs `step` after the negotiation in flight (in arrival order); a refusal is logged. */
  private afterNegotiation(step: () => void): void {
    this.negotiating = this.negotiating.then(() => {
      if (this.closed) return;
      try {
        step();
      } catch (err) {
        this.logger.warn({ err }, 'cascade control message refused');
      }
    });
  }

  private onAnnounce(info: v1.StreamInfo): void {
    if (!mayEnter(info.viaServerIds, this.options.serverId)) {
      this.logger.debug({ stream: refKey(info.ref) }, 'announcement that already crossed this server: dropped (loop)');
      return;
    }
    this.announced.set(refKey(info.ref), info);
  }

  private onBound(bound: v1.StreamBound): void {
    const info = this.announced.get(refKey(bound.stream));
    if (!info || !bound.stream) throw new MeetedgeError('INVALID_ARGUMENT', `bound: stream ${refKey(bound.stream)} was not announced`);
    const transceiver = this.pc.getTransceivers().find((t) => t.mid === bound.mid);
    if (!transceiver || this.slots.has(bound.mid)) throw new MeetedgeError('INVALID_ARGUMENT', `bound: no receiving section ${bound.mid}`);
    const source = SOURCE_OF_KIND[info.kind];
    if (!source) throw new MeetedgeError('INVALID_ARGUMENT', `bound: stream ${refKey(bound.stream)} has no kind`);
    this.unpublishIncoming(bound.mid);
    const participantId = ParticipantId(info.participantId);
    this.meeting.addRemote({ participantId, displayName: info.displayName || info.participantId, linkId: this.linkId });
    const track = new PublishedTrack(bound.stream.streamId, participantId, source, transceiver, this.meeting, this.traffic);
    track.origin = { linkId: this.linkId, serverId: bound.stream.originServerId, via: info.viaServerIds };
    this.incoming.set(bound.mid, track);
    this.meeting.publish(track);
  }

  private onUnbound(unbound: v1.StreamUnbound): void {
    const track = this.incoming.get(unbound.mid);
    if (!track || refKey(this.refOf(track)) !== refKey(unbound.stream)) return;
    this.unpublishIncoming(unbound.mid);
    this.announced.delete(refKey(unbound.stream));
    // A participant with nothing left on this link has left (as seen from here).
    const still = [...this.incoming.values()].some((t) => t.participantId === track.participantId);
    if (!still) this.meeting.removeRemote(track.participantId);
  }

  private unpublishIncoming(mid: string): void {
    const previous = this.incoming.get(mid);
    if (!previous) return;
    this.incoming.delete(mid);
    this.meeting.unpublish(previous);
  }

  // ── Lifecycle ──────────────────────────────────────────────────────────

  /** Runs `handler` once the link has closed (at once if it already has). */
  whenClosed(handler: (link: CascadeLink) => void): void {
    if (this.closed) handler(this);
    else this.closedHandlers.push(handler);
  }

  get peerServerId(): string {
    return this.options.peerServerId;
  }

  /** Streams it sends now (sections with a stream bound). */
  private get streamsOut(): number {
    let n = 0;
    for (const slot of this.slots.values()) if (slot.track) n++;
    return n;
  }

  /** Streams crossing the link now, both directions. */
  get streamCount(): number {
    return this.streamsOut + this.incoming.size;
  }

  stats(): LinkStats {
    return {
      linkId: this.linkId,
      meetingId: this.meeting.meetingId,
      peerServerId: this.options.peerServerId,
      role: this.role,
      scope: this.scope,
      streamsOut: this.streamsOut,
      streamsIn: this.incoming.size,
      ...this.traffic,
    };
  }

  /** Closes the link: the streams it brought are unpublished, the ones it sent unbound. Idempotent. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.logger.info({ reason }, 'cascade link closed');
    this.reporter.close();
    this.answerWaiter?.reject(new Error('the link closed'));
    for (const slot of this.slots.values()) slot.subscription.close();
    this.slots.clear();
    this.outgoing.clear();
    for (const mid of [...this.incoming.keys()]) this.unpublishIncoming(mid);
    this.meeting.removeLink(this.linkId);
    void this.pc.close().catch(() => undefined);
    for (const handler of this.closedHandlers.splice(0)) handler(this);
  }
}
