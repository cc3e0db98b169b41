import fc from 'fast-check';
import { MeetedgeError } from '@meetedge/core';
import { MAX_CLIENT_MESSAGE_BYTES, decodeClientMessage, encodeServerMessage, isServerMessage } from './codec';
import type { ServerMessage } from './media-session';

function refusal(frame: string | Buffer): string {
  try {
    decodeClientMessage(frame);
  } catch (err) {
    expect(err).toBeInstanceOf(MeetedgeError);
    expect((err as MeetedgeError).code).toBe('INVALID_ARGUMENT');
    return (err as MeetedgeError).message;
  }
  throw new Error('expected a refusal');
}

describe('decodeClientMessage', () => {
  it('decodes each client message type', () => {
    expect(decodeClientMessage('{"type":"join","ticket":"abc.def"}')).toEqual({ type: 'join', ticket: 'abc.def' });
    expect(
      decodeClientMessage(
        JSON.stringify({ type: 'offer', sdp: 'v=0\r\n', publications: [{ mid: '0', source: 'microphone' }, { mid: '1', source: 'screen' }] }),
      ),
    ).toMatchObject({ type: 'offer', publications: [{ source: 'microphone' }, { source: 'screen' }] });
    expect(decodeClientMessage(Buffer.from('{"type":"subscription","trackId":"t-1","paused":true,"quality":"SD"}'))).toEqual({
      type: 'subscription',
      trackId: 't-1',
      paused: true,
      quality: 'SD',
    });
    expect(decodeClientMessage('{"type":"candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}').type).toBe(
      'candidate',
    );
    expect(decodeClientMessage('{"type":"leave"}')).toEqual({ type: 'leave' });
  });

  it.each([
    ['not JSON', '{"type":', 'message is not valid JSON'],
    ['an array', '[1,2]', 'message must be a JSON object'],
    ['null', 'null', 'message must be a JSON object'],
    ['no type', '{"ticket":"x"}', 'unknown message type undefined; expected one of join, offer, candidate, subscription, leave'],
    ['an unknown type', '{"type":"hack"}', 'unknown message type "hack"; expected one of join, offer, candidate, subscription, leave'],
    ['a prototype key as type', '{"type":"constructor"}', 'unknown message type "constructor"; expected one of join, offer, candidate, subscription, leave'],
    ['a missing field', '{"type":"join"}', 'join: /ticket Expected required property'],
    ['an extra field', '{"type":"leave","now":true}', 'leave: /now Unexpected property'],
    ['a wrong source', '{"type":"offer","sdp":"v=0","publications":[{"mid":"0","source":"webcam"}]}', 'offer: /publications/0/source Expected union value'],
    ['a bad track id', '{"type":"subscription","trackId":"a b"}', "subscription: /trackId Expected string to match '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'"],
    ['an empty SDP', '{"type":"offer","sdp":"","publications":[]}', 'offer: /sdp Expected string length greater or equal to 1'],
  ])('refuses %s, saying what was wrong', (_what, frame, message) => {
    expect(refusal(frame)).toBe(message);
  });

  it('refuses an oversized frame before parsing it', () => {
    const frame = JSON.stringify({ type: 'join', ticket: 'x'.repeat(MAX_CLIENT_MESSAGE_BYTES) });
    expect(refusal(frame)).toMatch(/^message of \d+ bytes exceeds 81920$/);
  });

  it('never throws anything but a coded error, whatever the frame', () => {
    const anyJson = fc.jsonValue().map((v) => JSON.stringify(v));
    const typed = fc
      .record({
        type: fc.constantFrom('join', 'offer', 'candidate', 'subscription', 'leave', 'x'),
        ticket: fc.oneof(fc.string(), fc.integer()),
        sdp: fc.string(),
        publications: fc.array(fc.record({ mid: fc.string(), source: fc.string() })),
        trackId: fc.string(),
        paused: fc.oneof(fc.boolean(), fc.string()),
      }, { requiredKeys: ['type'] })
      .map((v) => JSON.stringify(v));
    fc.assert(
      fc.property(fc.oneof(fc.string(), anyJson, typed), (frame) => {
        try {
          const message = decodeClientMessage(frame);
          // Whatever passed is a well-formed message of a known type.
          expect(['join', 'offer', 'candidate', 'subscription', 'leave']).toContain(message.type);
        } catch (err) {
          expect(err).toBeInstanceOf(MeetedgeError);
          expect((err as MeetedgeError).code).toBe('INVALID_ARGUMENT');
        }
      }),
      { numRuns: 2000, seed: 20261122 },
    );
  });
});

describe('server messages', () => {
  it('encode to JSON that the schema accepts', () => {
    const messages: ServerMessage[] = [
      { type: 'joined', meetingId: 'm-1', participantId: 'p-1', participants: [], tracks: [], audioSlots: 3 },
      { type: 'renegotiate', audioSlots: 3, videoSlots: 2 },
      { type: 'speakers', participantIds: ['p-2'], dominant: 'p-2' },
      { type: 'error', code: 'UNAUTHENTICATED', message: 'join ticket has expired', fatal: true },
    ];
    for (const message of messages) expect(isServerMessage(JSON.parse(encodeServerMessage(message)))).toBe(true);
    expect(isServerMessage({ type: 'speakers', participantIds: 'p-2' })).toBe(false);
  });
});
