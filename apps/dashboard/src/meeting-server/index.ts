export { MEETING_SIGNAL_WEBSOCKET_OPTIONS, MeetingServer, registerMeetingSignal, type MeetingRecord, type MeetingRecords, type MeetingServerOptions } from './meeting-server';
