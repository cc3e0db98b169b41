/**
 * One participant's WebSocket of the meeting signaling (on the cloud meeting
 * server, or on a module for an internal-only meeting): the door of the
 * meeting signaling (docs/protocol.md, "Meeting signaling"). Frames are
 * decoded and validated (libs/signaling) and handled one at a time, in
 * order. The first must be `hello` within the hello timeout; until a valid
 * one, any refusal ends the session. After it, a bad message is answered
 * with a coded `error` and the session goes on. A ping every keepalive
 * interval finds connections that died without a word.
 */
import { MeetedgeError, toErrorBody } from '@meetedge/core';
import { decodeMeetingClientMessage, encodeMeetingServerMessage, type MeetingClientMessage, type MeetingServerMessage } from '@meetedge/signaling';
import { CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_POLICY, type Seat, type SignalRoom } from './room';

/** The slice of a pino logger a session writes to (this library does no I/O of its own). */
export interface SessionLogger {
  info(obj: object, msg?: string): void;
  info(msg: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): SessionLogger;
}

/** The slice of a `ws` WebSocket a session uses. */
export interface SignalSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'pong', listener: () => void): unknown;
  ping(): void;
  terminate(): void;
  readonly readyState: number;
}

/** A hello that checked out: who the participant is, and how to seat them. */
export interface Admission {
  readonly participantId: string;
  /** Seats `seat` in the meeting's room, opening the room if need be (the room sends `welcome`). */
  seat(seat: Seat): SignalRoom;
}

/** What a session needs of the server. */
export interface SessionHost {
  /** Checks the token against the meeting; throws a MeetedgeError when the session may not join. */
  admit(token: string): Promise<Admission>;
}

export interface SessionTimers {
  /** A session without a valid `hello` by then is closed, ms. */
  helloTimeoutMs: number;
  /** Ping interval, ms; a session that has not answered the previous ping is dropped. */
  keepaliveMs: number;
}

const OPEN = 1;

export class SignalSession implements Seat {
  private state: 'awaiting-hello' | 'admitting' | 'joined' | 'closed' = 'awaiting-hello';
  private room: SignalRoom | undefined;
  private participantId = '';
  /** Frames are handled one after the other: a chat sent right after hello waits for the welcome. */
  private queue: Promise<void> = Promise.resolve();
  private readonly helloTimer: NodeJS.Timeout;
  private readonly keepalive: NodeJS.Timeout;
  private answeredPing = true;
  /** Called once, when the session has closed. */
  onClosed: (() => void) | undefined;

  constructor(
    private readonly host: SessionHost,
    private readonly socket: SignalSocket,
    timers: SessionTimers,
    private logger: SessionLogger,
  ) {
    this.helloTimer = setTimeout(() => {
      if (this.state === 'awaiting-hello') this.fail(new MeetedgeError('UNAUTHENTICATED', 'no hello with an access token within the hello timeout'));
    }, timers.helloTimeoutMs);
    // A participant whose connection died without a FIN (laptop lid, NAT
    // timeout) answers no ping: it leaves the roster as `disconnected`.
    this.keepalive = setInterval(() => {
      if (!this.answeredPing) {
        this.logger.info('no pong: connection lost');
        // No closing handshake with a peer that is gone: drop the connection, then leave the room.
        this.socket.terminate();
        this.finish('disconnected');
        return;
      }
      this.answeredPing = false;
      if (this.socket.readyState === OPEN) this.socket.ping();
    }, timers.keepaliveMs);
    this.keepalive.unref();
    socket.on('pong', () => {
      this.answeredPing = true;
    });
    socket.on('message', (data, isBinary) => {
      this.queue = this.queue.then(() => this.onFrame(data, isBinary));
    });
    socket.on('close', () => this.finish('left'));
  }

  private async onFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Promise<void> {
    if (this.state === 'closed') return;
    // Until a hello is accepted there is nobody to keep talking to.
    const beforeHello = this.state !== 'joined';
    try {
      if (isBinary) throw new MeetedgeError('INVALID_ARGUMENT', 'binary frames are not part of the protocol');
      const frame = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      await this.handle(decodeMeetingClientMessage(frame));
    } catch (err) {
      if (beforeHello) this.fail(err);
      else this.refuse(err);
    }
  }

  private async handle(message: MeetingClientMessage): Promise<void> {
    if (message.type === 'hello') {
      if (this.state !== 'awaiting-hello') throw new MeetedgeError('CONFLICT', 'hello: the session has already joined');
      this.state = 'admitting';
      clearTimeout(this.helloTimer);
      const admission = await this.host.admit(message.token);
      // The socket may have closed while the token and meeting were checked.
      if (this.state !== 'admitting') return;
      const { participantId } = admission;
      const room = admission.seat(this);
      this.room = room;
      this.participantId = participantId;
      this.logger = this.logger.child({ meetingId: room.id, participantId });
      this.state = 'joined';
      this.logger.info('joined');
      return;
    }
    const room = this.room;
    if (this.state !== 'joined' || !room) throw new MeetedgeError('UNAUTHENTICATED', `${message.type}: send hello with an access token first`);
    if (message.type === 'leave') return this.finish('left', CLOSE_NORMAL, 'left');
    room.handle(this.participantId, message);
  }

  send(message: MeetingServerMessage): void {
    if (this.socket.readyState === OPEN) this.socket.send(encodeMeetingServerMessage(message));
  }

  /** The room ended this session (removed, replaced, meeting ended, shutdown): close without telling the room. */
  end(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.room = undefined;
    this.finish('left', code, reason);
  }

  /** A refused message: the session goes on. */
  private refuse(err: unknown): void {
    const { code, message } = toErrorBody(err).body.error;
    if (code === 'INTERNAL') this.logger.error({ err }, 'message failed');
    else this.logger.info({ code }, message);
    this.send({ type: 'error', code, message, fatal: false });
  }

  /** A fatal error: tell the client why, then close. */
  private fail(err: unknown): void {
    const { code, message } = toErrorBody(err).body.error;
    if (code === 'INTERNAL') this.logger.error({ err }, 'session failed');
    else this.logger.info({ code }, message);
    this.send({ type: 'error', code, message, fatal: true });
    this.finish('left', CLOSE_POLICY, code);
  }

  /** The server is shutting down: a session that has not joined is closed (joined ones are ended by their room). */
  shutdown(): void {
    if (this.state === 'closed') return;
    this.send({ type: 'error', code: 'UNAVAILABLE', message: 'the meeting server is shutting down; connect again', fatal: true });
    this.finish('left', CLOSE_GOING_AWAY, 'server shutting down');
  }

  /** Leaves the room (if still seated) and closes the socket. Idempotent. */
  private finish(reason: 'left' | 'disconnected', code = CLOSE_NORMAL, closeReason = ''): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.helloTimer);
    clearInterval(this.keepalive);
    this.room?.leave(this.participantId, this, reason);
    this.room = undefined;
    if (this.socket.readyState === OPEN) this.socket.close(code, closeReason.slice(0, 120));
    this.onClosed?.();
  }
}
