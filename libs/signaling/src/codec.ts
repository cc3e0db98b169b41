/**
 * The door of the media session: turns a raw WebSocket frame into a typed
 * client message, or a coded error that says what was wrong. Validators are
 * compiled once (TypeBox's TypeCompiler), so checking a message costs
 * microseconds.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { MeetedgeError } from '@meetedge/core';
import { CLIENT_MESSAGE_SCHEMAS, ServerMessageSchema, type ClientMessage, type ClientMessageType, type ServerMessage } from './media-session';

/** Largest client frame accepted, bytes: an offer with its SDP fits in 64 KiB with room to spare. */
export const MAX_CLIENT_MESSAGE_BYTES = 80 * 1024;

const clientChecks = Object.fromEntries(
  Object.entries(CLIENT_MESSAGE_SCHEMAS).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
) as Record<ClientMessageType, TypeCheck<TSchema>>;

const serverCheck = TypeCompiler.Compile(ServerMessageSchema);

/**
 * Parses one frame from a client. Throws `MeetedgeError('INVALID_ARGUMENT')`
 * naming the problem: too large, not JSON, no known `type`, or the first
 * schema violation with its path.
 */
export function decodeClientMessage(frame: string | Buffer): ClientMessage {
  const length = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
  if (length > MAX_CLIENT_MESSAGE_BYTES) {
    throw new MeetedgeError('INVALID_ARGUMENT', `message of ${length} bytes exceeds ${MAX_CLIENT_MESSAGE_BYTES}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof frame === 'string' ? frame : frame.toString('utf8'));
  } catch {
    throw new MeetedgeError('INVALID_ARGUMENT', 'message is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MeetedgeError('INVALID_ARGUMENT', 'message must be a JSON object');
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(clientChecks, type)) {
    throw new MeetedgeError(
      'INVALID_ARGUMENT',
      `unknown message type ${JSON.stringify(type)}; expected one of ${Object.keys(clientChecks).join(', ')}`,
    );
  }
  const check = clientChecks[type as ClientMessageType];
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const where = first?.path ? first.path : '/';
    throw new MeetedgeError('INVALID_ARGUMENT', `${type}: ${where} ${first?.message ?? 'is invalid'}`);
  }
  return value as ClientMessage;
}

/** Serializes a module → client message (the module validates its own output in tests). */
export function encodeServerMessage(message: ServerMessage): string {
  return JSON.stringify(message);
}

/** True when `value` is a well-formed module → client message (for clients and tests). */
export function isServerMessage(value: unknown): value is ServerMessage {
  return serverCheck.Check(value);
}
