/**
 * The cloud meeting server (docs/control-plane.md, "The meeting server";
 * protocol in docs/protocol.md, "Meeting signaling"): signaling for
 * cloud-hybrid meetings over one WebSocket per participant,
 * `GET /v1/meetings/:id/signal`. A session's `hello` carries an access token
 * (a member of the meeting's account, or a guest token for this meeting); the
 * meeting must exist and be cloud-hybrid: an internal-only meeting's
 * signaling runs on the modules inside the organization's network.
 *
 * One in-memory room per meeting in this process. Several dashboard
 * processes behind a load balancer would split a meeting's participants
 * between rooms that do not see each other: running more than one needs a
 * shared bus between them (Redis pub/sub, a room's owner process), which is
 * later work.
 */
import type { KeyObject } from 'node:crypto';
import type { WebsocketPluginOptions } from '@fastify/websocket';
import type { Attachment } from '@meetedge/cascade';
import { MeetedgeError, MeetingId, ModuleId, isIdSyntax, verifyAccessToken, type AccountId } from '@meetedge/core';
import type { Meeting, ModuleAssignment } from '@meetedge/directory';
import type { Logger } from '@meetedge/service-kit';
import { MAX_MEETING_MESSAGE_BYTES, type MediaAttachment } from '@meetedge/signaling';
import type { FastifyInstance } from 'fastify';
import { Room, SignalSession, type Admission, type Identity, type SignalSocket } from '@meetedge/meeting-room';

/** The fields of a meeting the meeting server reads. */
export type MeetingRecord = Pick<Meeting, 'id' | 'accountId' | 'topic' | 'mode' | 'e2ee' | 'hostId'>;

/** Where the meeting server reads meetings and modules from; the control plane's Directory is one. */
export interface MeetingRecords {
  /** The meeting, or undefined when there is none. */
  getMeeting(id: MeetingId): Promise<MeetingRecord | undefined>;
  /** A module's assignment (its account and zone), or undefined. */
  getModule(id: ModuleId): Promise<Pick<ModuleAssignment, 'id' | 'accountId' | 'zoneId' | 'kind'> | undefined>;
}

/** What follows where a meeting's media is attached: the zone controller's CascadeNeeds. */
export interface AttachmentSink {
  /** Where the meeting's participants' media is attached now (every one that said); none when the meeting's room closed. */
  update(meetingId: MeetingId, attachments: readonly Attachment[]): void;
}

export interface MeetingServerOptions {
  meetings: MeetingRecords;
  /** Verifies access tokens (the public half of the control plane's signing key). */
  tokenPublicKey: KeyObject;
  /** A session without a valid `hello` by then is closed, ms. */
  helloTimeoutMs: number;
  /** Ping interval of the WebSockets, ms; a session that missed a pong leaves the roster as `disconnected`. */
  keepaliveMs: number;
  /** Told where each meeting's media is attached, with each module's zone (modules of another account are left out). */
  cascadeNeeds?: AttachmentSink;
  logger: Logger;
  now?: () => number;
}

/** Counts since start: every signaling WebSocket, every hello admitted or refused, every room opened. */
export interface MeetingServerTotals {
  /** Signaling WebSockets accepted (a hello or not). */
  sessionsOpened: number;
  /** Hellos whose token and meeting were accepted. */
  hellosAdmitted: number;
  /** Hellos refused (a bad token, no such meeting, an internal-only meeting, shutting down). */
  hellosRefused: number;
  /** Rooms opened: a meeting's first participant in it (again after it emptied). */
  roomsOpened: number;
}

export class MeetingServer {
  private readonly rooms = new Map<MeetingId, Room>();
  private readonly sessions = new Set<SignalSession>();
  /** Attachment reports of each meeting, applied in order (each waits for its module lookups). */
  private readonly reports = new Map<MeetingId, Promise<void>>();
  private readonly now: () => number;
  private readonly counted: MeetingServerTotals = { sessionsOpened: 0, hellosAdmitted: 0, hellosRefused: 0, roomsOpened: 0 };
  private closed = false;

  constructor(private readonly options: MeetingServerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Starts the session of one WebSocket opened on `/v1/meetings/:meetingId/signal`. */
  accept(socket: SignalSocket, meetingId: string, remoteAddress: string): void {
    const logger = this.options.logger.child({ remoteAddress });
    const admit = async (token: string): Promise<Admission> => {
      try {
        const admission = await this.admit(meetingId, token);
        this.counted.hellosAdmitted++;
        return admission;
      } catch (err) {
        this.counted.hellosRefused++;
        throw err;
      }
    };
    const session = new SignalSession({ admit }, socket, this.options, logger);
    this.counted.sessionsOpened++;
    this.sessions.add(session);
    session.onClosed = () => this.sessions.delete(session);
    if (this.closed) session.shutdown();
  }

  /** The open room of a meeting, if anyone is in it. */
  room(meetingId: string): Room | undefined {
    return this.rooms.get(meetingId as MeetingId);
  }

  stats(): { rooms: number; participants: number; sessions: number } {
    let participants = 0;
    for (const room of this.rooms.values()) participants += room.size;
    return { rooms: this.rooms.size, participants, sessions: this.sessions.size };
  }

  /** What the meeting server has done since it started (never goes down; /metrics). */
  totals(): MeetingServerTotals {
    return { ...this.counted };
  }

  /**
   * Checks a hello: the token verifies; a guest's names this meeting; the
   * meeting exists in the token's account (another account's meeting is
   * NOT_FOUND, as on the REST API) and is cloud-hybrid; the participant was
   * not removed by a host.
   */
  private async admit(rawMeetingId: string, token: string): Promise<Admission> {
    const claims = verifyAccessToken(token, this.options.tokenPublicKey, this.now());
    const meetingId = MeetingId(rawMeetingId);
    if (claims.kind === 'guest' && claims.meetingId !== meetingId) {
      throw new MeetedgeError('FORBIDDEN', 'this guest token is for another meeting; a guest token is good for its own meeting only');
    }
    const meeting = await this.options.meetings.getMeeting(meetingId);
    if (!meeting || meeting.accountId !== claims.accountId) throw new MeetedgeError('NOT_FOUND', `no meeting ${meetingId}`);
    if (meeting.mode === 'internal-only') {
      throw new MeetedgeError(
        'FORBIDDEN',
        `meeting ${meetingId} is internal-only: its signaling runs on the modules inside the organization's network, not on the cloud meeting server`,
      );
    }
    if (this.closed) throw new MeetedgeError('UNAVAILABLE', 'the meeting server is shutting down; connect again');
    const identity: Identity =
      claims.kind === 'member'
        ? { participantId: claims.userId, displayName: claims.displayName, kind: 'member', isHost: claims.userId === meeting.hostId || claims.role === 'admin' }
        : { participantId: claims.guestId, displayName: claims.displayName, kind: 'guest', isHost: false };
    this.rooms.get(meeting.id)?.admit(identity.participantId);
    const view = { id: meeting.id, topic: meeting.topic, e2ee: meeting.e2ee };
    return {
      participantId: identity.participantId,
      seat: (seat) => {
        const room = this.roomOf(view, meeting.accountId);
        room.join(identity, seat, view);
        return room;
      },
    };
  }

  private roomOf(meeting: { id: MeetingId; topic: string; e2ee: boolean }, accountId: AccountId): Room {
    const open = this.rooms.get(meeting.id);
    if (open) return open;
    const room = new Room(meeting, this.now);
    this.counted.roomsOpened++;
    // A room nobody is in is forgotten, with its media key.
    room.onClosed = () => {
      if (this.rooms.get(meeting.id) === room) this.rooms.delete(meeting.id);
    };
    room.onAttachments = (attachments) => this.report(meeting.id, accountId, attachments);
    this.rooms.set(meeting.id, room);
    return room;
  }

  /**
   * Tells the cascade needs where a meeting's media is attached, each module
   * with its zone. A module the participant named that is not an SFU module
   * of the meeting's account is left out (attachments are what clients say).
   */
  private report(meetingId: MeetingId, accountId: AccountId, attachments: readonly MediaAttachment[]): void {
    const sink = this.options.cascadeNeeds;
    if (!sink) return;
    const previous = this.reports.get(meetingId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const zones = new Map<string, Attachment | undefined>();
      for (const a of attachments) {
        if (a.kind !== 'module' || zones.has(a.moduleId)) continue;
        const module = isIdSyntax(a.moduleId) ? await this.options.meetings.getModule(ModuleId(a.moduleId)) : undefined;
        const ours = module && module.accountId === accountId && module.kind === 'sfu';
        if (!ours) this.options.logger.info({ meetingId, moduleId: a.moduleId }, 'media attached to a module that is not one of the account: left out of cascade needs');
        zones.set(a.moduleId, ours ? { kind: 'module', moduleId: module.id, zoneId: module.zoneId } : undefined);
      }
      const located = attachments.flatMap((a): Attachment[] => {
        if (a.kind === 'cloud') return [{ kind: 'cloud' }];
        const found = zones.get(a.moduleId);
        return found ? [found] : [];
      });
      sink.update(meetingId, located);
    });
    const settled = next.catch((err: unknown) => this.options.logger.error({ err, meetingId }, 'cascade needs not updated'));
    this.reports.set(meetingId, settled);
    void settled.then(() => {
      if (this.reports.get(meetingId) === settled) this.reports.delete(meetingId);
    });
  }

  /** Resolves once every attachment report so far has reached the cascade needs (for tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.reports.values()]);
  }

  /** Ends every session (close code 1001: connect again) and refuses new ones. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const room of [...this.rooms.values()]) room.shutdown();
    for (const session of [...this.sessions]) session.shutdown();
  }
}

/**
 * Options of @fastify/websocket for the control plane. Frames above
 * `maxPayload` are cut by ws itself (close 1009); between the protocol's
 * limit and this, the session answers with a coded error and goes on.
 */
export const MEETING_SIGNAL_WEBSOCKET_OPTIONS: WebsocketPluginOptions = {
  options: { maxPayload: 2 * MAX_MEETING_MESSAGE_BYTES },
  // Socket errors are the client's doing (an oversized or malformed frame); ws closes the socket itself.
  errorHandler(error, _socket, request) {
    request.log.info({ err: error.message }, 'meeting signaling socket error');
  },
};

/** The route of the meeting signaling: `GET /v1/meetings/:id/signal`, upgraded to a WebSocket. */
export function registerMeetingSignal(app: FastifyInstance, server: MeetingServer): void {
  app.get<{ Params: { id: string } }>('/v1/meetings/:id/signal', { websocket: true, schema: { hide: true } }, (socket, request) => {
    server.accept(socket, request.params.id, request.ip);
  });
}
