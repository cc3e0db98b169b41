/**
 * The media-session client's logic (docs/protocol.md, "Media session"), once
 * for Node and the browser: join with a ticket, offer and apply answers one
 * exchange at a time, keep the receive slots and the tracks they carry,
 * follow `renegotiate` and `slots`, turn `error` messages into
 * MeetedgeErrors, leave. It imports neither Node nor werift: what differs
 * between a werift and a native RTCPeerConnection is behind `PeerAdapter`,
 * and `ws` and the browser's WebSocket both satisfy `SocketLike`.
 *
 * The client always offers (after gathering its candidates: no trickle) and
 * the module always answers, so there is never glare.
 */
import { ERROR_CODES, MeetedgeError, type ErrorCode } from '@meetedge/core';
import { isServerMessage, type ServerMessage, type ServerMessageOf, type TrackInfo, type TrackSource } from '@meetedge/signaling';
import { Emitter } from './emitter';
import { OPEN, closedByPeer, dropSocket, type SocketLike } from './socket';

export type MediaKind = 'audio' | 'video';

export type { SocketEvents, SocketLike } from './socket';

/** A receive slot: a receive-only transceiver of the client's offer, and the published track it carries now. */
export interface ReceiveSlot {
  /** The mid of the slot's transceiver; set once the offer that adds the slot is. */
  readonly mid: string;
  readonly kind: MediaKind;
  /** The published track the slot carries now; undefined while free. */
  trackId: string | undefined;
}

/** A sending transceiver, for its mid (known once an offer is set). */
export interface SenderLike {
  readonly mid?: string | null;
}

/**
 * What differs between a werift and a native RTCPeerConnection. `Publication`
 * is what `publish` takes (a source and the platform's track); `Remote` is
 * the platform's receive slot with its track.
 */
export interface PeerAdapter<Publication, Remote extends ReceiveSlot> {
  /** Adds a send-only transceiver for the publication. */
  addSender(publication: Publication): SenderLike;
  /** Adds a receive-only transceiver of `kind`: a receive slot. */
  addReceiver(kind: MediaKind): Remote;
  /** Creates an offer and sets it as the local description; resolves with its SDP. */
  offer(): Promise<string>;
  /** Resolves once ICE gathering is complete (the candidates are in the local description). */
  gathered(): Promise<void>;
  /** The local description's SDP now (with the gathered candidates). */
  localSdp(): string | undefined;
  /** Sets the module's answer as the remote description. */
  answer(sdp: string): Promise<void>;
  /** RTCPeerConnectionState: 'new', 'connecting', 'connected', 'failed', … */
  readonly connectionState: string;
  /** Calls `listener` on every connection state change; returns a function that stops the calls. */
  onConnectionStateChange(listener: (state: string) => void): () => void;
  close(): void;
}

export interface SessionEvents<Remote extends ReceiveSlot> {
  /** Every well-formed message of the module, after the session applied it. */
  message: [ServerMessage];
  /** Receive slots changed owner (`slots` message); every slot, with its `trackId`. */
  slots: [Remote[]];
  /** The module refused a message (not named `error`, which a Node EventEmitter throws when unheard). */
  refused: [ServerMessageOf<'error'>];
  /** The session is over: the socket closed, the join failed, or `leave()`. */
  closed: [{ code: number; reason: string }];
}

/** The module's error message as a MeetedgeError (an unknown code becomes INTERNAL). */
function codedError(error: ServerMessageOf<'error'>): MeetedgeError {
  const code = Object.hasOwn(ERROR_CODES, error.code) ? (error.code as ErrorCode) : 'INTERNAL';
  return new MeetedgeError(code, error.message);
}

/**
 * One participant's session with a module. Each platform's `MediaClient`
 * extends it with a static `join` that opens the socket, builds the peer
 * and calls `start`.
 */
export class MediaSession<Publication extends { source: TrackSource }, Remote extends ReceiveSlot> extends Emitter<
  SessionEvents<Remote>
> {
  participantId = '';
  meetingId = '';
  /** Published tracks of the meeting, by id, as the module announced them. */
  readonly tracks = new Map<string, TrackInfo>();
  /** Receive slots by mid. */
  readonly remote = new Map<string, Remote>();
  private readonly publications: { source: TrackSource; sender: SenderLike }[] = [];
  /** Receive slots added since the last offer: their mids are known once it is set. */
  private readonly pendingSlots: Remote[] = [];
  private audioSlots = 0;
  private negotiation: Promise<void> = Promise.resolve();
  private pendingAnswer: ((message: ServerMessageOf<'answer'>) => void) | undefined;
  private closed = false;

  protected constructor(
    private readonly socket: SocketLike,
    private readonly peer: PeerAdapter<Publication, Remote>,
  ) {
    super();
    socket.addEventListener('message', ({ data }) => {
      if (typeof data === 'string') this.onMessage(data);
    });
    socket.addEventListener('close', ({ code, reason }) => this.onClose(code, reason));
    // A socket error ends in 'close' (handled); ws throws an error nobody listens to.
    socket.addEventListener('error', () => undefined);
    // Media that failed ends the session as a dropped module does (code 1006): nothing flows any more.
    peer.onConnectionStateChange((state) => {
      if (state !== 'failed' || this.closed) return;
      dropSocket(socket);
      this.onClose(1006, 'media connection failed');
    });
  }

  /**
   * Sends the ticket once the socket is open; resolves once the module
   * accepted it. Rejects with the module's coded error, or UNAVAILABLE when
   * the module cannot be reached, closes the session or does not answer
   * within `timeoutMs`; nothing of a failed join stays open.
   */
  protected async start(ticket: string, timeoutMs = 10_000): Promise<void> {
    try {
      await this.joined(ticket, timeoutMs);
    } catch (err) {
      dropSocket(this.socket);
      this.onClose(1006, 'join failed');
      throw err;
    }
  }

  private joined(ticket: string, timeoutMs: number): Promise<void> {
    const socket = this.socket;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        socket.removeEventListener('open', open);
        socket.removeEventListener('error', unreachable);
        this.off('message', joined).off('refused', refused).off('closed', closed);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new MeetedgeError('UNAVAILABLE', `no answer to join within ${timeoutMs} ms`)), timeoutMs);
      const open = () => this.send({ type: 'join', ticket });
      const unreachable = (event: unknown) => {
        const cause = (event as { message?: unknown } | undefined)?.message;
        done(new MeetedgeError('UNAVAILABLE', `cannot reach the module: ${typeof cause === 'string' ? cause : 'WebSocket error'}`));
      };
      const joined = (message: ServerMessage) => {
        if (message.type === 'joined') done();
      };
      const refused = (error: ServerMessageOf<'error'>) => done(codedError(error));
      const closed = ({ code, reason }: { code: number; reason: string }) =>
        done(new MeetedgeError('UNAVAILABLE', `session closed (${code}) ${reason}`));
      if (socket.readyState === OPEN) open();
      else socket.addEventListener('open', open);
      socket.addEventListener('error', unreachable);
      this.on('message', joined).on('refused', refused).on('closed', closed);
    });
  }

  private onMessage(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (!isServerMessage(message)) return;
    switch (message.type) {
      case 'joined':
        this.participantId = message.participantId;
        this.meetingId = message.meetingId;
        this.audioSlots = message.audioSlots;
        for (const track of message.tracks) this.tracks.set(track.trackId, track);
        break;
      case 'track-published':
        this.tracks.set(message.track.trackId, message.track);
        break;
      case 'track-unpublished':
        this.tracks.delete(message.trackId);
        break;
      case 'answer':
        this.applySlots(message.slots);
        this.pendingAnswer?.(message);
        break;
      case 'slots':
        this.applySlots(message.slots);
        this.emit('slots', [...this.remote.values()]);
        break;
      case 'renegotiate':
        void this.renegotiate(message.audioSlots, message.videoSlots).catch(() => undefined);
        break;
      case 'error':
        this.emit('refused', message);
        break;
      default:
        break;
    }
    this.emit('message', message);
  }

  private onClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.peer.close();
    this.emit('closed', { code, reason });
  }

  private applySlots(slots: readonly { mid: string; trackId: string | null }[]): void {
    for (const { mid, trackId } of slots) {
      const remote = this.remote.get(mid);
      if (remote) remote.trackId = trackId ?? undefined;
    }
  }

  /** Publishes tracks and offers; resolves with the track ids the module gave them, by source. */
  async publish(publications: readonly Publication[]): Promise<Map<TrackSource, string>> {
    for (const publication of publications) {
      this.publications.push({ source: publication.source, sender: this.peer.addSender(publication) });
    }
    const answer = await this.negotiate();
    const ids = new Map<TrackSource, string>();
    for (const { mid, trackId } of answer.published) {
      const publication = this.publications.find((p) => p.sender.mid === mid);
      if (publication) ids.set(publication.source, trackId);
    }
    return ids;
  }

  /** Offers with enough receive slots for the meeting's audio slots and the others' video tracks. */
  async receive(): Promise<void> {
    const videos = [...this.tracks.values()].filter((t) => t.kind === 'video' && t.participantId !== this.participantId).length;
    await this.renegotiate(this.audioSlots, videos);
  }

  private async renegotiate(audioSlots: number, videoSlots: number): Promise<void> {
    const count = (kind: MediaKind) => [...this.remote.values(), ...this.pendingSlots].filter((r) => r.kind === kind).length;
    for (let i = count('audio'); i < audioSlots; i++) this.pendingSlots.push(this.peer.addReceiver('audio'));
    for (let i = count('video'); i < videoSlots; i++) this.pendingSlots.push(this.peer.addReceiver('video'));
    await this.negotiate();
  }

  /** One offer/answer exchange at a time. */
  private negotiate(): Promise<ServerMessageOf<'answer'>> {
    const run = this.negotiation.then(() => this.exchange());
    this.negotiation = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async exchange(): Promise<ServerMessageOf<'answer'>> {
    const offer = await this.peer.offer();
    for (const remote of this.pendingSlots.splice(0)) {
      // A slot added while this offer was being created waits for the next one.
      if (remote.mid) this.remote.set(remote.mid, remote);
      else this.pendingSlots.push(remote);
    }
    await this.peer.gathered();
    const publications = this.publications.flatMap(({ source, sender }) => (sender.mid ? [{ mid: sender.mid, source }] : []));
    let refused: ((error: ServerMessageOf<'error'>) => void) | undefined;
    const answered = new Promise<ServerMessageOf<'answer'>>((resolve, reject) => {
      this.pendingAnswer = resolve;
      refused = (error) => reject(codedError(error));
      this.once('refused', refused);
    });
    this.send({ type: 'offer', sdp: this.peer.localSdp() ?? offer, publications });
    let answer: ServerMessageOf<'answer'>;
    try {
      answer = await answered;
    } finally {
      this.pendingAnswer = undefined;
      if (refused) this.off('refused', refused);
    }
    await this.peer.answer(answer.sdp);
    return answer;
  }

  /** Pauses/resumes a received track or changes its quality (SD or HD). */
  setSubscription(trackId: string, options: { paused?: boolean; quality?: 'SD' | 'HD' }): void {
    this.send({ type: 'subscription', trackId, ...options });
  }

  /** Resolves when the connection is up (ICE and DTLS); rejects after `timeoutMs` (default 10 000). */
  async connected(timeoutMs = 10_000): Promise<void> {
    if (this.peer.connectionState === 'connected') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.peer.onConnectionStateChange((state) => {
        if (state !== 'connected') return;
        clearTimeout(timer);
        stop();
        resolve();
      });
    });
  }

  /** Sends a raw frame (for tests of the module's door). */
  sendRaw(frame: string): void {
    this.socket.send(frame);
  }

  private send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }


  /** Leaves the meeting and closes everything; waits up to 2 s for the module to close the socket. Harmless once closed. */
  async leave(): Promise<void> {
    if (this.closed) return;
    if (this.socket.readyState === OPEN) this.send({ type: 'leave' });
    await closedByPeer(this.socket);
    this.onClose(1000, 'left');
  }
}
