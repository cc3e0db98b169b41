/**
 * A meeting on this module: its participants, their published tracks, who
 * receives what, and its active speakers. Meetings share nothing with each
 * other; a packet of one can only reach the subscriptions of its own tracks.
 */
import type { MeetingId, MeetingMode, ParticipantId } from '@meetedge/core';
import { SpeakerTracker } from '@meetedge/media';
import type { ServerMessage } from '@meetedge/signaling';
import type { Participant } from './participant';
import { zeroCounters, type MediaCounters } from './stats';
import type { PublishedTrack, TrackHost } from './track';

export interface MeetingOptions {
  /** Audio streams each subscriber gets: the N loudest speakers. */
  audioSlots: number;
  /** The most a publisher may send on one video track, bit/s. */
  maxPublishBps: number;
  now: () => number;
}

export class Meeting implements TrackHost {
  readonly counters: MediaCounters = zeroCounters();
  readonly participants = new Map<ParticipantId, Participant>();
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

  /** Adds a participant and tells the others. */
  join(participant: Participant): void {
    this.participants.set(participant.participantId, participant);
    this.broadcast({ type: 'participant-joined', participant: participant.info() }, participant.participantId);
  }

  /** Removes a participant, its tracks and its subscriptions. Returns true when the meeting is now empty. */
  leave(participant: Participant): boolean {
    if (this.participants.get(participant.participantId) !== participant) return this.participants.size === 0;
    this.participants.delete(participant.participantId);
    for (const track of participant.publications()) this.unpublish(track);
    this.speakers.remove(participant.participantId);
    this.broadcast({ type: 'participant-left', participantId: participant.participantId });
    return this.participants.size === 0;
  }

  /** A new published track: everyone else may receive it. Only members publish. */
  publish(track: PublishedTrack): void {
    if (this.participants.get(track.participantId)?.closed !== false) {
      track.close();
      return;
    }
    this.tracks.set(track.trackId, track);
    this.broadcast({ type: 'track-published', track: track.info() }, track.participantId);
    for (const participant of this.participants.values()) {
      if (participant.participantId !== track.participantId) participant.offerTrack(track);
    }
  }

  unpublish(track: PublishedTrack): void {
    if (!this.tracks.delete(track.trackId)) return;
    for (const participant of this.participants.values()) participant.withdrawTrack(track);
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
