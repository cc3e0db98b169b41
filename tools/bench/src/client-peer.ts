/**
 * The bench's clients (publishers and subscribers, for either forwarder):
 * loopback werift connections that decrypt SRTP and SRTCP on the native fast
 * path when it is built, as the module does, so that the clients are not
 * what saturates first. Apart from peers.ts so that the plain forwarder's
 * process, which takes its connections from there, never loads the module.
 */
import { loadFastPath } from '@meetedge/fastpath';
import { fastRtpDecryptor, fastSrtcpCodec } from '@meetedge/sfu';
import type { RTCPeerConnection } from 'werift';
import { loopbackPeer } from './peers';

export function clientPeer(): RTCPeerConnection {
  const fastPath = loadFastPath().fastPath;
  return loopbackPeer(fastPath ? { srtpRtpDecryptorFactory: fastRtpDecryptor(fastPath), srtcpCodecFactory: fastSrtcpCodec(fastPath) } : {});
}
