/**
 * The door of the meeting signaling (./meeting-signal.ts): a raw WebSocket
 * frame becomes a typed client message, or a coded error that names what
 * was wrong (./frame-decoder.ts), plus the rules a schema cannot say.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { MeetedgeError } from '@meetedge/core';
import { frameDecoder } from './frame-decoder';
import {
  MAX_CHAT_TEXT_BYTES,
  MEETING_CLIENT_MESSAGE_SCHEMAS,
  MeetingServerMessageSchema,
  type MeetingClientMessage,
  type MeetingServerMessage,
} from './meeting-signal';

/**
 * Largest client frame accepted, bytes: a chat message of 4 KiB of text in
 * the worst JSON escaping (6 bytes a character), or a 4 KiB token, with room
 * to spare.
 */
export const MAX_MEETING_MESSAGE_BYTES = 32 * 1024;

const decode = frameDecoder<MeetingClientMessage>(MEETING_CLIENT_MESSAGE_SCHEMAS, MAX_MEETING_MESSAGE_BYTES);
const serverCheck = TypeCompiler.Compile(MeetingServerMessageSchema);

/**
 * Parses one frame from a participant. Throws `MeetedgeError('INVALID_ARGUMENT')`
 * naming the problem: too large, not JSON, no known `type`, the first schema
 * violation with its path, chat text over 4 KiB of UTF-8, or a `mute` that
 * says nothing.
 */
export function decodeMeetingClientMessage(frame: string | Buffer): MeetingClientMessage {
  const message = decode(frame);
  if (message.type === 'chat') {
    const bytes = Buffer.byteLength(message.text);
    if (bytes > MAX_CHAT_TEXT_BYTES) {
      throw new MeetedgeError('INVALID_ARGUMENT', `chat: /text is ${bytes} bytes of UTF-8, more than ${MAX_CHAT_TEXT_BYTES}`);
    }
  }
  if (message.type === 'mute' && message.audio === undefined && message.video === undefined) {
    throw new MeetedgeError('INVALID_ARGUMENT', 'mute: give audio, video or both');
  }
  return message;
}

/** Serializes a meeting server → client message. */
export function encodeMeetingServerMessage(message: MeetingServerMessage): string {
  return JSON.stringify(message);
}

/** True when `value` is a well-formed meeting server → client message (for clients and tests). */
export function isMeetingServerMessage(value: unknown): value is MeetingServerMessage {
  return serverCheck.Check(value);
}
