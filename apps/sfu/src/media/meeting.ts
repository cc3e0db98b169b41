/**
 * A meeting on this module: its participants, their published tracks, who
 * receives what, and its active speakers. Meetings share nothing with each
 * other; a packet of one can only reach the subscriptions of its own tracks.
 */
import type { MeetingId, MeetingMode, ParticipantId } from '@meetedge/core';
import { SpeakerTracker } from '@meetedge/media';
import type { ServerMessage } from '@meetedge/signaling';
import { LINK_SCOPES, type LinkScope } from '@meetedge/cascade';
import { addTraffic, zeroMeetingTraffic, zeroTraffic, type MeetingTraffic, type TrafficCounters } from './bandwidth';
import type { Participant } from './participant';
import { zeroCounters, type MediaCounters } from './stats';
import type { PublishedTrack, TrackHost } from './track';

/**
 * A participant of the meeting on another media server, seen through a
 * cascade link: it publishes (its streams arrive over the link) but has no
 * session here. To everyone local it looks like a local participant.
 */
export interface RemoteParticipant {
  readonly participantId: ParticipantId;
  readonly displayName: string;
  /** The link its streams arrive by. */
  readonly linkId: string;
}

/** A cascade link of the meeting: one more destination of the fan-out (apps/sfu/src/cascade). */
export interface MeetingLink {
  readonly linkId: string;
  /** Whether its media leaves the company network (bandwidth.ts, linkScope). */
  readonly scope: LinkScope;
  /** What it moved; final once the link is removed from the meeting. */
  readonly traffic: TrafficCounters;
  /** Streams crossing it now, both directions. */
  readonly streamCount: number;
  /** `opener`: this server opened it (it is lower in the meeting's tree); `answerer`: the far side did. */
  readonly role: 'opener' | 'answerer';
  /** Closes it (it leaves the meeting's fan-out). Idempotent. */
  close(reason: string): void;
  /** A track was published here (locally or by another link): send it over if it did not come from this link. */
  offerTrack(track: PublishedTrack): void;
  /** A track went away: stop sending it. */
  withdrawTrack(track: PublishedTrack): void;
}

export interface MeetingOptions {
  /** Audio streams each subscriber gets: the N loudest speakers. */
  audioSlots: number;
  /** The most a publisher may send on one video track, bit/s. */
  maxPublishBps: number;
  now: () => number;
}

export class Meeting implements TrackHost {
  /** Everything the meeting moved, client and cascade links together. */
  readonly counters: MediaCounters = zeroCounters();
  /** What it moved on client links (its local participants' connections); bumped by their tracks and subscriptions. */
  readonly clientTraffic: TrafficCounters = zeroTraffic();
  /** What its closed links moved, by scope, so the meeting's totals never go down. */
  private readonly closedLinkTraffic: Record<LinkScope, TrafficCounters> = { 'north-south': zeroTraffic(), 'east-west': zeroTraffic() };
  readonly participants = new Map<ParticipantId, Participant>();
  /** Participants on other media servers, whose streams arrive over cascade links. */
  readonly remote = new Map<ParticipantId, RemoteParticipant>();
  private readonly links = new Map<string, MeetingLink>();
  private readonly tracks = new Map<string, PublishedTrack>();
  private readonly speakers: SpeakerTracker<ParticipantId>;
  private timer: NodeJS.Timeout | undefined;
  closed = false;

  constructor(
    readonly meetingId: MeetingId,
    readonly mode: MeetingMode,
    private readonly options: MeetingOptions,
  ) {
    this.speakers = new SpeakerTracker<ParticipantId>({ maxSpeakers: options.audioSlots });
    // Speaker ranking and layer choice move every 200 ms, not per packet.
    this.timer = setInterval(() => this.tick(), 200);
    this.timer.unref();
  }

  now(): number {
    return this.options.now();
  }

  get maxPublishBps(): number {
    return this.options.maxPublishBps;
  }

  get audioSlots(): number {
    return this.options.audioSlots;
  }

  onAudioLevel(participantId: ParticipantId, level: number, nowMs: number): void {
    this.speakers.addLevel(participantId, level, nowMs);
  }

  /**
   * The audio tracks `participantId` should hear: the loudest others first,
   * then the rest in publishing order, at most `audioSlots`.
   */
  audioFor(participantId: ParticipantId): PublishedTrack[] {
    const audio = this.publishedTracks().filter((t) => t.kind === 'audio' && t.participantId !== participantId);
    // The tracker ranks N + 1 speakers, so a listener who is itself among the
    // loudest gets the next one, not a silent participant.
    const loud = audio.filter((t) => this.speakers.shouldForwardAudio(t.participantId, participantId));
    const rest = audio.filter((t) => !loud.includes(t));
    return [...loud, ...rest].slice(0, this.options.audioSlots);
  }

  publishedTracks(): PublishedTrack[] {
    return [...this.tracks.values()];
  }

  track(trackId: string): PublishedTrack | undefined {
    return this.tracks.get(trackId);
  }

  /** Everyone in the meeting as seen here: local participants, then those behind links. */
  roster(): { participantId: ParticipantId; displayName: string }[] {
    return [
      ...[...this.participants.values()].map((p) => p.info()),
      ...[...this.remote.values()].map((r) => ({ participantId: r.participantId, displayName: r.displayName })),
    ];
  }

  /** A participant behind a link (its first stream arrived): the local participants are told. */
  addRemote(remote: RemoteParticipant): void {
    if (this.participants.has(remote.participantId) || this.remote.has(remote.participantId)) return;
    this.remote.set(remote.participantId, remote);
    this.broadcast({ type: 'participant-joined', participant: { participantId: remote.participantId, displayName: remote.displayName } });
  }

  /** A participant behind a link left (or the link closed): its tracks go with it. */
  removeRemote(participantId: ParticipantId): void {
    if (!this.remote.delete(participantId)) return;
    for (const track of this.publishedTracks()) if (track.participantId === participantId) this.unpublish(track);
    this.speakers.remove(participantId);
    this.broadcast({ type: 'participant-left', participantId });
  }

  /** Adds a cascade link: it is offered every track it did not bring. */
  addLink(link: MeetingLink): void {
    this.links.set(link.linkId, link);
    for (const track of this.tracks.values()) link.offerTrack(track);
  }

  /** Removes a link and every participant that was behind it; what it moved stays in the meeting's traffic. */
  removeLink(linkId: string): void {
    const link = this.links.get(linkId);
    if (!link) return;
    this.links.delete(linkId);
    addTraffic(this.closedLinkTraffic[link.scope], link.traffic);
    for (const remote of [...this.remote.values()]) if (remote.linkId === linkId) this.removeRemote(remote.participantId);
  }

  /**
   * Closes the links this server opened for the meeting. A server opens a
   * link (to the cloud MMR, or east-west to the top) for its own
   * participants: with none of them left, the link only keeps the meeting
   * alive on both sides. Links the far side opened stay (they serve its
   * participants). Returns how many were closed.
   */
  closeOpenedLinks(reason: string): number {
    const opened = [...this.links.values()].filter((l) => l.role === 'opener');
    for (const link of opened) link.close(reason);
    return opened.length;
  }

  get linkCount(): number {
    return this.links.size;
  }

  /** What the meeting moved by path, closed links included (read with the stats, not on the packet path). */
  traffic(): MeetingTraffic {
    const traffic = zeroMeetingTraffic();
    addTraffic(traffic.client, this.clientTraffic);
    for (const scope of LINK_SCOPES) addTraffic(traffic.cascade[scope], this.closedLinkTraffic[scope]);
    for (const link of this.links.values()) {
      const scope = traffic.cascade[link.scope];
      addTraffic(scope, link.traffic);
      scope.links++;
      scope.streams += link.streamCount;
    }
    return traffic;
  }

  /** Adds a participant and tells the others. */
  join(participant: Participant): void {
    this.participants.set(participant.participantId, participant);
    this.broadcast({ type: 'participant-joined', participant: participant.info() }, participant.participantId);
  }

  /** Removes a participant, its tracks and its subscriptions. Returns true when no local participant is left. */
  leave(participant: Participant): boolean {
    if (this.participants.get(participant.participantId) !== participant) return this.participants.size === 0;
    this.participants.delete(participant.participantId);
    for (const track of participant.publications()) this.unpublish(track);
    this.speakers.remove(participant.participantId);
    this.broadcast({ type: 'participant-left', participantId: participant.participantId });
    return this.participants.size === 0;
  }

  /** A new published track: everyone else (and every link it did not come by) may receive it. Only members publish. */
  publish(track: PublishedTrack): void {
    const local = this.participants.get(track.participantId);
    const remote = this.remote.get(track.participantId);
    if (local ? local.closed : remote === undefined || remote.linkId !== track.origin?.linkId) {
      track.close();
      return;
    }
    this.tracks.set(track.trackId, track);
    this.broadcast({ type: 'track-published', track: track.info() }, track.participantId);
    for (const participant of this.participants.values()) {
      if (participant.participantId !== track.participantId) participant.offerTrack(track);
    }
    for (const link of this.links.values()) link.offerTrack(track);
  }

  unpublish(track: PublishedTrack): void {
    if (!this.tracks.delete(track.trackId)) return;
    for (const participant of this.participants.values()) participant.withdrawTrack(track);
    for (const link of this.links.values()) link.withdrawTrack(track);
    track.close();
    this.broadcast({ type: 'track-unpublished', trackId: track.trackId }, track.participantId);
  }

  broadcast(message: ServerMessage, except?: ParticipantId): void {
    for (const participant of this.participants.values()) {
      if (participant.participantId !== except) participant.send(message);
    }
  }

  /** Every 200 ms: active speakers, and the layer upkeep of every track. */
  private tick(): void {
    const nowMs = this.now();
    for (const track of this.tracks.values()) track.tick(nowMs);
    this.updateSpeakers(nowMs);
  }

  private updateSpeakers(nowMs: number): void {
    const change = this.speakers.update(nowMs);
    if (change) this.broadcast({ type: 'speakers', participantIds: [...change.speakers], dominant: change.speakers[0] ?? null });
    // The ranking below the top N moves too (who is next for a listener who is itself loud).
    for (const participant of this.participants.values()) participant.followSpeakers();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
