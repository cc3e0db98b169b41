/**
 * Meeting signaling of internal-only meetings on a module (docs/protocol.md,
 * "Meeting signaling"; docs/cascade.md, "Signaling of internal-only
 * meetings"): the same protocol the cloud meeting server speaks, on
 * `GET /v1/meetings/:id/signal`, so one client works with both. A session's
 * `hello` carries the participant's join ticket for this module (its ZCP
 * checked the access token, and marked the host's ticket).
 *
 * The meeting's top holds its room (roster, chat, host actions, media key);
 * every other module of the meeting relays its participants' sessions there
 * over the Cascade service's `Signal` stream (./relay.ts). Nothing of an
 * internal-only meeting goes to the cloud meeting server. When a host
 * removes a participant, or ends the meeting, the participant's module also
 * ends its media session.
 */
import type { KeyObject } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { MeetedgeError, MeetingId, verifyTicket, type ModuleId, type ParticipantId, type TicketClaims } from '@meetedge/core';
import { Room, SignalSession, type Admission, type Identity, type RoomMeeting, type Seat, type SignalRoom, type SignalSocket } from '@meetedge/meeting-room';
import { v1 } from '@meetedge/proto';
import type { Logger } from '@meetedge/service-kit';
import type { MediaServer } from '../media/media-server';
import type { TopCoordinator } from '../cascade/top';
import { RelayedRoom, acceptSignalRelay, type SeatInfo } from './relay';

export interface ModuleSignalOptions {
  readonly moduleId: ModuleId;
  /** Verifies join tickets (the ZCPs' public key). */
  readonly ticketKey: KeyObject;
  readonly media: MediaServer;
  readonly top: TopCoordinator;
  /** A session without a valid `hello` by then is closed, ms. */
  readonly helloTimeoutMs: number;
  /** Ping interval, ms; a session that missed a pong leaves the roster as `disconnected`. */
  readonly keepaliveMs: number;
  readonly logger: Logger;
  readonly now: () => number;
}

export class ModuleSignal {
  /** Rooms of the internal-only meetings whose top this module is. */
  private readonly rooms = new Map<MeetingId, { room: Room; letGo: () => void }>();
  private readonly sessions = new Set<SignalSession>();
  /** One gRPC channel per top module this module relays to. */
  private readonly clients = new Map<string, v1.CascadeClient>();
  private readonly logger: Logger;
  private closed = false;

  /**
   * The Cascade service's `Signal` stream, opened by another module of a
   * meeting this module tops: seats the relayed participant in the room.
   */
  readonly relayHandler: ReturnType<typeof acceptSignalRelay>;

  constructor(private readonly options: ModuleSignalOptions) {
    this.logger = options.logger.child({ component: 'signal' });
    this.relayHandler = acceptSignalRelay({
      room: (meeting) => {
        if (this.closed) throw new MeetedgeError('UNAVAILABLE', 'this module is shutting down');
        if (!options.top.isTop(meeting.id)) throw new MeetedgeError('CONFLICT', `this module is not the top of meeting ${meeting.id}`);
        // The top's own meeting info wins over what the relaying module knows.
        const view = options.media.meetingInfoOf(meeting.id) ? this.viewOf(meeting.id) : { ...meeting, top: options.moduleId };
        return { room: this.roomOf(view), view };
      },
      logger: this.logger,
    });
  }

  /** Starts the session of one WebSocket opened on `/v1/meetings/:meetingId/signal`. */
  accept(socket: SignalSocket, meetingId: string, remoteAddress: string): void {
    // What the session holds of the meeting here, once its hello checked out.
    let letGo: (() => void) | undefined;
    const admit = async (ticket: string): Promise<Admission> => {
      const admission = await this.admit(meetingId, ticket);
      letGo = admission.letGo;
      // The socket closed while the ticket and the top were checked.
      if (!this.sessions.has(session)) letGo();
      return admission;
    };
    const session = new SignalSession({ admit }, socket, this.options, this.logger.child({ remoteAddress }));
    this.sessions.add(session);
    session.onClosed = () => {
      this.sessions.delete(session);
      letGo?.();
    };
    if (this.closed) session.shutdown();
  }

  /** Open rooms and participants seated in them (this module being their top). */
  stats(): { rooms: number; participants: number; sessions: number } {
    let participants = 0;
    for (const { room } of this.rooms.values()) participants += room.size;
    return { rooms: this.rooms.size, participants, sessions: this.sessions.size };
  }

  /** The room of a meeting whose top this module is, if open. */
  room(meetingId: MeetingId): Room | undefined {
    return this.rooms.get(meetingId)?.room;
  }

  /**
   * Checks a hello: the ticket verifies for this module and names this
   * meeting, which is internal-only; then finds the meeting's top (claiming
   * it when nobody holds it yet).
   */
  private async admit(rawMeetingId: string, ticket: string): Promise<Admission & { letGo: () => void }> {
    if (this.closed) throw new MeetedgeError('UNAVAILABLE', 'this module is shutting down; connect again');
    const meetingId = MeetingId(rawMeetingId);
    const nowMs = this.options.now();
    const claims = verifyTicket(ticket, this.options.ticketKey, { moduleId: this.options.moduleId, nowMs, ignoreExpiry: true });
    // A ticket bounds when a participant may first come; signaling that reconnects beside its live media session may use it later.
    if (nowMs >= claims.expiresAt && !this.options.media.isAdmittedWith(claims.meetingId, claims.participantId, claims.ticketId)) {
      throw new MeetedgeError('UNAUTHENTICATED', 'join ticket has expired');
    }
    if (claims.meetingId !== meetingId) throw new MeetedgeError('FORBIDDEN', `this join ticket is for meeting ${claims.meetingId}, not ${meetingId}`);
    if (claims.mode !== 'internal-only') {
      throw new MeetedgeError('FORBIDDEN', `meeting ${meetingId} is cloud-hybrid: its signaling runs on the cloud meeting server, not on a module`);
    }
    const letGo = this.options.top.hold(meetingId);
    let seated = false;
    try {
      const top = await this.options.top.topOf(meetingId);
      const identity = identityOf(claims);
      const view = this.viewOf(meetingId);
      if (top.self) this.rooms.get(meetingId)?.room.admit(identity.participantId);
      seated = true;
      return {
        participantId: identity.participantId,
        letGo,
        seat: (session) => {
          const seat = this.dismissing(meetingId, claims.participantId, session);
          let room: SignalRoom;
          if (top.self) {
            const local = this.roomOf(view);
            local.join(identity, seat, view);
            room = local;
          } else {
            const info: SeatInfo = { identity, meeting: view, serverId: this.options.moduleId };
            room = new RelayedRoom(this.clientFor(top.target.address), info, seat, this.logger.child({ meetingId, top: top.target.serverId }));
          }
          // The room knows the session by the seat it was given.
          return {
            id: room.id,
            handle: (participantId, message) => room.handle(participantId, message),
            leave: (participantId, leaving, reason) => room.leave(participantId, leaving === session ? seat : leaving, reason),
          };
        },
      };
    } finally {
      // A refused hello holds nothing; a seated one lets go when its session ends.
      if (!seated) letGo();
    }
  }

  /**
   * The participant's seat as the room sees it: a host's removal, or the end
   * of the meeting, also ends the participant's media session here.
   */
  private dismissing(meetingId: MeetingId, participantId: ParticipantId, session: Seat): Seat {
    const dismiss = (why: string) =>
      void this.options.media.dismiss(meetingId, participantId, why).catch((err: unknown) => this.logger.warn({ err, meetingId, participantId }, 'media session not ended'));
    return {
      send: (message) => {
        session.send(message);
        if (message.type === 'removed') dismiss('a host removed you from the meeting');
        if (message.type === 'meeting-ended') dismiss('the host ended the meeting');
      },
      end: (code, reason) => session.end(code, reason),
    };
  }

  /**
   * This module is the meeting's top no more (its claim was freed while it
   * lived): its room goes, every participant seated there is told to connect
   * again (close 1001), and reconnects through the new top.
   */
  dropRoom(meetingId: MeetingId): void {
    this.rooms.get(meetingId)?.room.shutdown("this module no longer holds the meeting's roster; connect again");
  }

  /** What this module knows of the meeting (its ZCP's meeting info). */
  private viewOf(meetingId: MeetingId): RoomMeeting {
    const info = this.options.media.meetingInfoOf(meetingId);
    return { id: meetingId, topic: info?.topic ?? '', e2ee: info?.e2ee ?? false, mode: 'internal-only', top: this.options.moduleId, onTopLoss: info?.onTopLoss ?? 'recover' };
  }

  /** The open room of a meeting this module tops, opened if need be; it holds the meeting while open. */
  private roomOf(meeting: RoomMeeting): Room {
    const open = this.rooms.get(meeting.id);
    if (open && !open.room.isClosed) return open.room;
    const room = new Room(meeting, this.options.now);
    const entry = { room, letGo: this.options.top.hold(meeting.id) };
    room.onClosed = () => {
      if (this.rooms.get(meeting.id) === entry) this.rooms.delete(meeting.id);
      entry.letGo();
    };
    this.rooms.set(meeting.id, entry);
    return room;
  }

  /**
   * The Cascade service's `Signal` stream, opened by another module of a
   * meeting this module tops: seats the relayed participant in the room.
   */
  private clientFor(address: string): v1.CascadeClient {
    let client = this.clients.get(address);
    if (!client) {
      client = new v1.CascadeClient(address, credentials.createInsecure());
      this.clients.set(address, client);
    }
    return client;
  }

  /** Ends every session (close code 1001: connect again) and every room. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const { room } of [...this.rooms.values()]) room.shutdown();
    for (const session of [...this.sessions]) session.shutdown();
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

/** Who the ticket's holder is in the room: a member of the account (internal-only meetings admit no guests). */
function identityOf(claims: TicketClaims): Identity {
  return { participantId: claims.participantId, displayName: claims.displayName, kind: 'member', isHost: claims.isHost === true };
}
