/**
 * The bench's clients (publishers and subscribers, for either forwarder):
 * loopback werift connections that decrypt SRTP and SRTCP on the native fast
 * path when it is built, as the module does, so that the clients are not
 * what saturates first, and leave their receiver reports to one
 * ConnectionReporter a connection, as browsers send them (MediaClient makes
 * it; a bare client connection needs `reportReceived`). Apart from peers.ts
 * so that the plain forwarder's process, which takes its connections from
 * there, loads none of meetedge's werift code.
 */
import { loadFastPath } from '@meetedge/fastpath';
import { ConnectionReporter, fastRtpDecryptor, fastSrtcpCodec } from '@meetedge/werift-kit';
import type { RTCPeerConnection } from 'werift';
import { loopbackPeer } from './peers';

export function clientPeer(): RTCPeerConnection {
  const fastPath = loadFastPath().fastPath;
  const codecs = fastPath ? { srtpRtpDecryptorFactory: fastRtpDecryptor(fastPath), srtcpCodecFactory: fastSrtcpCodec(fastPath) } : {};
  return loopbackPeer({ ...codecs, receiverReportLoop: false });
}

/** Receiver reports of a client connection that is not a MediaClient's: once a second, until `close()`. */
export function reportReceived(pc: RTCPeerConnection): ConnectionReporter {
  return new ConnectionReporter(pc, () => []);
}
