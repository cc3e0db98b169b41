export { Assigner, authorizeJoin, type AssignRequest, type Assignment, type AssignerOptions } from './assigner';
export {
  CachedMeetingInfoSource,
  GrpcMeetingInfoSource,
  StaticMeetingInfoSource,
  meetingInfoFromController,
  type GrpcMeetingInfoSourceOptions,
  type MeetingInfo,
  type MeetingInfoSource,
} from './meeting-info';
export { AssignBody, AssignReply, registerJoinRoutes, type JoinRoutesOptions } from './routes';
