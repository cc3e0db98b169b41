export { MEETING_SIGNAL_WEBSOCKET_OPTIONS, MeetingServer, registerMeetingSignal, type MeetingRecord, type MeetingRecords, type MeetingServerOptions } from './meeting-server';
export { Room, type Identity, type RoomMeeting, type Seat } from './room';
