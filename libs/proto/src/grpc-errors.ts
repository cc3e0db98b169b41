/**
 * Coded errors across gRPC. A server handler turns anything it catches into a
 * gRPC status once, with toGrpcError: a MeetedgeError keeps its message and
 * travels with the status its code carries (ERROR_CODES[code].grpc) plus the
 * code itself in trailing metadata; anything else becomes INTERNAL with a
 * generic message, so internals never leave the process. A client turns the
 * status back into a MeetedgeError with fromGrpcError.
 */
import { ERROR_CODES, MeetedgeError, toErrorBody, type ErrorCode } from '@meetedge/core';
import { Metadata, status, type ServerErrorResponse, type ServiceError } from '@grpc/grpc-js';

/** Trailing-metadata key carrying the MeetedgeError code (e.g. "INVALID_ARGUMENT"). */
export const ERROR_CODE_METADATA_KEY = 'meetedge-error-code';

/** gRPC status a code maps to. */
export function grpcStatusForCode(code: ErrorCode): status {
  return ERROR_CODES[code].grpc as status;
}

/** Anything thrown in a handler → what to pass to the gRPC callback or `call.destroy()`. */
export function toGrpcError(err: unknown): ServerErrorResponse {
  const { grpcStatus, body } = toErrorBody(err);
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, body.error.code);
  return Object.assign(new Error(body.error.message), {
    code: grpcStatus as status,
    details: body.error.message,
    metadata,
  });
}

/** Codes a peer without our metadata key is assumed to mean, by gRPC status. */
const CODE_BY_STATUS: Partial<Record<status, ErrorCode>> = {
  [status.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [status.NOT_FOUND]: 'NOT_FOUND',
  [status.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [status.PERMISSION_DENIED]: 'FORBIDDEN',
  [status.UNAUTHENTICATED]: 'UNAUTHENTICATED',
  [status.FAILED_PRECONDITION]: 'CONFLICT',
  [status.RESOURCE_EXHAUSTED]: 'CAPACITY_EXCEEDED',
  [status.UNAVAILABLE]: 'UNAVAILABLE',
  [status.DEADLINE_EXCEEDED]: 'UNAVAILABLE',
  [status.CANCELLED]: 'UNAVAILABLE',
};

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

/** A failed call's error → MeetedgeError with the code the server sent (or the status implies). */
export function fromGrpcError(err: ServiceError): MeetedgeError {
  const sent = err.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  const code = isErrorCode(sent) ? sent : (CODE_BY_STATUS[err.code] ?? 'INTERNAL');
  return new MeetedgeError(code, err.details || err.message, { grpcStatus: err.code }, { cause: err });
}
