import fc from 'fast-check';
import { MeetedgeError } from '@meetedge/core';
import { MAX_MEETING_MESSAGE_BYTES, decodeMeetingClientMessage, encodeMeetingServerMessage, isMeetingServerMessage } from './meeting-codec';
import { MEETING_CLIENT_MESSAGE_SCHEMAS, type MeetingServerMessage, type RosterEntry } from './meeting-signal';

const TYPES = Object.keys(MEETING_CLIENT_MESSAGE_SCHEMAS);
const EXPECTED = 'expected one of hello, media-attached, mute, raise-hand, set-name, chat, mute-all, remove, end, leave';

function refusal(frame: string | Buffer): string {
  try {
    decodeMeetingClientMessage(frame);
  } catch (err) {
    expect(err).toBeInstanceOf(MeetedgeError);
    expect((err as MeetedgeError).code).toBe('INVALID_ARGUMENT');
    return (err as MeetedgeError).message;
  }
  throw new Error('expected a refusal');
}

describe('decodeMeetingClientMessage', () => {
  it.each([
    [{ type: 'hello', token: 'a.b.c' }],
    [{ type: 'media-attached', where: { kind: 'module', moduleId: 'sfu-1' } }],
    [{ type: 'media-attached', where: { kind: 'cloud' } }],
    [{ type: 'mute', audio: true }],
    [{ type: 'mute', video: false }],
    [{ type: 'mute', audio: false, video: true }],
    [{ type: 'raise-hand', raised: true }],
    [{ type: 'set-name', displayName: 'Ada L.' }],
    [{ type: 'chat', text: 'hello, all' }],
    [{ type: 'chat', text: 'psst', to: 'u-bob' }],
    [{ type: 'mute-all' }],
    [{ type: 'remove', participantId: 'g-visitor' }],
    [{ type: 'end' }],
    [{ type: 'leave' }],
  ])('decodes %j', (message) => {
    expect(decodeMeetingClientMessage(JSON.stringify(message))).toEqual(message);
    expect(decodeMeetingClientMessage(Buffer.from(JSON.stringify(message)))).toEqual(message);
  });

  it.each([
    ['not JSON', '{"type":', 'message is not valid JSON'],
    ['an array', '[]', 'message must be a JSON object'],
    ['no type', '{"token":"x"}', `unknown message type undefined; ${EXPECTED}`],
    ['a media-session type', '{"type":"join","ticket":"x"}', `unknown message type "join"; ${EXPECTED}`],
    ['a prototype key as type', '{"type":"__proto__"}', `unknown message type "__proto__"; ${EXPECTED}`],
    ['a hello without a token', '{"type":"hello"}', 'hello: /token Expected required property'],
    ['an empty token', '{"type":"hello","token":""}', 'hello: /token Expected string length greater or equal to 1'],
    ['an extra field', '{"type":"end","now":true}', 'end: /now Unexpected property'],
    ['a module without its id', '{"type":"media-attached","where":{"kind":"module"}}', 'media-attached: /where Expected union value'],
    ['an unknown attachment', '{"type":"media-attached","where":{"kind":"phone"}}', 'media-attached: /where Expected union value'],
    ['a mute that says nothing', '{"type":"mute"}', 'mute: give audio, video or both'],
    ['a mute with a string', '{"type":"mute","audio":"yes"}', 'mute: /audio Expected boolean'],
    ['a blank name', '{"type":"set-name","displayName":"   "}', "set-name: /displayName Expected string to match '\\S'"],
    ['a blank chat', '{"type":"chat","text":" \\n "}', "chat: /text Expected string to match '\\S'"],
    ['a chat to a bad id', '{"type":"chat","text":"hi","to":"a b"}', "chat: /to Expected string to match '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'"],
    ['a remove without whom', '{"type":"remove"}', 'remove: /participantId Expected required property'],
  ])('refuses %s, saying what was wrong', (_what, frame, message) => {
    expect(refusal(frame)).toBe(message);
  });

  it('takes 4 KiB of chat text and refuses more, counted in UTF-8 bytes', () => {
    expect(decodeMeetingClientMessage(JSON.stringify({ type: 'chat', text: 'x'.repeat(4096) })).type).toBe('chat');
    expect(refusal(JSON.stringify({ type: 'chat', text: 'x'.repeat(4097) }))).toBe('chat: /text Expected string length less or equal to 4096');
    // 2 048 characters of 3 bytes each: within the character bound, over the byte bound.
    expect(refusal(JSON.stringify({ type: 'chat', text: '€'.repeat(2048) }))).toBe('chat: /text is 6144 bytes of UTF-8, more than 4096');
    // The worst escaping of a legal text still fits in a frame.
    expect(decodeMeetingClientMessage(JSON.stringify({ type: 'chat', text: '\u0001'.repeat(4095) + 'x' })).type).toBe('chat');
  });

  it('refuses an oversized frame before parsing it', () => {
    const frame = JSON.stringify({ type: 'hello', token: 'x'.repeat(MAX_MEETING_MESSAGE_BYTES) });
    expect(refusal(frame)).toBe(`message of ${Buffer.byteLength(frame)} bytes exceeds 32768`);
  });

  it('never throws anything but a coded error, and passes only well-formed messages, whatever the frame', () => {
    const anyJson = fc.jsonValue().map((v) => JSON.stringify(v));
    const typed = fc
      .record(
        {
          type: fc.constantFrom(...TYPES, 'x', 'join'),
          token: fc.oneof(fc.string(), fc.integer()),
          where: fc.oneof(fc.record({ kind: fc.constantFrom('module', 'cloud', 'x'), moduleId: fc.string() }, { requiredKeys: ['kind'] }), fc.string()),
          audio: fc.oneof(fc.boolean(), fc.string()),
          video: fc.boolean(),
          raised: fc.oneof(fc.boolean(), fc.constant(null)),
          displayName: fc.string({ maxLength: 80 }),
          text: fc.string({ unit: 'binary', maxLength: 5000 }),
          to: fc.string({ maxLength: 70 }),
          participantId: fc.string(),
        },
        { requiredKeys: ['type'] },
      )
      .map((v) => JSON.stringify(v));
    fc.assert(
      fc.property(fc.oneof(fc.string(), anyJson, typed), (frame) => {
        try {
          const message = decodeMeetingClientMessage(frame);
          expect(TYPES).toContain(message.type);
          if (message.type === 'chat') expect(Buffer.byteLength(message.text)).toBeLessThanOrEqual(4096);
          if (message.type === 'mute') expect(message.audio !== undefined || message.video !== undefined).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(MeetedgeError);
          expect((err as MeetedgeError).code).toBe('INVALID_ARGUMENT');
        }
      }),
      { numRuns: 2000, seed: 20261123 },
    );
  });
});

describe('meeting server messages', () => {
  const ada: RosterEntry = {
    participantId: 'u-ada',
    displayName: 'Ada',
    kind: 'member',
    isHost: true,
    audioMuted: true,
    videoMuted: false,
    handRaised: false,
    media: { kind: 'module', moduleId: 'sfu-1' },
  };
  const key = { id: 1, key: Buffer.alloc(32, 7).toString('base64') };

  it('encode to JSON that the schema accepts', () => {
    const messages: MeetingServerMessage[] = [
      {
        type: 'welcome',
        participantId: 'u-ada',
        meeting: { id: 'm-1', topic: 'Weekly', mode: 'cloud-hybrid', e2ee: true },
        roster: [ada, { ...ada, participantId: 'g-1', kind: 'guest', isHost: false, media: null }],
        mediaKey: key,
        you: { isHost: true },
      },
      { type: 'welcome', participantId: 'u-ada', meeting: { id: 'm-1', topic: 'Weekly', mode: 'cloud-hybrid', e2ee: false }, roster: [ada], you: { isHost: true } },
      { type: 'welcome', participantId: 'u-ada', meeting: { id: 'm-1', topic: 'Weekly', mode: 'internal-only', e2ee: true, top: 'sfu-1', onTopLoss: 'collapse' }, roster: [ada], mediaKey: key, you: { isHost: true } },
      { type: 'participant-joined', participant: ada },
      { type: 'participant-updated', participant: { ...ada, media: { kind: 'cloud' } } },
      { type: 'participant-left', participantId: 'u-ada', reason: 'removed' },
      { type: 'chat', from: 'u-ada', fromName: 'Ada', text: 'hi', to: 'u-bob', at: 1_700_000_000_000 },
      { type: 'muted-by-host', by: 'u-ada' },
      { type: 'removed', by: 'u-ada' },
      { type: 'meeting-ended', reason: 'ended-by-host', by: 'u-ada' },
      { type: 'media-key', mediaKey: { ...key, id: 2 }, reason: 'participant-removed' },
      { type: 'error', code: 'FORBIDDEN', message: 'only a host may end the meeting', fatal: false },
    ];
    for (const message of messages) expect([message.type, isMeetingServerMessage(JSON.parse(encodeMeetingServerMessage(message)))]).toEqual([message.type, true]);
  });

  it.each([
    ['a welcome in an unknown mode', { type: 'welcome', participantId: 'u-a', meeting: { id: 'm-1', topic: 't', mode: 'sideways', e2ee: false }, roster: [], you: { isHost: false } }],
    ['an unknown top-loss policy', { type: 'welcome', participantId: 'u-a', meeting: { id: 'm-1', topic: 't', mode: 'internal-only', e2ee: false, top: 'sfu-1', onTopLoss: 'panic' }, roster: [], you: { isHost: false } }],
    ['a key that is not 32 bytes', { type: 'media-key', mediaKey: { id: 1, key: 'c2hvcnQ=' }, reason: 'participant-removed' }],
    ['an unknown leave reason', { type: 'participant-left', participantId: 'u-a', reason: 'bored' }],
    ['a roster entry without its mute state', { type: 'participant-joined', participant: { participantId: 'u-a', displayName: 'A', kind: 'member', isHost: false, handRaised: false, media: null } }],
    ['a media-session message', { type: 'joined', meetingId: 'm-1', participantId: 'p-1', participants: [], tracks: [], audioSlots: 3 }],
  ])('refuses %s', (_what, value) => {
    expect(isMeetingServerMessage(value)).toBe(false);
  });
});
