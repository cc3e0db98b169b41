/**
 * The media-session client (docs/protocol.md) for Node, on werift: join a
 * module with a ticket, publish microphone / camera / screen tracks, receive
 * the others' tracks in receive slots, and follow the module's events.
 * Later issues and the tests use it; a browser build over the native
 * RTCPeerConnection follows the same API.
 */
import { EventEmitter } from 'node:events';
import { ERROR_CODES, MeetedgeError, type ErrorCode } from '@meetedge/core';
import { isServerMessage, type ServerMessage, type ServerMessageOf, type TrackInfo, type TrackSource } from '@meetedge/signaling';
import {
  type MediaStreamTrack,
  RTCPeerConnection,
  useAbsSendTime,
  useAudioLevelIndication,
  useH264,
  useNACK,
  useOPUS,
  usePLI,
  useREMB,
  useSdesMid,
  useVP8,
  type RTCRtpTransceiver,
  type RtpPacket,
} from 'werift';
import WebSocket from 'ws';

export interface MediaClientOptions {
  /** The module's media-session URL, e.g. `ws://10.1.2.3:8100/v1/media`. */
  url: string;
  /** Join ticket from a ZCP. */
  ticket: string;
  /** Builds the client's connection; default: werift with no ICE servers. */
  createPeer?: () => RTCPeerConnection;
  /** Give up joining after this many ms. Default 10 000. */
  timeoutMs?: number;
}

/** A track this client receives: which published track a receive slot carries now. */
export interface RemoteTrack {
  readonly mid: string;
  readonly kind: 'audio' | 'video';
  /** The werift track of the slot (its RTP arrives here, whoever owns the slot). */
  readonly track: MediaStreamTrack;
  /** The published track the slot carries now; undefined while free. */
  trackId: string | undefined;
  /**
   * Calls `listener` with every RTP packet the slot receives, whichever werift
   * track carries it (werift swaps the slot's track during negotiation).
   * Returns a function that stops the calls.
   */
  onRtp(listener: (packet: RtpPacket) => void): () => void;
}

export interface MediaClientEvents {
  message: [ServerMessage];
  slots: [RemoteTrack[]];
  /** The module refused a message (not named `error`: an EventEmitter throws an unheard 'error'). */
  refused: [ServerMessageOf<'error'>];
  closed: [{ code: number; reason: string }];
}

/**
 * What a browser offers, in werift: Opus with the audio-level extension (the
 * module ranks speakers by it), VP8 and H.264 with NACK, PLI and REMB.
 */
function defaultPeer(): RTCPeerConnection {
  const feedback = () => [useNACK(), usePLI(), useREMB()];
  return new RTCPeerConnection({
    iceServers: [],
    // One transport for every m-line, as browsers do (and no socket per extra m-line).
    bundlePolicy: 'max-bundle',
    codecs: { audio: [useOPUS()], video: [useVP8({ rtcpFeedback: feedback() }), useH264({ rtcpFeedback: feedback() })] },
    headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()], video: [useSdesMid(), useAbsSendTime()] },
  });
}

/** The module's error message as a MeetedgeError (an unknown code becomes INTERNAL). */
function codedError(error: ServerMessageOf<'error'>): MeetedgeError {
  const code = Object.hasOwn(ERROR_CODES, error.code) ? (error.code as ErrorCode) : 'INTERNAL';
  return new MeetedgeError(code, error.message);
}

export class MediaClient extends EventEmitter<MediaClientEvents> {
  readonly pc: RTCPeerConnection;
  participantId = '';
  meetingId = '';
  /** Published tracks of the meeting, by id, as the module announced them. */
  readonly tracks = new Map<string, TrackInfo>();
  /** Receive slots by mid. */
  readonly remote = new Map<string, RemoteTrack>();
  private readonly publications = new Map<RTCRtpTransceiver, { source: TrackSource; transceiver: RTCRtpTransceiver }>();
  private audioSlots = 0;
  private negotiation: Promise<void> = Promise.resolve();
  private pendingAnswer: ((message: ServerMessageOf<'answer'>) => void) | undefined;
  private closed = false;

  private constructor(
    private readonly socket: WebSocket,
    options: MediaClientOptions,
  ) {
    super();
    this.pc = options.createPeer ? options.createPeer() : defaultPeer();
  }

  /** Opens the session and joins; resolves once the module accepted the ticket. */
  static async join(options: MediaClientOptions): Promise<MediaClient> {
    const socket = new WebSocket(options.url);
    const client = new MediaClient(socket, options);
    const timeoutMs = options.timeoutMs ?? 10_000;
    try {
      await client.joined(options.ticket, timeoutMs);
    } catch (err) {
      // Nothing of a failed join stays open.
      socket.terminate();
      client.onClose(1006, 'join failed');
      throw err;
    }
    return client;
  }

  private joined(ticket: string, timeoutMs: number): Promise<void> {
    const socket = this.socket;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new MeetedgeError('UNAVAILABLE', `no answer to join within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      const unreachable = (err: Error) => fail(new MeetedgeError('UNAVAILABLE', `cannot reach the module: ${err.message}`));
      socket.once('error', unreachable);
      socket.once('open', () => socket.send(JSON.stringify({ type: 'join', ticket })));
      socket.on('message', (data) => this.onMessage(data.toString()));
      socket.once('close', (code, reason) => {
        this.onClose(code, reason.toString());
        fail(new MeetedgeError('UNAVAILABLE', `session closed (${code}) ${reason.toString()}`));
      });
      const refused = (error: ServerMessageOf<'error'>) => fail(codedError(error));
      this.once('refused', refused);
      const first = (message: ServerMessage) => {
        if (message.type !== 'joined') return this.once('message', first);
        clearTimeout(timer);
        socket.off('error', unreachable);
        // A later socket error ends in 'close' (handled); without a listener ws would throw it.
        socket.on('error', () => undefined);
        this.off('refused', refused);
        resolve();
      };
      this.once('message', first);
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
    void this.pc.close().catch(() => undefined);
    this.emit('closed', { code, reason });
  }

  private applySlots(slots: readonly { mid: string; trackId: string | null }[]): void {
    for (const { mid, trackId } of slots) {
      const remote = this.remote.get(mid);
      if (remote) remote.trackId = trackId ?? undefined;
    }
  }

  /**
   * Publishes tracks and offers; resolves with the track ids the module gave
   * them. `tracks` are werift tracks the caller writes RTP into.
   */
  async publish(tracks: readonly { source: TrackSource; track: MediaStreamTrack }[]): Promise<Map<TrackSource, string>> {
    for (const { source, track } of tracks) {
      const transceiver = this.pc.addTransceiver(track, { direction: 'sendonly' });
      this.publications.set(transceiver, { source, transceiver });
    }
    const answer = await this.negotiate();
    const ids = new Map<TrackSource, string>();
    for (const { mid, trackId } of answer.published) {
      const publication = [...this.publications.values()].find((p) => p.transceiver.mid === mid);
      if (publication) ids.set(publication.source, trackId);
    }
    return ids;
  }

  /** Offers with enough receive slots for what the module has and the meeting's audio slots. */
  async receive(): Promise<void> {
    const videos = [...this.tracks.values()].filter((t) => t.kind === 'video' && t.participantId !== this.participantId).length;
    await this.renegotiate(this.audioSlots, videos);
  }

  private async renegotiate(audioSlots: number, videoSlots: number): Promise<void> {
    const count = (kind: 'audio' | 'video') => [...this.remote.values()].filter((r) => r.kind === kind).length;
    for (let i = count('audio'); i < audioSlots; i++) this.addSlot('audio');
    for (let i = count('video'); i < videoSlots; i++) this.addSlot('video');
    await this.negotiate();
  }

  private addSlot(kind: 'audio' | 'video'): void {
    const transceiver = this.pc.addTransceiver(kind, { direction: 'recvonly' });
    const listeners = new Set<(packet: RtpPacket) => void>();
    const deliver = (packet: RtpPacket) => {
      for (const listener of listeners) listener(packet);
    };
    const pending: RemoteTrack = {
      mid: '',
      kind,
      track: transceiver.receiver.track,
      trackId: undefined,
      onRtp(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    transceiver.receiver.track.onReceiveRtp.subscribe(deliver);
    transceiver.onTrack.subscribe((track) => {
      (pending as { track: MediaStreamTrack }).track = track;
      track.onReceiveRtp.subscribe(deliver);
    });
    // The mid is known once the offer is set; register then.
    this.pendingSlots.push({ transceiver, remote: pending });
  }

  private readonly pendingSlots: { transceiver: RTCRtpTransceiver; remote: RemoteTrack }[] = [];

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
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    for (const { transceiver, remote } of this.pendingSlots.splice(0)) {
      const mid = transceiver.mid ?? '';
      (remote as { mid: string }).mid = mid;
      this.remote.set(mid, remote);
    }
    await this.gathered();
    const publications = [...this.publications.values()]
      .filter((p) => p.transceiver.mid != null)
      .map((p) => ({ mid: p.transceiver.mid as string, source: p.source }));
    let refused: ((error: ServerMessageOf<'error'>) => void) | undefined;
    const answered = new Promise<ServerMessageOf<'answer'>>((resolve, reject) => {
      this.pendingAnswer = resolve;
      refused = (error) => reject(codedError(error));
      this.once('refused', refused);
    });
    this.send({ type: 'offer', sdp: this.pc.localDescription?.sdp ?? offer.sdp, publications });
    let answer: ServerMessageOf<'answer'>;
    try {
      answer = await answered;
    } finally {
      this.pendingAnswer = undefined;
      if (refused) this.off('refused', refused);
    }
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    return answer;
  }

  private async gathered(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return;
    await new Promise<void>((resolve) => {
      const { unSubscribe } = this.pc.iceGatheringStateChange.subscribe((state) => {
        if (state === 'complete') {
          unSubscribe();
          resolve();
        }
      });
    });
  }

  /** Pause/resume a received track or change its quality. */
  setSubscription(trackId: string, options: { paused?: boolean; quality?: 'SD' | 'HD' }): void {
    this.send({ type: 'subscription', trackId, ...options });
  }

  /** Resolves when the connection is up (ICE and DTLS). */
  async connected(timeoutMs = 10_000): Promise<void> {
    if (this.pc.connectionState === 'connected') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not connected within ${timeoutMs} ms`)), timeoutMs);
      const { unSubscribe } = this.pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected') {
          clearTimeout(timer);
          unSubscribe();
          resolve();
        }
      });
    });
  }

  /** Sends a raw frame (for tests of the module's door). */
  sendRaw(frame: string | Buffer): void {
    this.socket.send(frame);
  }

  private send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Leaves the meeting and closes everything. */
  async leave(): Promise<void> {
    if (this.closed) return;
    if (this.socket.readyState === WebSocket.OPEN) this.send({ type: 'leave' });
    await new Promise<void>((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve();
      const timer = setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, 2000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.onClose(1000, 'left');
  }
}
