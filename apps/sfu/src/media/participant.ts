/**
 * One participant on this module: its werift connection, the tracks it
 * publishes and its receive slots. The client always offers and the module
 * answers (docs/protocol.md), so negotiation here is: check the offer, apply
 * it, turn sending sections into published tracks and receive-only sections
 * into slots, answer, then fill the slots.
 */
import { randomBytes } from 'node:crypto';
import { MeetedgeError, type ParticipantId, type Quality } from '@meetedge/core';
import type { ServerMessage, TrackSource } from '@meetedge/signaling';
import { ConnectionReporter } from '@meetedge/werift-kit';
import {
  ReceiverEstimatedMaxBitrate,
  RtcpPayloadSpecificFeedback,
  RtcpRrPacket,
  RtcpSrPacket,
  type RTCPeerConnection,
  type RTCRtpTransceiver,
  type RtcpPacket,
} from 'werift';
import { gathered } from '../webrtc/gathering';
import type { Meeting } from './meeting';
import { offererReceives, offererSends, scanOffer, type MediaSection } from './sdp';
import { PublishedTrack, Subscription } from './track';

export interface Publication {
  readonly mid: string;
  readonly source: TrackSource;
}

export interface NegotiationResult {
  readonly sdp: string;
  readonly published: { mid: string; trackId: string }[];
  readonly slots: { mid: string; trackId: string | null }[];
}

const KIND_OF_SOURCE: Record<TrackSource, 'audio' | 'video'> = { microphone: 'audio', camera: 'video', screen: 'video' };

/** A connection not up this long after the first answer is given up (a client that never completes ICE), ms. */
const CONNECT_TIMEOUT_MS = 20_000;

/** How the participant wants to receive one published track (kept across slot changes). */
interface Wish {
  paused: boolean;
  quality: Quality;
}

function newTrackId(): string {
  return `t${randomBytes(6).toString('hex')}`;
}

export class Participant {
  private readonly published = new Map<string, PublishedTrack>();
  private readonly slots = new Map<string, Subscription>();
  private negotiating: Promise<unknown> = Promise.resolve();
  private renegotiationAsked = false;
  private slotsWanted = false;
  private inNegotiation = false;
  private peer: RTCPeerConnection | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly wishes = new Map<string, Wish>();
  /** Called when the media connection fails or never comes up; the session then ends. */
  onMediaFailed: ((reason: string) => void) | undefined;
  closed = false;

  constructor(
    readonly participantId: ParticipantId,
    readonly displayName: string,
    /** What the ticket reserved: the best video quality this participant may receive. */
    readonly quality: Quality,
    readonly meeting: Meeting,
    /** Builds the werift connection at the first offer: a joined participant that never offers costs no sockets. */
    private readonly createPeer: () => RTCPeerConnection,
    /** Sends a message on the participant's WebSocket. */
    readonly send: (message: ServerMessage) => void,
  ) {}

  /** The connection's RTCP report about once a second: the slots' sender reports with what it received (@meetedge/werift-kit). */
  private reporter: ConnectionReporter | undefined;

  private get pc(): RTCPeerConnection {
    if (!this.peer) {
      const peer = this.createPeer();
      this.reporter = new ConnectionReporter(peer, () => this.slots.values());
      peer.connectionStateChange.subscribe((state) => {
        if (state === 'connected') clearTimeout(this.connectTimer);
        if (state === 'failed' && !this.closed) this.onMediaFailed?.('media connection failed');
      });
      this.peer = peer;
    }
    return this.peer;
  }

  /** Throws when the participant closed while a negotiation was waiting. */
  private checkOpen(): void {
    if (this.closed) throw new MeetedgeError('CONFLICT', 'the session closed during negotiation');
  }

  info(): { participantId: ParticipantId; displayName: string } {
    return { participantId: this.participantId, displayName: this.displayName };
  }

  publications(): PublishedTrack[] {
    return [...this.published.values()];
  }

  /** Negotiations run one at a time, in the order the offers arrived. */
  negotiate(sdp: string, publications: readonly Publication[]): Promise<NegotiationResult> {
    const run = this.negotiating.then(async () => {
      this.inNegotiation = true;
      try {
        return await this.applyOffer(sdp, publications);
      } finally {
        this.inNegotiation = false;
      }
    });
    this.negotiating = run.catch(() => undefined);
    return run;
  }

  private async applyOffer(sdp: string, publications: readonly Publication[]): Promise<NegotiationResult> {
    this.checkOpen();
    const sections = scanOffer(sdp);
    checkPublications(sections, publications);
    try {
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
    } catch (err) {
      throw new MeetedgeError('INVALID_ARGUMENT', `invalid SDP: ${(err as Error).message}`);
    }
    this.checkOpen();
    const byMid = new Map(sections.map((s) => [s.mid, s]));
    const sourceOf = new Map(publications.map((p) => [p.mid, p.source]));
    const added: PublishedTrack[] = [];

    for (const transceiver of this.pc.getTransceivers()) {
      const mid = transceiver.mid;
      const section = mid == null ? undefined : byMid.get(mid);
      if (mid == null || !section) continue;
      const existing = this.published.get(mid);
      if (offererSends(section)) {
        if (existing) {
          existing.attach();
        } else {
          const source = sourceOf.get(mid) as TrackSource;
          const track = new PublishedTrack(newTrackId(), this.participantId, source, transceiver, this.meeting, this.meeting.clientTraffic);
          this.published.set(mid, track);
          added.push(track);
        }
        continue;
      }
      if (existing) {
        // The client stopped sending on this mid.
        this.published.delete(mid);
        this.meeting.unpublish(existing);
      }
      if (offererReceives(section) && (section.kind === 'audio' || section.kind === 'video')) {
        transceiver.setDirection('sendonly');
        if (!this.slots.has(mid)) this.addSlot(mid, section.kind, transceiver);
      } else {
        this.slots.get(mid)?.close();
        this.slots.delete(mid);
      }
    }

    const answer = await this.pc.createAnswer();
    this.checkOpen();
    await this.pc.setLocalDescription(answer);
    this.checkOpen();
    await gathered(this.pc);
    this.checkOpen();
    this.renegotiationAsked = false;
    if (!this.connectTimer && this.pc.connectionState !== 'connected') {
      this.connectTimer = setTimeout(() => {
        if (!this.closed && this.peer?.connectionState !== 'connected') {
          this.onMediaFailed?.(`media connection not established within ${CONNECT_TIMEOUT_MS} ms`);
        }
      }, CONNECT_TIMEOUT_MS);
      this.connectTimer.unref();
    }

    for (const track of added) this.meeting.publish(track);
    // The answer carries the slots; nothing is announced before it.
    this.fillVideoSlots(false);
    this.followSpeakers(false);

    return {
      sdp: this.pc.localDescription?.sdp ?? answer.sdp,
      published: [...this.published.entries()].map(([mid, t]) => ({ mid, trackId: t.trackId })),
      slots: this.slotList(),
    };
  }

  /** After the answer went out: ask for more receive slots if tracks are waiting for one. */
  afterAnswer(): void {
    if (this.slotsWanted) this.askForSlots();
  }

  private addSlot(mid: string, kind: 'audio' | 'video', transceiver: RTCRtpTransceiver): void {
    const subscription = new Subscription(this.participantId, mid, kind, transceiver, this.meeting, this.meeting.clientTraffic, (trackId) => this.wishFor(trackId));
    const sender = transceiver.sender;
    sender.onPictureLossIndication.subscribe(() => subscription.onKeyframeRequest());
    sender.onGenericNack.subscribe((nack) => subscription.onNack(nack.lost));
    sender.onRtcp.subscribe((packet) => this.onSubscriberRtcp(subscription, sender.ssrc, packet));
    this.slots.set(mid, subscription);
  }

  /**
   * Feedback of this participant on what it receives: the loss its receiver
   * reports give for a slot's stream, and its bandwidth estimate (REMB: one
   * figure for the whole connection, which werift hands to the sender of the
   * first SSRC it lists), shared evenly among the video slots it receives.
   */
  private onSubscriberRtcp(subscription: Subscription, ssrc: number, packet: RtcpPacket): void {
    if (packet instanceof RtcpRrPacket || packet instanceof RtcpSrPacket) {
      for (const report of packet.reports) {
        if (report.ssrc === ssrc) subscription.onReceiverReport(report.fractionLost / 256, report.packetsLost);
      }
    } else if (packet instanceof RtcpPayloadSpecificFeedback && packet.feedback instanceof ReceiverEstimatedMaxBitrate) {
      const video = [...this.slots.values()].filter((slot) => slot.receivingVideo);
      const share = Number(packet.feedback.bitrate) / Math.max(1, video.length);
      for (const slot of video) slot.onBandwidthEstimate(share);
    }
  }

  private slotList(): { mid: string; trackId: string | null }[] {
    return [...this.slots.values()].map((s) => ({ mid: s.mid, trackId: s.trackId ?? null }));
  }

  private sendSlots(): void {
    this.send({ type: 'slots', slots: this.slotList() });
  }

  /** A new track of someone else: give it a free video slot, or follow the speakers for audio. */
  offerTrack(track: PublishedTrack): void {
    if (track.kind === 'audio') {
      this.followSpeakers(true);
      return;
    }
    if (this.bindVideo(track)) this.sendSlots();
  }

  /** A track went away: free the slots that carried it. */
  withdrawTrack(track: PublishedTrack): void {
    let changed = false;
    for (const slot of this.slots.values()) {
      if (slot.trackId === track.trackId) {
        slot.bind(undefined);
        changed = true;
      }
    }
    this.wishes.delete(track.trackId);
    if (track.kind === 'audio') this.followSpeakers(false);
    // A freed video slot takes a track that was waiting for one.
    else this.fillVideoSlots(false);
    if (changed) this.sendSlots();
  }

  /** Binds every video track of the others that has no slot yet; asks for more slots when short. */
  private fillVideoSlots(notify = true): void {
    let changed = false;
    for (const track of this.meeting.publishedTracks()) {
      if (track.kind === 'video' && track.participantId !== this.participantId) changed = this.bindVideo(track) || changed;
    }
    if (changed && notify) this.sendSlots();
  }

  private bindVideo(track: PublishedTrack): boolean {
    const slots = [...this.slots.values()].filter((s) => s.kind === 'video');
    if (slots.some((s) => s.trackId === track.trackId)) return false;
    const free = slots.find((s) => s.trackId === undefined);
    if (free) {
      free.bind(track);
      return true;
    }
    this.slotsWanted = true;
    // Inside a negotiation the request waits for the answer (afterAnswer).
    if (!this.inNegotiation) this.askForSlots();
    return false;
  }

  private askForSlots(): void {
    this.slotsWanted = false;
    if (this.renegotiationAsked) return;
    this.renegotiationAsked = true;
    const wantedVideo = this.meeting.publishedTracks().filter((t) => t.kind === 'video' && t.participantId !== this.participantId).length;
    this.send({ type: 'renegotiate', audioSlots: this.meeting.audioSlots, videoSlots: wantedVideo });
  }

  /**
   * Rebinds the audio slots to the loudest others (at most N streams ever
   * reach this participant). Slots keep their speaker while it stays among
   * the loudest, so a speaker does not hop between slots.
   */
  followSpeakers(notify = true): void {
    const wanted = this.meeting.audioFor(this.participantId);
    const slots = [...this.slots.values()].filter((s) => s.kind === 'audio');
    const wantedIds = new Set(wanted.map((t) => t.trackId));
    let changed = false;
    for (const slot of slots) {
      if (slot.trackId !== undefined && !wantedIds.has(slot.trackId)) {
        slot.bind(undefined);
        changed = true;
      }
    }
    const bound = new Set(slots.map((s) => s.trackId));
    for (const track of wanted) {
      if (bound.has(track.trackId)) continue;
      const free = slots.find((s) => s.trackId === undefined);
      if (!free) break;
      free.bind(track);
      changed = true;
    }
    if (changed && notify) this.sendSlots();
  }

  /** How this participant wants `trackId`: its own wish, or unpaused at the ticket's quality. */
  private wishFor(trackId: string): Wish {
    return this.wishes.get(trackId) ?? { paused: false, quality: this.quality };
  }

  /**
   * Pause/resume or SD/HD for a published track of the others. The wish
   * belongs to the track, not to a slot: it holds while the track moves
   * between slots (audio follows the speakers). HD is refused when the
   * ticket reserved SD.
   */
  setSubscription(trackId: string, paused: boolean | undefined, quality: Quality | undefined): void {
    const track = this.meeting.track(trackId);
    if (!track || track.participantId === this.participantId) {
      throw new MeetedgeError('NOT_FOUND', `no track ${trackId} of another participant in this meeting`);
    }
    if (quality === 'HD' && this.quality === 'SD') {
      throw new MeetedgeError('FORBIDDEN', `quality HD exceeds what the join ticket reserved (SD)`);
    }
    const wish = { ...this.wishFor(trackId) };
    if (paused !== undefined) wish.paused = paused;
    if (quality !== undefined) wish.quality = quality;
    this.wishes.set(trackId, wish);
    const slot = [...this.slots.values()].find((s) => s.trackId === trackId);
    slot?.configure(wish.paused, wish.quality);
  }

  /** Candidates wait for the negotiation in flight (an ICE restart's candidates belong to its offer). */
  addCandidate(candidate: string, sdpMid: string | undefined): Promise<void> {
    const run = this.negotiating.then(async () => {
      this.checkOpen();
      try {
        await this.pc.addIceCandidate({ candidate, sdpMid });
      } catch (err) {
        throw new MeetedgeError('INVALID_ARGUMENT', `invalid ICE candidate: ${(err as Error).message}`);
      }
    });
    this.negotiating = run.catch(() => undefined);
    return run;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.connectTimer);
    this.reporter?.close();
    for (const slot of this.slots.values()) slot.close();
    this.slots.clear();
    // Tracks of a negotiation that never finished were never published: close them here.
    for (const track of this.published.values()) track.close();
    void this.peer?.close().catch(() => undefined);
  }
}

/**
 * Every section the client sends on must be a listed publication of the right
 * kind, and every publication must name a sending section: otherwise the
 * module would not know what a track is (camera or screen share).
 */
function checkPublications(sections: readonly MediaSection[], publications: readonly Publication[]): void {
  const byMid = new Map(sections.map((s) => [s.mid, s]));
  const listed = new Set<string>();
  for (const publication of publications) {
    if (listed.has(publication.mid)) throw new MeetedgeError('INVALID_ARGUMENT', `publication mid ${publication.mid} is listed twice`);
    listed.add(publication.mid);
    const section = byMid.get(publication.mid);
    if (!section || !offererSends(section)) {
      throw new MeetedgeError('INVALID_ARGUMENT', `publication mid ${publication.mid} is not a sending section of the offer`);
    }
    if (section.kind !== KIND_OF_SOURCE[publication.source]) {
      throw new MeetedgeError('INVALID_ARGUMENT', `publication mid ${publication.mid} is ${section.kind}, but ${publication.source} is ${KIND_OF_SOURCE[publication.source]}`);
    }
  }
  for (const section of sections) {
    if (section.kind !== 'application' && offererSends(section) && !listed.has(section.mid)) {
      throw new MeetedgeError('INVALID_ARGUMENT', `mid ${section.mid} sends but is not in publications`);
    }
  }
}
