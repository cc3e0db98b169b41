// werift made fit for production (docs/werift.md): connections with the SFU's
// options, the shared UDP and TCP ports, and the RTCP werift does not send itself.
export {
  DEFAULT_UDP_RECV_BUFFER_SIZE,
  assertWeriftPatched,
  createPeerConnection,
  peerConfig,
  sfuCodecs,
  sfuHeaderExtensions,
  type PeerFactoryOptions,
} from './peer-factory';
export { GATHER_TIMEOUT_MS, gathered } from './gathering';
export { createFir, createRemb, rembBitrateFields, sendFir, sendRemb } from './rtcp-feedback';
export {
  DEFAULT_FIRST_FRAME_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  MuxedTcpTransport,
  TcpMux,
  type TcpMuxOptions,
  type TcpMuxStats,
} from './tcp-mux';
export { MuxedUdpTransport, UdpMux, type UdpMuxOptions, type UdpMuxStats } from './udp-mux';
