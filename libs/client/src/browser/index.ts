/// <reference lib="dom" />
/**
 * The browser entry of the client SDK (`@meetedge/client/browser`): the
 * media-session client on the native RTCPeerConnection, and the
 * meeting-signaling client on the native WebSocket. A page loads it as an
 * esbuild bundle (docs/protocol.md, "Client SDK").
 */
export { MediaClient, type MediaClientEvents, type MediaClientOptions, type Publication, type RemoteTrack } from './media-client';
export { MeetingSignalClient, type MeetingSignalClientOptions } from './meeting-signal-client';
export { type MeetingInfo, type MeetingSignalEvents } from '../meeting-signal';
export { MeetedgeError } from '@meetedge/core';
export { median, probeZones, rankZones, type ProbeOptions, type ZoneRtt, type ZoneToProbe } from '../zone-probe';
export { MEDIA_AT_MODULE, MEDIA_IN_CLOUD, joinMeeting, moduleSignalingUrl, type Assignment, type JoinAnswer, type JoinMeetingOptions, type JoinedMeeting } from '../join';
export { StayingMeeting, isServerFailure, type MoveEvent, type StayOptions, type StayingEvents } from '../failover';
