export {
  MEETING_SIGNAL_WEBSOCKET_OPTIONS,
  MeetingServer,
  registerMeetingSignal,
  type MeetingRecord,
  type MeetingRecords,
  type MeetingServerOptions,
  type MeetingServerTotals,
} from './meeting-server';
export { registerMeetingServerMetrics } from './metrics';
