import { isIP } from 'node:net';
import { fastRtpDecryptor, fastSrtcpCodec } from '@meetedge/werift-kit';
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  defaultPeerConfig,
  useAbsSendTime,
  useAudioLevelIndication,
  useH264,
  useNACK,
  useOPUS,
  usePLI,
  useREMB,
  useRepairedRtpStreamId,
  useSdesMid,
  useSdesRTPStreamId,
  useVP8,
  type PeerConfig,
  type RTCIceServer,
  type RTCPeerConnectionConfig,
} from 'werift';
import type { TcpMux } from './tcp-mux';
import type { UdpMux } from './udp-mux';

/** 4 MiB: holds a burst of ~3,500 full-size packets; Linux caps it at net.core.rmem_max. */
export const DEFAULT_UDP_RECV_BUFFER_SIZE = 4 * 1024 * 1024;

/** How the SFU's werift connections are built (see docs/werift.md). */
export interface PeerFactoryOptions {
  /**
   * The one address offered in host candidates. Without `udpMux`, each
   * connection's socket also binds to it, so it must be a local address.
   */
  announcedIp: string;
  /** STUN/TURN servers werift may contact. Default: none — werift then contacts no server at all. */
  iceServers?: readonly RTCIceServer[];
  /** The shared UDP port. Without it, every connection binds its own socket (tests, development). */
  udpMux?: UdpMux;
  /** SO_RCVBUF of per-connection sockets in bytes (unused with `udpMux`, which has its own). Default 4 MiB. */
  udpRecvBufferSize?: number;
  /**
   * The shared TCP port: with it, each connection also offers a passive ICE-TCP
   * host candidate on it (patch 009). Without it, no TCP candidate.
   */
  tcpMux?: TcpMux;
}

/**
 * Codecs the SFU negotiates, fresh objects per call (werift assigns payload
 * types into them). Video feedback is NACK, PLI and REMB — not transport-cc:
 * with werift's TWCC feedback Chromium's estimate stays at ~150–300 kbps, so the
 * SFU steers senders with REMB instead (rtcp-feedback.ts).
 */
export function sfuCodecs(): Required<PeerConfig['codecs']> {
  const videoFeedback = () => [useNACK(), usePLI(), useREMB()];
  const rtx = () => new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000 });
  return {
    audio: [useOPUS()],
    // werift gives each RTX entry apt = the payload type just before it.
    video: [useVP8({ rtcpFeedback: videoFeedback() }), rtx(), useH264({ rtcpFeedback: videoFeedback() }), rtx()],
  };
}

/**
 * RTP header extensions the SFU negotiates: mid, rid and repaired-rid for
 * simulcast, audio level for active-speaker detection, abs-send-time for
 * receive-side estimation. No transport-wide-cc (see sfuCodecs).
 */
export function sfuHeaderExtensions(): Required<PeerConfig['headerExtensions']> {
  return {
    audio: [useSdesMid(), useAudioLevelIndication()],
    video: [useSdesMid(), useSdesRTPStreamId(), useRepairedRtpStreamId(), useAbsSendTime()],
  };
}

/**
 * The werift configuration of an SFU connection. Its receivers send no
 * receiver reports of their own (`receiverReportLoop: false`): whoever holds
 * the connection runs a `ConnectionReporter` (@meetedge/werift-kit), as
 * participants and cascade links do.
 */
export function peerConfig(options: PeerFactoryOptions): RTCPeerConnectionConfig {
  const family = isIP(options.announcedIp);
  if (family === 0) throw new Error(`announcedIp must be an IP address, got "${options.announcedIp}"`);
  const ipv6 = family === 6;
  if (options.udpMux && options.udpMux.socketType !== (ipv6 ? 'udp6' : 'udp4')) {
    throw new Error(`announcedIp ${options.announcedIp} is not of the UDP mux's family (${options.udpMux.socketType})`);
  }
  if (options.tcpMux && options.tcpMux.socketType !== (ipv6 ? 'tcp6' : 'tcp4')) {
    throw new Error(`announcedIp ${options.announcedIp} is not of the TCP mux's family (${options.tcpMux.socketType})`);
  }
  return {
    iceServers: (options.iceServers ?? []).map((server) => ({ ...server })),
    // Exactly one host candidate: the announced address (patch 002 makes the
    // interface filter exact; the additional address adds it even when it is
    // a loopback address or, behind a 1:1 NAT, not a local one).
    iceUseIpv4: !ipv6,
    iceUseIpv6: ipv6,
    iceInterfaceAddresses: ipv6 ? { udp6: options.announcedIp } : { udp4: options.announcedIp },
    iceAdditionalHostAddresses: [options.announcedIp],
    // ICE-TCP only through the shared TCP port: a passive candidate, no active
    // one (the module never connects out) and no listener per connection.
    iceUseTcp: options.tcpMux !== undefined,
    iceTcpTransportFactory: options.tcpMux?.transportFactory,
    iceUdpRecvBufferSize: options.udpMux ? undefined : (options.udpRecvBufferSize ?? DEFAULT_UDP_RECV_BUFFER_SIZE),
    iceUdpTransportFactory: options.udpMux?.transportFactory,
    // The module's fast path (libs/fastpath) decrypts received RTP, whichever port it came in on (patch 012).
    srtpRtpDecryptorFactory: options.udpMux?.fastPath ? fastRtpDecryptor(options.udpMux.fastPath) : undefined,
    // ... and protects and unprotects its SRTCP (patch 015): receiver reports, NACK, PLI, REMB, our sender reports.
    srtcpCodecFactory: options.udpMux?.fastPath ? fastSrtcpCodec(options.udpMux.fastPath) : undefined,
    // Receivers report in the connection's one RTCP report a second (ConnectionReporter), not each on its own timer (patch 017).
    receiverReportLoop: false,
    // One ICE/DTLS transport per connection: the mux keys on it, browsers bundle anyway.
    bundlePolicy: 'max-bundle',
    codecs: sfuCodecs(),
    headerExtensions: sfuHeaderExtensions(),
  };
}

/**
 * Throws unless werift carries patches/ (docs/werift.md). patch-package applies
 * the numbered patches in order and stops at the first that fails, and it exits
 * 0 when run locally, so the option added by patch 017, the last to add one, proves
 * 001–017 (010, 011, 013, 014 and 016 add no option to test for: without 010
 * dtls-handshake.spec.ts fails, without 011 jest never exits after
 * cascade.spec.ts, 013, 014 and 016 have their own specs; and the postinstall's
 * --error-on-fail fails `npm install`).
 * The ESM build (werift's lib/index.mjs) is not patched either: load werift
 * through require(), as jest, tsx and the esbuild bundles here do.
 */
export function assertWeriftPatched(): void {
  if (!('receiverReportLoop' in defaultPeerConfig)) {
    throw new Error('werift is not patched: run `npm install` (its postinstall applies patches/) and load werift through require()');
  }
}

/** A werift RTCPeerConnection with the SFU's production options. */
export function createPeerConnection(options: PeerFactoryOptions): RTCPeerConnection {
  assertWeriftPatched();
  return new RTCPeerConnection(peerConfig(options));
}
