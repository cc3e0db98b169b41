/** werift connections of the bench: clients, and the plain forwarder's side. */
import {
  RTCPeerConnection,
  type RTCPeerConnectionConfig,
  useAbsSendTime,
  useAudioLevelIndication,
  useNACK,
  useOPUS,
  usePLI,
  useREMB,
  useSdesMid,
  useVP8,
} from 'werift';

export const LOOPBACK = '127.0.0.1';
/** 4 MiB receive buffers (Linux caps them at net.core.rmem_max), as the module's own sockets have. */
export const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** What a client connection sets apart from the plain forwarder's: SRTP codecs (patches 012, 015) and its reports (017). */
export type ClientOptions = Pick<RTCPeerConnectionConfig, 'srtpRtpDecryptorFactory' | 'srtcpCodecFactory' | 'receiverReportLoop'>;

/**
 * A werift connection on 127.0.0.1 only (one host candidate, no STUN), with
 * what libs/client offers: Opus with audio level, VP8 with NACK, PLI, REMB.
 * The plain forwarder's own connections take it as it is; the bench's
 * clients add their options (client-peer.ts).
 */
export function loopbackPeer(client: ClientOptions = {}): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    iceUseIpv4: true,
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: LOOPBACK },
    iceAdditionalHostAddresses: [LOOPBACK],
    iceUdpRecvBufferSize: RECV_BUFFER_BYTES,
    bundlePolicy: 'max-bundle',
    codecs: { audio: [useOPUS()], video: [useVP8({ rtcpFeedback: [useNACK(), usePLI(), useREMB()] })] },
    headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()], video: [useSdesMid(), useAbsSendTime()] },
    ...client,
  });
}

/** Resolves when ICE gathering is complete (offers and answers carry every candidate). */
export async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') {
        unSubscribe();
        resolve();
      }
    });
  });
}

/** Resolves when the connection is up (ICE and DTLS). */
export async function connected(pc: RTCPeerConnection, timeoutMs = 20_000): Promise<void> {
  if (pc.connectionState === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not connected within ${timeoutMs} ms`)), timeoutMs);
    const { unSubscribe } = pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        clearTimeout(timer);
        unSubscribe();
        resolve();
      }
    });
  });
}
