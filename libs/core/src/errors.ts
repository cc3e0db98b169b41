/**
 * Coded errors shared by every app. Code inside the system throws
 * `MeetedgeError` with a code from `ERROR_CODES`; each door (HTTP, WebSocket,
 * gRPC) translates it once, at the edge, with the status the code carries.
 * Anything else that escapes is an internal error whose details stay in the
 * log.
 */

/**
 * Every code the system answers with, and what it maps to at each door. A code
 * with a `publicMessage` hides its own message from callers: such messages
 * name hosts, addresses and internals (a Redis URL, a driver's error text),
 * which stay in the log.
 */
export const ERROR_CODES = {
  /** A request, message or value failed validation. */
  INVALID_ARGUMENT: { http: 400, grpc: 3 },
  /** An identifier does not have the id syntax. */
  INVALID_ID: { http: 400, grpc: 3 },
  /** A configuration key is unknown or its value is invalid (boot only). */
  INVALID_CONFIG: { http: 500, grpc: 9, publicMessage: 'the service is misconfigured' },
  /** No credentials, or credentials that do not verify. */
  UNAUTHENTICATED: { http: 401, grpc: 16 },
  /** Authenticated, but not allowed to do this. */
  FORBIDDEN: { http: 403, grpc: 7 },
  NOT_FOUND: { http: 404, grpc: 5 },
  /** The thing exists already (e.g. a module id registered twice). */
  ALREADY_EXISTS: { http: 409, grpc: 6 },
  /** The request conflicts with the current state (e.g. the module is draining). */
  CONFLICT: { http: 409, grpc: 9 },
  /** A module, zone or node has no room for what was asked. */
  CAPACITY_EXCEEDED: { http: 503, grpc: 8 },
  /** Too many requests from one user or address. */
  RATE_LIMITED: { http: 429, grpc: 8 },
  /** A dependency (Redis, a peer service) is not reachable right now. */
  UNAVAILABLE: { http: 503, grpc: 14, publicMessage: 'a service this request needs is unavailable; try again' },
  /** A bug or an unexpected failure; details are logged, never returned. */
  INTERNAL: { http: 500, grpc: 13, publicMessage: 'internal error' },
} as const satisfies Record<string, { http: number; grpc: number; publicMessage?: string }>;


export type ErrorCode = keyof typeof ERROR_CODES;

export class MeetedgeError extends Error {
  override readonly name = 'MeetedgeError';

  /**
   * @param code what went wrong, machine-readable; decides the status at each door
   * @param message what went wrong, for a person: name the field or key and the value
   * @param details optional structured facts safe to return to the caller
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get grpcStatus(): number {
    return ERROR_CODES[this.code].grpc;
  }
}

export function isMeetedgeError(err: unknown): err is MeetedgeError {
  return err instanceof MeetedgeError;
}

/** The body every door answers an error with. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/**
 * Translates anything thrown into what may be shown to a caller. Coded errors
 * keep their message, except codes with a `publicMessage` (their message stays in
 * the log, the caller gets a generic one); anything else becomes INTERNAL, so
 * stack traces and internals never leave the process.
 */
export function toErrorBody(err: unknown): { status: number; grpcStatus: number; body: ErrorBody } {
  if (isMeetedgeError(err)) {
    const spec = ERROR_CODES[err.code];
    const hidden: string | undefined = 'publicMessage' in spec ? spec.publicMessage : undefined;
    const body: ErrorBody = { error: { code: err.code, message: hidden ?? err.message } };
    if (err.details && hidden === undefined) body.error.details = { ...err.details };
    return { status: err.httpStatus, grpcStatus: err.grpcStatus, body };
  }
  return {
    status: 500,
    grpcStatus: ERROR_CODES.INTERNAL.grpc,
    body: { error: { code: 'INTERNAL', message: ERROR_CODES.INTERNAL.publicMessage } },
  };
}
