/**
 * @meetedge/media: the SFU's forwarding core. Packets in (bytes), decisions
 * out (numbers); no sockets, no timers, no logging, no werift. Time is passed
 * in as `nowMs` arguments. See libs/media/README.md.
 */
export * from './sequence';
export * from './rtp';
export * from './rtcp';
export * from './vp8';
export * from './h264';
export * from './munger';
export * from './retransmission-cache';
export * from './keyframe-requests';
export * from './audio-level';
export * from './layers';
