/**
 * The door of the media session: turns a raw WebSocket frame into a typed
 * client message, or a coded error that says what was wrong. Validators are
 * compiled once (TypeBox's TypeCompiler), so checking a message costs
 * microseconds.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { frameDecoder } from './frame-decoder';
import { CLIENT_MESSAGE_SCHEMAS, ServerMessageSchema, type ClientMessage, type ServerMessage } from './media-session';

/** Largest client frame accepted, bytes: an offer with its SDP fits in 64 KiB with room to spare. */
export const MAX_CLIENT_MESSAGE_BYTES = 80 * 1024;

const decode = frameDecoder<ClientMessage>(CLIENT_MESSAGE_SCHEMAS, MAX_CLIENT_MESSAGE_BYTES);

const serverCheck = TypeCompiler.Compile(ServerMessageSchema);

/**
 * Parses one frame from a client. Throws `MeetedgeError('INVALID_ARGUMENT')`
 * naming the problem: too large, not JSON, no known `type`, or the first
 * schema violation with its path.
 */
export function decodeClientMessage(frame: string | Buffer): ClientMessage {
  return decode(frame);
}

/** Serializes a module → client message (the module validates its own output in tests). */
export function encodeServerMessage(message: ServerMessage): string {
  return JSON.stringify(message);
}

/** True when `value` is a well-formed module → client message (for clients and tests). */
export function isServerMessage(value: unknown): value is ServerMessage {
  return serverCheck.Check(value);
}
