// werift made fit for production (docs/werift.md): connections with the SFU's
// options, the shared UDP port, and the RTCP werift does not send itself.
export {
  DEFAULT_UDP_RECV_BUFFER_SIZE,
  assertWeriftPatched,
  createPeerConnection,
  peerConfig,
  sfuCodecs,
  sfuHeaderExtensions,
  type PeerFactoryOptions,
} from './peer-factory';
export { createFir, createRemb, rembBitrateFields, sendFir, sendRemb } from './rtcp-feedback';
export { MuxedUdpTransport, UdpMux, type UdpMuxOptions, type UdpMuxStats } from './udp-mux';
