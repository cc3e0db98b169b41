/**
 * The meeting-signaling client's logic (docs/protocol.md, "Meeting
 * signaling"), once for Node and the browser: say hello with an access
 * token, keep the roster and the media key as the cloud meeting server
 * changes them, emit an event for every server message, and send every
 * client message. Like ./session.ts it imports neither Node nor werift:
 * `ws` and the browser's WebSocket both satisfy `SocketLike`.
 */
import { ERROR_CODES, MeetedgeError, type ErrorCode } from '@meetedge/core';
import {
  isMeetingServerMessage,
  type MediaAttachment,
  type MediaKey,
  type MeetingServerMessage,
  type MeetingServerMessageOf,
  type MeetingServerMessageType,
  type RosterEntry,
} from '@meetedge/signaling';
import { Emitter } from './emitter';
import { OPEN, closedByPeer, dropSocket, type SocketLike } from './socket';


/** One event per server message type, named as the type (`error` is `refused`), with the message. */
type MessageEvents = { [T in Exclude<MeetingServerMessageType, 'error'>]: [MeetingServerMessageOf<T>] };

export interface MeetingSignalEvents extends MessageEvents {
  /** Every well-formed message of the server, after the client applied it. */
  message: [MeetingServerMessage];
  /** The server refused a message (an `error` message; fatal ones end the session). */
  refused: [MeetingServerMessageOf<'error'>];
  /** The roster changed (joined, updated, left): every entry, in joining order. */
  roster: [RosterEntry[]];
  /** The session is over: the server closed it (removed, meeting ended, a fatal error), the connection dropped, or `leave()`. */
  closed: [{ code: number; reason: string }];
}

/** The meeting as the welcome described it. */
export type MeetingInfo = MeetingServerMessageOf<'welcome'>['meeting'];

/** The server's error message as a MeetedgeError (an unknown code becomes INTERNAL). */
function codedError(error: MeetingServerMessageOf<'error'>): MeetedgeError {
  const code = Object.hasOwn(ERROR_CODES, error.code) ? (error.code as ErrorCode) : 'INTERNAL';
  return new MeetedgeError(code, error.message);
}

/**
 * One participant's signaling with the cloud meeting server. Each platform's
 * `MeetingSignalClient` extends it with a static `connect` that opens the
 * socket and calls `start`.
 */
export class MeetingSignalSession extends Emitter<MeetingSignalEvents> {
  /** This participant's id (a member's user id, a guest's id). Set by the welcome. */
  participantId = '';
  meeting: MeetingInfo | undefined;
  /** The meeting's host or an admin of its account: may mute all, remove, end. */
  isHost = false;
  /** Who is here, this participant included, by participant id, in joining order. */
  readonly roster = new Map<string, RosterEntry>();
  /** The current media key (E2EE meetings only); replaced when a host removes someone. */
  mediaKey: MediaKey | undefined;
  private closed = false;

  protected constructor(private readonly socket: SocketLike) {
    super();
    socket.addEventListener('message', ({ data }) => {
      if (typeof data === 'string') this.onMessage(data);
    });
    socket.addEventListener('close', ({ code, reason }) => this.onClose(code, reason));
    // A socket error ends in 'close' (handled); ws throws an error nobody listens to.
    socket.addEventListener('error', () => undefined);
  }

  /** True once the session is over. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Says hello with `token` once the socket is open; resolves once the server
   * welcomed it. Rejects with the server's coded error (UNAUTHENTICATED,
   * NOT_FOUND, FORBIDDEN…), or UNAVAILABLE when the server cannot be reached,
   * closes the session or does not answer within `timeoutMs`; nothing of a
   * failed connect stays open.
   */
  protected async start(token: string, timeoutMs = 10_000): Promise<void> {
    try {
      await this.welcomed(token, timeoutMs);
    } catch (err) {
      dropSocket(this.socket);
      this.onClose(1006, 'connect failed');
      throw err;
    }
  }

  private welcomed(token: string, timeoutMs: number): Promise<void> {
    const socket = this.socket;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        socket.removeEventListener('open', open);
        socket.removeEventListener('error', unreachable);
        this.off('welcome', welcome).off('refused', refused).off('closed', closed);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new MeetedgeError('UNAVAILABLE', `no welcome within ${timeoutMs} ms`)), timeoutMs);
      const open = () => this.send({ type: 'hello', token });
      const unreachable = (event: unknown) => {
        const cause = (event as { message?: unknown } | undefined)?.message;
        done(new MeetedgeError('UNAVAILABLE', `cannot reach the meeting server: ${typeof cause === 'string' ? cause : 'WebSocket error'}`));
      };
      const welcome = () => done();
      const refused = (error: MeetingServerMessageOf<'error'>) => done(codedError(error));
      const closed = ({ code, reason }: { code: number; reason: string }) => done(new MeetedgeError('UNAVAILABLE', `session closed (${code}) ${reason}`));
      if (socket.readyState === OPEN) open();
      else socket.addEventListener('open', open);
      socket.addEventListener('error', unreachable);
      this.on('welcome', welcome).on('refused', refused).on('closed', closed);
    });
  }

  private onMessage(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (!isMeetingServerMessage(message)) return;
    let rosterChanged = false;
    switch (message.type) {
      case 'welcome':
        this.participantId = message.participantId;
        this.meeting = message.meeting;
        this.isHost = message.you.isHost;
        this.mediaKey = message.mediaKey;
        this.roster.clear();
        for (const entry of message.roster) this.roster.set(entry.participantId, entry);
        rosterChanged = true;
        break;
      case 'participant-joined':
      case 'participant-updated':
        this.roster.set(message.participant.participantId, message.participant);
        rosterChanged = true;
        break;
      case 'participant-left':
        rosterChanged = this.roster.delete(message.participantId);
        break;
      case 'media-key':
        this.mediaKey = message.mediaKey;
        break;
      default:
        break;
    }
    if (message.type === 'error') this.emit('refused', message);
    else this.emitMessage(message);
    if (rosterChanged) this.emit('roster', [...this.roster.values()]);
    this.emit('message', message);
  }

  /** Emits the event named as the message's type (the union is narrowed per type, which TypeScript cannot see through a generic). */
  private emitMessage(message: Exclude<MeetingServerMessage, { type: 'error' }>): void {
    (this.emit as (event: string, ...args: unknown[]) => boolean)(message.type, message);
  }

  private onClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('closed', { code, reason });
  }

  /** Where this participant's media now goes: a module (its id), or the cloud MMR. */
  attachMedia(where: MediaAttachment): void {
    this.send({ type: 'media-attached', where });
  }

  /** This participant's mute state (`true`: muted); what is left out stays as it is. */
  mute(state: { audio?: boolean; video?: boolean }): void {
    this.send({ type: 'mute', ...state });
  }

  /** Raises (default) or lowers this participant's hand. */
  raiseHand(raised = true): void {
    this.send({ type: 'raise-hand', raised });
  }

  /** The name others see in this meeting (1–64 characters). */
  setName(displayName: string): void {
    this.send({ type: 'set-name', displayName });
  }

  /** Chat to everyone, or to one participant (`to`); at most 4 KiB of UTF-8. The sender gets its own message back. */
  chat(text: string, to?: string): void {
    this.send({ type: 'chat', text, ...(to !== undefined ? { to } : {}) });
  }

  /** Host: mute every other participant's audio (others get `muted-by-host`). A non-host is refused (FORBIDDEN). */
  muteAll(): void {
    this.send({ type: 'mute-all' });
  }

  /** Host: remove a participant; they may not come back while the meeting runs. A non-host is refused (FORBIDDEN). */
  removeParticipant(participantId: string): void {
    this.send({ type: 'remove', participantId });
  }

  /** Host: end the meeting for everyone. A non-host is refused (FORBIDDEN). */
  end(): void {
    this.send({ type: 'end' });
  }

  /** Sends a raw frame (for tests of the server's door). */
  sendRaw(frame: string): void {
    this.socket.send(frame);
  }

  /** Sends a client message; UNAVAILABLE once the session is over. */
  private send(message: object): void {
    if (this.closed || this.socket.readyState !== OPEN) throw new MeetedgeError('UNAVAILABLE', 'the meeting signaling is closed');
    this.socket.send(JSON.stringify(message));
  }


  /** Leaves the meeting; waits up to 2 s for the server to close the socket. Harmless once closed. */
  async leave(): Promise<void> {
    if (this.closed) return;
    if (this.socket.readyState === OPEN) this.send({ type: 'leave' });
    await closedByPeer(this.socket);
    this.onClose(1000, 'left');
  }
}
