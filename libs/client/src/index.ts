/**
 * The client SDK, Node entry (`@meetedge/client`): the media-session client
 * on werift, and the meeting-signaling client on ws. The browser entry is
 * `@meetedge/client/browser` (./browser); both share the logic of
 * ./session.ts and ./meeting-signal.ts.
 */
export { MediaClient, type MediaClientEvents, type MediaClientOptions, type Publication, type RemoteTrack } from './node/media-client';
export { MeetingSignalClient, type MeetingSignalClientOptions } from './node/meeting-signal-client';
export { type MeetingInfo, type MeetingSignalEvents } from './meeting-signal';
export { median, probeZones, rankZones, type ProbeOptions, type ZoneRtt, type ZoneToProbe } from './zone-probe';
export { StayingMeeting, isServerFailure, type MoveEvent, type StayOptions, type StayableMedia, type StayableSignal, type StayingEvents } from './failover';
export { MEDIA_AT_MODULE, MEDIA_IN_CLOUD, assignInZone, joinMeeting, moduleSignalingUrl, type Assignment, type JoinAnswer, type JoinMeetingOptions, type JoinedMeeting } from './join';
