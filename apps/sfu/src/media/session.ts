/**
 * One participant's media session: the WebSocket door of docs/protocol.md.
 * Every frame is decoded and validated (libs/signaling); a bad one is
 * answered with a coded error and, before `join` or when continuing makes no
 * sense, the socket is closed. Whatever happens, a closed session releases
 * its capacity, its tracks and its werift connection.
 */
import { MeetedgeError, isMeetedgeError, toErrorBody, verifyTicket } from '@meetedge/core';
import type { Logger } from '@meetedge/service-kit';
import { decodeClientMessage, encodeServerMessage, type ClientMessage, type ServerMessage } from '@meetedge/signaling';
import { holderOf } from './capacity';
import type { LeaveReason, MediaServer } from './media-server';
import { Participant } from './participant';

/** The slice of a `ws` WebSocket a session uses. */
export interface SessionSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'pong', listener: () => void): unknown;
  ping(): void;
  terminate(): void;
  readonly readyState: number;
}

const OPEN = 1;
/** WebSocket close codes (RFC 6455). */
export const CLOSE_NORMAL = 1000;
const CLOSE_POLICY = 1008;

export class MediaSession {
  private state: 'awaiting-join' | 'joining' | 'joined' | 'closed' = 'awaiting-join';
  /** `meetingId/participantId` once the ticket verified. */
  private holder: string | undefined;
  /** Whether this session holds capacity units under `holder`. */
  private held = false;
  private participant: Participant | undefined;
  private readonly joinTimer: NodeJS.Timeout;
  private readonly keepalive: NodeJS.Timeout;
  private answeredPing = true;
  /** Called once when the session has closed and released everything. */
  onClosed: (() => void) | undefined;

  constructor(
    private readonly server: MediaServer,
    private readonly socket: SessionSocket,
    private logger: Logger,
  ) {
    this.joinTimer = setTimeout(() => {
      if (this.state === 'awaiting-join') {
        this.fail(new MeetedgeError('UNAUTHENTICATED', 'no join message within the join timeout'));
      }
    }, server.options.joinTimeoutMs ?? 10_000);
    // A client whose connection died without a FIN (laptop lid, NAT timeout)
    // answers no ping: its session ends and its units are freed.
    this.keepalive = setInterval(() => {
      if (!this.answeredPing) {
        this.logger.info('no pong: connection lost');
        void this.close(CLOSE_POLICY, 'connection lost', 'timeout');
        this.socket.terminate();
        return;
      }
      this.answeredPing = false;
      if (this.socket.readyState === OPEN) this.socket.ping();
    }, server.options.keepaliveMs ?? 15_000);
    this.keepalive.unref();
    socket.on('pong', () => {
      this.answeredPing = true;
    });
    socket.on('message', (data, isBinary) => void this.onFrame(data, isBinary));
    socket.on('close', () => void this.close(CLOSE_NORMAL, 'socket closed'));
  }

  private async onFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Promise<void> {
    if (this.state === 'closed') return;
    let message: ClientMessage;
    try {
      if (isBinary) throw new MeetedgeError('INVALID_ARGUMENT', 'binary frames are not part of the protocol');
      const frame = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      message = decodeClientMessage(frame);
    } catch (err) {
      // Before a valid join there is nobody to keep talking to.
      if (this.state === 'awaiting-join') this.fail(err);
      else this.refuse(err, 'unknown');
      return;
    }
    // Before a valid join, and for a refused join, there is nobody to keep talking to.
    const beforeJoin = this.state === 'awaiting-join';
    try {
      await this.handle(message);
    } catch (err) {
      const fatal = beforeJoin || (isMeetedgeError(err) && err.code === 'CAPACITY_EXCEEDED');
      if (fatal) this.fail(err);
      else this.refuse(err, message.type);
    }
  }

  private async handle(message: ClientMessage): Promise<void> {
    if (message.type === 'join') {
      if (this.state !== 'awaiting-join') throw new MeetedgeError('CONFLICT', 'join: the session has already joined');
      return this.join(message.ticket);
    }
    const participant = this.participant;
    if (this.state !== 'joined' || !participant) throw new MeetedgeError('CONFLICT', `${message.type}: join first`);
    switch (message.type) {
      case 'offer': {
        const result = await participant.negotiate(message.sdp, message.publications);
        this.send({ type: 'answer', ...result });
        participant.afterAnswer();
        return;
      }
      case 'candidate':
        return participant.addCandidate(message.candidate, message.sdpMid);
      case 'subscription':
        participant.setSubscription(message.trackId, message.paused, message.quality);
        return;
      case 'leave':
        await this.close(CLOSE_NORMAL, 'left');
        return;
    }
  }

  private async join(ticket: string): Promise<void> {
    this.state = 'joining';
    clearTimeout(this.joinTimer);
    const server = this.server;
    const { options } = server;
    const claims = verifyTicket(ticket, options.ticketKey, { moduleId: options.moduleId, nowMs: server.now() });
    const mode = server.modeOf(claims.meetingId);
    if (mode !== undefined && mode !== claims.mode) {
      throw new MeetedgeError('CONFLICT', `meeting ${claims.meetingId} is ${mode} on this module, the ticket says ${claims.mode}`);
    }
    const holder = holderOf(claims.meetingId, claims.participantId);
    // A draining module keeps its participants (a reconnect of one is not new) but takes nobody new.
    if (server.drainReason !== undefined && !server.isJoined(holder)) {
      throw new MeetedgeError('CONFLICT', `this module is draining (${server.drainReason}) and takes no new participants; ask a ZCP for another module`);
    }
    // A participant joining again (a reconnect) replaces its old session,
    // which leaves the meeting and frees its units first.
    this.holder = holder;
    await server.claim(holder, this);
    if (this.state !== 'joining') return;
    server.admit(holder, { meetingId: claims.meetingId, participantId: claims.participantId, reservationId: claims.ticketId, quality: claims.quality });
    this.held = true;
    const meeting = server.meeting(claims.meetingId, claims.mode);
    this.logger = this.logger.child({ meetingId: claims.meetingId, participantId: claims.participantId });
    const participant = new Participant(claims.participantId, claims.displayName, claims.quality, meeting, options.createPeer, (m) => this.send(m));
    participant.onMediaFailed = (reason) => this.fail(new MeetedgeError('UNAVAILABLE', reason), reason, 'timeout');
    this.participant = participant;
    this.state = 'joined';
    this.send({
      type: 'joined',
      meetingId: claims.meetingId,
      participantId: claims.participantId,
      participants: meeting.roster(),
      tracks: meeting.publishedTracks().map((t) => t.info()),
      audioSlots: meeting.audioSlots,
    });
    meeting.join(participant);
    this.logger.info({ quality: claims.quality, mode: claims.mode }, 'joined');
  }

  /** Another session of the same participant joined: this one ends. */
  async replaced(): Promise<void> {
    this.send({ type: 'error', code: 'CONFLICT', message: 'the participant joined again from another session', fatal: true });
    await this.close(CLOSE_POLICY, 'replaced');
  }

  send(message: ServerMessage): void {
    if (this.socket.readyState === OPEN) this.socket.send(encodeServerMessage(message));
  }

  private refuse(err: unknown, type: string): void {
    const { code, message } = describe(err);
    if (code === 'INTERNAL') this.logger.error({ err, type }, 'message failed');
    else this.logger.info({ code, type }, message);
    this.send({ type: 'error', code, message, fatal: false });
  }

  /** A fatal error: tell the client why, then close. `logAs` names an internal cause for the log. */
  private fail(err: unknown, logAs?: string, leave: LeaveReason = 'removed'): void {
    const { code, message } = describe(err);
    if (code === 'INTERNAL') this.logger.error({ err }, 'session failed');
    else this.logger.info({ code }, logAs ?? message);
    this.server.sessionsRefused++;
    this.send({ type: 'error', code, message, fatal: true });
    void this.close(CLOSE_POLICY, code, leave);
  }

  /** Releases everything the session holds; `leave` says why, for the ZCPs. Idempotent. */
  async close(code = CLOSE_NORMAL, reason = '', leave: LeaveReason = 'hangup'): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.joinTimer);
    clearInterval(this.keepalive);
    const participant = this.participant;
    if (participant) await this.server.closeParticipant(participant, leave);
    else if (this.held && this.holder) this.server.release(this.holder, leave);
    if (this.holder) this.server.unclaim(this.holder, this);
    if (this.socket.readyState === OPEN) this.socket.close(code, reason.slice(0, 120));
    this.onClosed?.();
  }
}

/** What the client may be told: coded errors keep their message unless it names internals. */
function describe(err: unknown): { code: string; message: string } {
  const { code, message } = toErrorBody(err).body.error;
  return { code, message };
}
