export { Assigner, authorizeJoin, type AssignRequest, type Assignment, type AssignerOptions } from './assigner';
export {
  GrpcMeetingInfoSource,
  StaticMeetingInfoSource,
  meetingInfoFromProto,
  type GrpcMeetingInfoSourceOptions,
  type MeetingInfo,
  type MeetingInfoSource,
} from './meeting-info';
export { AssignBody, AssignReply, registerJoinRoutes, type JoinRoutesOptions } from './routes';
