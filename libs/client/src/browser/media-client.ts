/// <reference lib="dom" />
/**
 * The media-session client (docs/protocol.md) in a browser, on the native
 * RTCPeerConnection and WebSocket: the same API as the Node client
 * (`@meetedge/client`), with MediaStreamTracks. The session logic is
 * ../session.ts; this file only adapts the browser's peer connection.
 */
import type { TrackSource } from '@meetedge/signaling';
import { MediaSession, type MediaKind, type PeerAdapter, type ReceiveSlot, type SessionEvents } from '../session';

export interface MediaClientOptions {
  /** The module's media-session URL, e.g. `wss://media.example.org/v1/media`. */
  url: string;
  /** Join ticket from a ZCP. */
  ticket: string;
  /** Builds the client's connection; default: no ICE servers, one transport for every m-line. */
  createPeer?: () => RTCPeerConnection;
  /** Give up joining after this many ms. Default 10 000. */
  timeoutMs?: number;
}

/** A track to publish. */
export interface Publication {
  source: TrackSource;
  track: MediaStreamTrack;
  /**
   * Send three simulcast layers, rids `q` (¼ resolution), `h` (½) and `f`
   * (full), so the module can send each subscriber the quality it can take.
   * For a camera. Default false.
   */
  simulcast?: boolean;
}

/** A receive slot: which published track it carries now, and its track. */
export interface RemoteTrack extends ReceiveSlot {
  /** The slot's track, from its creation: attach it to a <video> or <audio>; its source changes with `trackId`. */
  readonly track: MediaStreamTrack;
}

export type MediaClientEvents = SessionEvents<RemoteTrack>;

/** The simulcast layers the module knows, lowest first. */
const SIMULCAST: RTCRtpEncodingParameters[] = [
  { rid: 'q', scaleResolutionDownBy: 4 },
  { rid: 'h', scaleResolutionDownBy: 2 },
  { rid: 'f' },
];

function nativePeer(pc: RTCPeerConnection): PeerAdapter<Publication, RemoteTrack> {
  return {
    addSender: ({ track, simulcast }) => pc.addTransceiver(track, { direction: 'sendonly', sendEncodings: simulcast ? SIMULCAST : undefined }),
    addReceiver(kind: MediaKind) {
      const transceiver = pc.addTransceiver(kind, { direction: 'recvonly' });
      return {
        kind,
        track: transceiver.receiver.track,
        trackId: undefined,
        get mid() {
          return transceiver.mid ?? '';
        },
      };
    },
    async offer() {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      return offer.sdp ?? '';
    },
    gathered: () =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (pc.iceGatheringState !== 'complete') return;
          pc.removeEventListener('icegatheringstatechange', check);
          resolve();
        };
        pc.addEventListener('icegatheringstatechange', check);
        check();
      }),
    localSdp: () => pc.localDescription?.sdp,
    answer: (sdp) => pc.setRemoteDescription({ type: 'answer', sdp }),
    get connectionState() {
      return pc.connectionState;
    },
    onConnectionStateChange(listener) {
      const changed = () => listener(pc.connectionState);
      pc.addEventListener('connectionstatechange', changed);
      return () => pc.removeEventListener('connectionstatechange', changed);
    },
    close: () => pc.close(),
  };
}

export class MediaClient extends MediaSession<Publication, RemoteTrack> {
  private constructor(
    socket: WebSocket,
    /** The client's native peer connection. */
    readonly pc: RTCPeerConnection,
  ) {
    super(socket, nativePeer(pc));
  }

  /** Opens the session and joins; resolves once the module accepted the ticket. */
  static async join(options: MediaClientOptions): Promise<MediaClient> {
    const pc = options.createPeer ? options.createPeer() : new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
    const client = new MediaClient(new WebSocket(options.url), pc);
    await client.start(options.ticket, options.timeoutMs);
    return client;
  }

  /** The peer connection's statistics (inbound-rtp, outbound-rtp per rid, candidate pairs, …). */
  stats(): Promise<RTCStatsReport> {
    return this.pc.getStats();
  }
}
