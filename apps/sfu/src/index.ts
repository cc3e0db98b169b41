export { buildApp, type SfuDeps, type SfuService } from './app';
export { loadSfuConfig, sfuConfigSpec, type SfuConfig } from './config';
// The native fast path's SRTP and SRTCP codecs for werift connections (werift
// patches 012 and 015): the bench's clients decrypt with them too.
export { fastRtpDecryptor, fastSrtcpCodec } from './webrtc/srtp';
