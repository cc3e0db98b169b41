/**
 * The media side of a module: every meeting it carries, its capacity ledger,
 * and the media sessions of its participants. Meetings of both modes live
 * side by side; each is its own island.
 */
import type { KeyObject } from 'node:crypto';
import { unitsFor, type MeetingId, type MeetingMode, type ModuleId, type ParticipantId, type Quality, type ReservationId } from '@meetedge/core';
import type { MeetingInfo } from '@meetedge/proto';
import type { Logger } from '@meetedge/service-kit';
import type { RTCPeerConnection } from 'werift';
import type { ServerRole } from '@meetedge/cascade';
import { addBandwidth, bandwidthOf, zeroBandwidth, type BandwidthStats } from './bandwidth';
import { CapacityLedger, holderOf } from './capacity';
import { Meeting } from './meeting';
import type { Participant } from './participant';
import { CLOSE_NORMAL, MediaSession, type SessionSocket } from './session';
import { addCounters, zeroCounters, type MediaCounters } from './stats';

/** A participant admitted with a join ticket: what its capacity is held under. */
export interface Admission {
  readonly meetingId: MeetingId;
  readonly participantId: ParticipantId;
  /** The ticket id, which is the id of its reservation in the cluster state. */
  readonly reservationId: ReservationId;
  readonly quality: Quality;
}

/** Why a participant left the module (module_registry.proto, LeaveReason). */
export type LeaveReason = 'hangup' | 'timeout' | 'removed' | 'drain' | 'ticket-expired';

/**
 * What the module tells its ZCPs about participants, so the cluster state's
 * reservations follow who is really here (registration/ relays these).
 */
export interface ParticipantEvents {
  /** A client arrived with a valid ticket: its reservation is confirmed. */
  arrived(admission: Admission): void;
  /** A participant left (or an expected one never came): its reservation is freed. */
  left(admission: Admission, reason: LeaveReason, meetingEmpty: boolean): void;
}

/** A participant a ZCP placed here and announced (ExpectParticipant), not arrived yet. */
export interface Expectation extends Admission {
  /** When its ticket stops being accepted, ms since the epoch. */
  readonly expiresAt: number;
}

export interface MediaServerOptions {
  moduleId: ModuleId;
  /**
   * A module inside a company network (`edge`) or the cloud MMR (`cloud`):
   * decides the scope of cascade links and what the bandwidth accounting
   * counts as would-have-left (bandwidth.ts). Default `edge`.
   */
  role?: ServerRole;
  capacityUnits: number;
  /** Verifies join tickets (the ZCPs' Ed25519 public key). */
  ticketKey: KeyObject;
  /** Audio streams each participant receives: the N loudest. Default 3. */
  audioSlots?: number;
  /** The most a publisher may send on one video track, bit/s (advertised with REMB). Default 2 500 000. */
  maxPublishBps?: number;
  /** Ping interval of media-session WebSockets; a session that missed one pong is closed, ms. Default 15 000. */
  keepaliveMs?: number;
  /** A session that has not sent a valid `join` by then is closed, ms. Default 10 000. */
  joinTimeoutMs?: number;
  /** Builds the werift connection of a participant (webrtc/peer-factory). */
  createPeer: () => RTCPeerConnection;
  /** Told when participants arrive and leave; default: nobody (a standalone module). */
  events?: ParticipantEvents;
  /** Told when a meeting starts (its first participant or link) and ends on this module. */
  lifecycle?: { started(meeting: Meeting): void; ended(meeting: Meeting): void };
  logger: Logger;
  now?: () => number;
}

/** A meeting's counters, its bandwidth accounting (bandwidth.ts) and what it holds now. */
export interface MeetingStats extends MediaCounters, BandwidthStats {
  meetingId: string;
  mode: MeetingMode;
  participants: number;
  tracks: number;
}

/** The module's counters and bandwidth accounting since start (ended meetings included) and what it holds now. */
export interface ModuleMediaStats extends MediaCounters, BandwidthStats {
  role: ServerRole;
  meetings: number;
  participants: number;
  tracks: number;
  usedUnits: number;
  capacityUnits: number;
  sessions: number;
  /** Sessions closed because of a protocol error. */
  sessionsRefused: number;
  /** Participants a ZCP announced that have not arrived yet. */
  expected: number;
}

export class MediaServer {
  readonly ledger: CapacityLedger;
  private readonly meetings = new Map<MeetingId, Meeting>();
  private readonly sessions = new Set<MediaSession>();
  /** The joined session of each participant of each meeting (`meetingId/participantId`). */
  private readonly joined = new Map<string, MediaSession>();
  /** What each admitted participant (`meetingId/participantId`) holds. */
  private readonly admissions = new Map<string, Admission>();
  /** Announced participants by reservation id, until they arrive or their ticket expires. */
  private readonly expected = new Map<ReservationId, Expectation>();
  /** What the ZCPs said about each meeting placed here (MeetingServerInfo), by meeting id. */
  private readonly meetingInfo = new Map<MeetingId, MeetingInfo>();
  /** Counters of meetings that have ended, so module totals never go down. */
  private readonly ended: MediaCounters = zeroCounters();
  /** The bandwidth accounting of meetings that have ended, for the same reason. */
  private readonly endedBandwidth: BandwidthStats = zeroBandwidth();
  sessionsRefused = 0;
  readonly now: () => number;
  closed = false;
  /** Why the module is draining (a ZCP sent Drain); while set, new joins are refused. */
  drainReason: string | undefined;

  constructor(readonly options: MediaServerOptions) {
    this.ledger = new CapacityLedger(options.moduleId, options.capacityUnits);
    this.now = options.now ?? Date.now;
  }

  get role(): ServerRole {
    return this.options.role ?? 'edge';
  }

  get audioSlots(): number {
    return this.options.audioSlots ?? 3;
  }

  /** Starts the session of one WebSocket. */
  accept(socket: SessionSocket, remoteAddress: string): MediaSession {
    const session = new MediaSession(this, socket, this.options.logger.child({ remoteAddress }));
    this.sessions.add(session);
    session.onClosed = () => this.sessions.delete(session);
    return session;
  }

  /** The mode of a meeting this module carries, if it carries it. */
  modeOf(meetingId: MeetingId): MeetingMode | undefined {
    return this.meetings.get(meetingId)?.mode;
  }

  /**
   * Makes `session` the joined session of its participant; a session that
   * held that place before (a reconnect) is told and closed first.
   */
  async claim(holder: string, session: MediaSession): Promise<void> {
    const previous = this.joined.get(holder);
    this.joined.set(holder, session);
    if (previous && previous !== session) await previous.replaced();
  }

  /** Whether a participant holds its place here with this ticket (its admission's reservation id). */
  isAdmittedWith(meetingId: MeetingId, participantId: ParticipantId, reservationId: ReservationId): boolean {
    return this.admissions.get(holderOf(meetingId, participantId))?.reservationId === reservationId;
  }

  /** Whether a participant (`meetingId/participantId`) has a joined session here. */
  isJoined(holder: string): boolean {
    return this.joined.has(holder);
  }

  /** Forgets `session` as the joined session of `holder`, unless another took its place. */
  unclaim(holder: string, session: MediaSession): void {
    if (this.joined.get(holder) === session) this.joined.delete(holder);
  }

  /**
   * Holds the admitted participant's units (CAPACITY_EXCEEDED when the module
   * is full) and tells the ZCPs it arrived. A participant admitted again (a
   * reconnect with a new ticket) holds only the new admission.
   */
  admit(holder: string, admission: Admission): void {
    this.ledger.hold(holder, unitsFor(admission.quality));
    this.admissions.set(holder, admission);
    this.expected.delete(admission.reservationId);
    this.options.events?.arrived(admission);
  }

  /** Frees what `holder` held and tells the ZCPs why it left. Idempotent. */
  release(holder: string, reason: LeaveReason): void {
    const admission = this.admissions.get(holder);
    this.ledger.release(holder);
    if (!admission) return;
    this.admissions.delete(holder);
    this.options.events?.left(admission, reason, !this.carries(admission.meetingId));
  }

  /** Whether any participant of the meeting is admitted here, or announced and still expected. */
  private carries(meetingId: MeetingId): boolean {
    for (const a of this.admissions.values()) if (a.meetingId === meetingId) return true;
    for (const e of this.expected.values()) if (e.meetingId === meetingId) return true;
    return false;
  }

  /** A ZCP placed a participant here (ExpectParticipant); remembered until it arrives or its ticket expires. */
  expect(expectation: Expectation): void {
    if ([...this.admissions.values()].some((a) => a.reservationId === expectation.reservationId)) return;
    this.expected.set(expectation.reservationId, expectation);
  }

  /**
   * Forgets expected participants whose ticket has expired and tells the ZCPs
   * (TICKET_EXPIRED), so their reservations are freed now rather than at the
   * store's sweep. Returns how many expired.
   */
  expireExpected(): number {
    const now = this.now();
    let expired = 0;
    for (const [id, e] of this.expected) {
      if (e.expiresAt > now) continue;
      this.expected.delete(id);
      expired++;
      this.options.events?.left(e, 'ticket-expired', !this.carries(e.meetingId));
    }
    return expired;
  }

  /** Remembers what a ZCP said about a meeting placed here (the latest answer wins). */
  setMeetingInfo(meetingId: MeetingId, info: MeetingInfo): void {
    this.meetingInfo.set(meetingId, info);
  }

  /** What a ZCP said about a meeting, if anything. */
  meetingInfoOf(meetingId: MeetingId): MeetingInfo | undefined {
    return this.meetingInfo.get(meetingId);
  }

  /** Every admitted participant, by meeting: what the module re-announces when it registers again. */
  heldMeetings(): Map<MeetingId, Admission[]> {
    const held = new Map<MeetingId, Admission[]>();
    for (const a of this.admissions.values()) {
      const list = held.get(a.meetingId);
      if (list) list.push(a);
      else held.set(a.meetingId, [a]);
    }
    return held;
  }

  /** The meeting, created on first join. A meeting's mode is fixed by its first ticket. */
  meeting(meetingId: MeetingId, mode: MeetingMode): Meeting {
    let meeting = this.meetings.get(meetingId);
    if (!meeting) {
      meeting = new Meeting(meetingId, mode, {
        audioSlots: this.audioSlots,
        maxPublishBps: this.options.maxPublishBps ?? 2_500_000,
        now: this.now,
      });
      this.meetings.set(meetingId, meeting);
      this.options.lifecycle?.started(meeting);
    }
    return meeting;
  }

  /**
   * Takes a participant out of its meeting and frees what it held: its
   * tracks (the others stop receiving them), its connection and its units.
   * Idempotent. When no participant of the meeting is here or expected any
   * more, the cascade links this module opened for it close; a meeting with
   * no local participant and no link ends.
   */
  async closeParticipant(participant: Participant, reason: LeaveReason): Promise<void> {
    if (participant.closed) return;
    participant.close();
    const meeting = participant.meeting;
    meeting.leave(participant);
    this.release(holderOf(meeting.meetingId, participant.participantId), reason);
    // Nobody of the meeting here or expected: a link this module opened for them serves no one.
    if (!this.carries(meeting.meetingId)) meeting.closeOpenedLinks('no participant of the meeting on this server any more');
    this.endIfIdle(meeting);
  }

  /**
   * Ends a participant's media session here (a host removed it, or ended the
   * meeting, in the meeting signaling): it is told why and its units freed.
   * Returns whether it had a session here.
   */
  async dismiss(meetingId: MeetingId, participantId: ParticipantId, message: string): Promise<boolean> {
    const session = this.joined.get(holderOf(meetingId, participantId));
    if (!session) return false;
    session.send({ type: 'error', code: 'FORBIDDEN', message, fatal: true });
    await session.close(CLOSE_NORMAL, message, 'removed');
    return true;
  }

  /**
   * Ends a meeting here (its top died and it collapses): every participant's
   * media session is told why and closed. Returns how many were.
   */
  async endMeeting(meetingId: MeetingId, message: string): Promise<number> {
    const sessions = [...this.joined.entries()].filter(([holder]) => holder.startsWith(`${meetingId}/`)).map(([, session]) => session);
    await Promise.all(
      sessions.map(async (session) => {
        session.send({ type: 'error', code: 'UNAVAILABLE', message, fatal: true });
        await session.close(CLOSE_NORMAL, message, 'removed');
      }),
    );
    return sessions.length;
  }

  /** The meeting if this module carries it. */
  existingMeeting(meetingId: MeetingId): Meeting | undefined {
    return this.meetings.get(meetingId);
  }

  /** Ends a meeting with no local participant and no cascade link (a link closing calls it too). */
  endIfIdle(meeting: Meeting): void {
    if (meeting.participants.size > 0 || meeting.linkCount > 0 || this.meetings.get(meeting.meetingId) !== meeting) return;
    this.meetings.delete(meeting.meetingId);
    if (!this.carries(meeting.meetingId)) this.meetingInfo.delete(meeting.meetingId);
    addCounters(this.ended, meeting.counters);
    addBandwidth(this.endedBandwidth, this.bandwidthOf(meeting));
    meeting.close();
    this.options.lifecycle?.ended(meeting);
  }

  /** A meeting's bandwidth accounting on this server. */
  private bandwidthOf(meeting: Meeting): BandwidthStats {
    return bandwidthOf(this.role, meeting.mode, meeting.traffic());
  }

  meetingStats(): MeetingStats[] {
    return [...this.meetings.values()].map((m) => ({
      meetingId: m.meetingId,
      mode: m.mode,
      participants: m.participants.size,
      tracks: m.publishedTracks().length,
      ...m.counters,
      ...this.bandwidthOf(m),
    }));
  }

  stats(): ModuleMediaStats {
    const totals = zeroCounters();
    addCounters(totals, this.ended);
    const bandwidth = zeroBandwidth();
    addBandwidth(bandwidth, this.endedBandwidth);
    let participants = 0;
    let tracks = 0;
    for (const meeting of this.meetings.values()) {
      addCounters(totals, meeting.counters);
      addBandwidth(bandwidth, this.bandwidthOf(meeting));
      participants += meeting.participants.size;
      tracks += meeting.publishedTracks().length;
    }
    return {
      ...totals,
      ...bandwidth,
      role: this.role,
      meetings: this.meetings.size,
      participants,
      tracks,
      usedUnits: this.ledger.usedUnits,
      capacityUnits: this.ledger.capacityUnits,
      sessions: this.sessions.size,
      sessionsRefused: this.sessionsRefused,
      expected: this.expected.size,
    };
  }

  /**
   * Takes no new participants from now on (a ZCP sent Drain): a join is
   * refused with CONFLICT; participants already here stay.
   */
  drain(reason: string): void {
    this.drainReason = reason || 'draining';
  }

  /** Closes every session (participants are told) and meeting. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.sessions].map((s) => s.close(1001, 'module shutting down', 'drain')));
    for (const meeting of this.meetings.values()) meeting.close();
    this.meetings.clear();
  }
}
