/**
 * The media-session client (docs/protocol.md) for Node, on werift: join a
 * module with a ticket, publish microphone / camera / screen tracks, receive
 * the others' tracks in receive slots, and follow the module's events.
 * Later issues and the tests use it. The session logic is ../session.ts,
 * shared with the browser client (../browser); this file only adapts werift.
 */
import type { TrackSource } from '@meetedge/signaling';
import { ConnectionReporter } from '@meetedge/werift-kit';
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
import { MediaSession, type MediaKind, type PeerAdapter, type ReceiveSlot, type SessionEvents } from '../session';

export interface MediaClientOptions {
  /** The module's media-session URL, e.g. `ws://10.1.2.3:8100/v1/media`. */
  url: string;
  /** Join ticket from a ZCP. */
  ticket: string;
  /**
   * Builds the client's connection; default: werift with no ICE servers. Build
   * it with `receiverReportLoop: false` to have the client send one RTCP report
   * a second for the connection (as the default does and browsers do).
   */
  createPeer?: () => RTCPeerConnection;
  /** Give up joining after this many ms. Default 10 000. */
  timeoutMs?: number;
}

/** A track to publish: a werift track the caller writes RTP into. */
export interface Publication {
  source: TrackSource;
  track: MediaStreamTrack;
}

/** A track this client receives: which published track a receive slot carries now. */
export interface RemoteTrack extends ReceiveSlot {
  /** The werift track of the slot (its RTP arrives here, whoever owns the slot). */
  readonly track: MediaStreamTrack;
  /**
   * Calls `listener` with every RTP packet the slot receives, whichever werift
   * track carries it (werift swaps the slot's track during negotiation).
   * Returns a function that stops the calls.
   */
  onRtp(listener: (packet: RtpPacket) => void): () => void;
}

export type MediaClientEvents = SessionEvents<RemoteTrack>;

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
    // One RTCP report a second for the connection, as a browser sends (see weriftPeer), not one per receive slot.
    receiverReportLoop: false,
  });
}

/** A receive slot over a werift transceiver. */
function remoteTrack(transceiver: RTCRtpTransceiver, kind: MediaKind): RemoteTrack {
  const listeners = new Set<(packet: RtpPacket) => void>();
  const deliver = (packet: RtpPacket) => {
    for (const listener of listeners) listener(packet);
  };
  const remote = {
    kind,
    track: transceiver.receiver.track,
    trackId: undefined as string | undefined,
    get mid() {
      return transceiver.mid ?? '';
    },
    onRtp(listener: (packet: RtpPacket) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  transceiver.receiver.track.onReceiveRtp.subscribe(deliver);
  transceiver.onTrack.subscribe((track) => {
    remote.track = track;
    track.onReceiveRtp.subscribe(deliver);
  });
  return remote;
}

function weriftPeer(pc: RTCPeerConnection): PeerAdapter<Publication, RemoteTrack> {
  // A connection built with `receiverReportLoop: false` (the default peer is)
  // reports what it receives here: one compound about once a second for all
  // its receive slots, as a browser does, instead of werift's report per
  // slot. (Its senders' SRs still come from werift, one per sender.)
  const reporter = new ConnectionReporter(pc, () => []);
  return {
    addSender: ({ track }) => pc.addTransceiver(track, { direction: 'sendonly' }),
    addReceiver: (kind) => remoteTrack(pc.addTransceiver(kind, { direction: 'recvonly' }), kind),
    async offer() {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      return offer.sdp;
    },
    async gathered() {
      if (pc.iceGatheringState === 'complete') return;
      await new Promise<void>((resolve) => {
        const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
          if (state !== 'complete') return;
          unSubscribe();
          resolve();
        });
      });
    },
    localSdp: () => pc.localDescription?.sdp,
    answer: async (sdp) => {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    },
    get connectionState() {
      return pc.connectionState;
    },
    onConnectionStateChange(listener) {
      return pc.connectionStateChange.subscribe(listener).unSubscribe;
    },
    close: () => {
      reporter.close();
      void pc.close().catch(() => undefined);
    },
  };
}

export class MediaClient extends MediaSession<Publication, RemoteTrack> {
  private constructor(
    private readonly ws: WebSocket,
    /** The client's werift peer connection. */
    readonly pc: RTCPeerConnection,
  ) {
    super(ws, weriftPeer(pc));
  }

  /** Opens the session and joins; resolves once the module accepted the ticket. */
  static async join(options: MediaClientOptions): Promise<MediaClient> {
    const client = new MediaClient(new WebSocket(options.url), options.createPeer ? options.createPeer() : defaultPeer());
    await client.start(options.ticket, options.timeoutMs);
    return client;
  }

  /** Sends a raw frame, text or binary (for tests of the module's door). */
  override sendRaw(frame: string | Buffer): void {
    this.ws.send(frame);
  }
}
