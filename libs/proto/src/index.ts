/**
 * @meetedge/proto — the service-to-service contracts (ZCP ↔ module, ZCP ↔
 * cloud zone controller, media server ↔ media server cascade), generated from
 * the .proto files in libs/proto/proto by ts-proto, plus the few functions
 * that map wire values to domain values at the gRPC door. See docs/contracts.md.
 */
export * as v1 from './v1';
export { meetingInfoFromProto, meetingInfoToProto, qualityFromProto, qualityToProto, type MeetingInfo } from './mapping';
export { fromGrpcError, grpcStatusForCode, toGrpcError, ERROR_CODE_METADATA_KEY } from './grpc-errors';
