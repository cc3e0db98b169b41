/**
 * The cloud meeting server end to end: a real dashboard (buildApp on port 0,
 * MemoryDirectory) and clients of the SDK (`MeetingSignalClient`, Node) over
 * loopback WebSockets. Participants sign in over HTTP, ask to join, open the
 * signaling URL they are given, and see each other come and go, chat, and
 * the host's actions; every refusal the issue names is a coded error and a
 * close. Waits are on conditions (waitFor), never on fixed sleeps.
 */
import { MeetingSignalClient, type MeetingSignalEvents } from '@meetedge/client';
import { AccountId, UserId, generateTicketKeys, signAccessToken } from '@meetedge/core';
import { MemoryDirectory } from '@meetedge/directory';
import { createLogger } from '@meetedge/service-kit';
import type { MeetingServerMessage } from '@meetedge/signaling';
import { waitFor } from '@meetedge/test-kit';
import WebSocket from 'ws';
import { buildApp, type DashboardService } from '../src/app';
import { loadDashboardConfig } from '../src/config';

const keys = generateTicketKeys();
const pem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PASSWORD = 'correct horse battery';
// Replies and messages are read loosely and checked with expect() (whose failure names the
// field); their exact types are the schemas, which a second typed copy here would only restate.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let app: DashboardService;
let base: string;
const clients: MeetingSignalClient[] = [];
const sockets: WebSocket[] = [];

async function start(env: Record<string, string> = {}): Promise<void> {
  app = buildApp(
    loadDashboardConfig({
      MEETEDGE_TOKEN_PRIVATE_KEY: pem,
      MEETEDGE_SIGNUP: 'open',
      MEETEDGE_STATE: 'memory',
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_GRPC_PORT: '0',
      ...env,
    }),
    { logger: createLogger({ level: 'silent' }), directory: new MemoryDirectory(), ownsDirectory: true, passwordParams: { N: 2 ** 10, r: 8, p: 1 } },
  );
  base = await app.start();
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.leave()));
  for (const socket of sockets.splice(0)) socket.terminate();
  await app.close();
});

async function api(method: 'GET' | 'POST', path: string, options: { token?: string; body?: object } = {}): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(options.body ? { 'content-type': 'application/json' } : {}) },
    ...(options.body ? { body: JSON.stringify(options.body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function ok(method: 'GET' | 'POST', path: string, options: { token?: string; body?: object } = {}): Promise<Json> {
  const res = await api(method, path, options);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Signs in over HTTP. */
async function signIn(email: string): Promise<{ token: string; userId: string }> {
  const body = await ok('POST', '/v1/sign-in', { body: { email, password: PASSWORD } });
  return { token: body.accessToken as string, userId: body.user.id as string };
}

interface Acme {
  ada: { token: string; userId: string };
  bob: { token: string; userId: string };
  carol: { token: string; userId: string };
  dave: { token: string; userId: string };
  meetingId: string;
}

/**
 * An account: Ada (admin), Bob, Carol and Dave (members), each signed in
 * over HTTP; Bob hosts a cloud-hybrid meeting with passcode 4242.
 */
async function acme(meeting: { e2ee?: boolean } = {}): Promise<Acme> {
  const created = await ok('POST', '/v1/accounts', { body: { name: 'Acme', admin: { email: 'ada@acme.example', displayName: 'Ada', password: PASSWORD } } });
  for (const name of ['Bob', 'Carol', 'Dave']) {
    await ok('POST', '/v1/users', { token: created.accessToken, body: { email: `${name.toLowerCase()}@acme.example`, displayName: name, password: PASSWORD } });
  }
  const [ada, bob, carol, dave] = await Promise.all(['ada', 'bob', 'carol', 'dave'].map((n) => signIn(`${n}@acme.example`)));
  if (!ada || !bob || !carol || !dave) throw new Error('sign-in failed');
  const scheduled = await ok('POST', '/v1/meetings', { token: bob.token, body: { topic: 'Weekly', mode: 'cloud-hybrid', passcode: '4242', e2ee: meeting.e2ee ?? false } });
  return { ada, bob, carol, dave, meetingId: scheduled.id as string };
}

/** The signaling URL the control plane gives, pointed at this test's port (MEETEDGE_PUBLIC_URL is not known before listening). */
function local(signalingUrl: string): string {
  return `${base.replace(/^http/, 'ws')}${new URL(signalingUrl).pathname}`;
}

function signalUrl(meetingId: string): string {
  return `${base.replace(/^http/, 'ws')}/v1/meetings/${meetingId}/signal`;
}

/** A member asks to join (POST /v1/meetings/:id/join) and opens the signaling URL it is given. */
async function join(token: string, meetingId: string): Promise<MeetingSignalClient> {
  const info = await ok('POST', `/v1/meetings/${meetingId}/join`, { token });
  expect(new URL(info.signalingUrl as string).pathname).toBe(`/v1/meetings/${meetingId}/signal`);
  return connect(local(info.signalingUrl as string), token);
}

async function connect(url: string, token: string): Promise<MeetingSignalClient> {
  const client = await MeetingSignalClient.connect({ url, token, timeoutMs: 5000 });
  clients.push(client);
  return client;
}

/** Everything a client receives from now on, and how its session ended. */
function record(client: MeetingSignalClient): { messages: MeetingServerMessage[]; closed?: { code: number; reason: string } } {
  const log: { messages: MeetingServerMessage[]; closed?: { code: number; reason: string } } = { messages: [] };
  client.on('message', (m) => log.messages.push(m));
  client.on('closed', (c) => {
    log.closed = c;
  });
  return log;
}

function next<E extends keyof MeetingSignalEvents>(client: MeetingSignalClient, event: E): Promise<MeetingSignalEvents[E][0]> {
  return new Promise((resolve) => {
    client.once(event, ((arg: MeetingSignalEvents[E][0]) => resolve(arg)) as never);
  });
}

/** Resolves once every client sees `size` participants (so what each records next is what follows). */
async function everyoneSees(all: MeetingSignalClient[], size: number): Promise<void> {
  await waitFor(() => all.every((c) => c.roster.size === size), { description: `everyone sees ${size} participants` });
}

function chats(log: { messages: MeetingServerMessage[] }): string[] {
  return log.messages.flatMap((m) => (m.type === 'chat' ? [m.text] : []));
}

/** A raw WebSocket: what it receives (parsed) and how it closed. */
async function raw(url: string, options: { autoPong?: boolean } = {}) {
  const ws = new WebSocket(url, { autoPong: options.autoPong ?? true });
  sockets.push(ws);
  const messages: Json[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Json));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages, closed };
}

describe('meeting signaling', () => {
  beforeEach(() => start());

  it('members sign in, join a cloud-hybrid meeting, and see the roster change as others join and leave; the roster holds no e-mail or token', async () => {
    const { bob, carol, meetingId } = await acme();
    const bobs = await join(bob.token, meetingId);
    const bobLog = record(bobs);
    expect(bobs.participantId).toBe(bob.userId);
    expect(bobs.meeting).toEqual({ id: meetingId, topic: 'Weekly', mode: 'cloud-hybrid', e2ee: false });
    expect(bobs.isHost).toBe(true);
    expect(bobs.mediaKey).toBeUndefined();
    expect([...bobs.roster.keys()]).toEqual([bob.userId]);

    const carols = await join(carol.token, meetingId);
    const carolLog = record(carols);
    expect(carols.isHost).toBe(false);
    expect([...carols.roster.values()].map((e) => [e.displayName, e.isHost])).toEqual([
      ['Bob', true],
      ['Carol', false],
    ]);
    await waitFor(() => bobs.roster.has(carol.userId), { description: "Bob sees Carol's arrival" });
    expect(bobLog.messages).toEqual([
      {
        type: 'participant-joined',
        participant: { participantId: carol.userId, displayName: 'Carol', kind: 'member', isHost: false, audioMuted: true, videoMuted: true, handRaised: false, media: null },
      },
    ]);

    await carols.leave();
    await waitFor(() => !bobs.roster.has(carol.userId), { description: "Bob sees Carol's departure" });
    expect(bobLog.messages.at(-1)).toEqual({ type: 'participant-left', participantId: carol.userId, reason: 'left' });
    expect(carolLog.closed).toEqual({ code: 1000, reason: 'left' });
    expect(app.meetingServer.stats()).toMatchObject({ rooms: 1, participants: 1 });

    const everything = JSON.stringify([...bobLog.messages, ...carolLog.messages, [...bobs.roster.values()]]);
    expect(everything).not.toMatch(/@acme\.example/);
    expect(everything).not.toContain(bob.token.split('.')[2]);
    expect(everything).not.toContain(carol.token.split('.')[2]);
  });

  it('delivers chat to everyone, and a chat to one participant only to them and back to the sender', async () => {
    const { bob, carol, dave, meetingId } = await acme();
    const [bobs, carols, daves] = [await join(bob.token, meetingId), await join(carol.token, meetingId), await join(dave.token, meetingId)];
    const logs = [record(bobs), record(carols), record(daves)] as const;
    bobs.chat('hello, all');
    bobs.chat('psst, Carol', carol.userId);
    // Messages on a socket keep their order: once Dave has the marker, a private message for him would have arrived before it.
    carols.chat('marker');
    await waitFor(() => logs.every((log) => chats(log).includes('marker')), { description: 'the marker reaches everyone' });
    expect(chats(logs[0])).toEqual(['hello, all', 'psst, Carol', 'marker']);
    expect(chats(logs[1])).toEqual(['hello, all', 'psst, Carol', 'marker']);
    expect(chats(logs[2])).toEqual(['hello, all', 'marker']);
    const psst = logs[1].messages.find((m) => m.type === 'chat' && m.text === 'psst, Carol');
    expect(psst).toEqual({ type: 'chat', from: bob.userId, fromName: 'Bob', text: 'psst, Carol', to: carol.userId, at: expect.any(Number) });

    const refused = next(daves, 'refused');
    daves.chat('anyone?', 'u-nobody');
    expect(await refused).toEqual({ type: 'error', code: 'NOT_FOUND', message: 'chat: participant u-nobody is not in the meeting', fatal: false });
  });

  it('propagates mute state, raised hands, names and where media is attached', async () => {
    const { bob, carol, meetingId } = await acme();
    const bobs = await join(bob.token, meetingId);
    const carols = await join(carol.token, meetingId);
    carols.mute({ audio: false, video: false });
    carols.raiseHand();
    carols.setName('Caroline');
    carols.attachMedia({ kind: 'cloud' });
    await waitFor(() => bobs.roster.get(carol.userId)?.media?.kind === 'cloud', { description: "Carol's attachment reaches Bob" });
    expect(bobs.roster.get(carol.userId)).toEqual({
      participantId: carol.userId,
      displayName: 'Caroline',
      kind: 'member',
      isHost: false,
      audioMuted: false,
      videoMuted: false,
      handRaised: true,
      media: { kind: 'cloud' },
    });
    carols.raiseHand(false);
    carols.mute({ video: true });
    await waitFor(() => bobs.roster.get(carol.userId)?.videoMuted === true);
    expect(bobs.roster.get(carol.userId)).toMatchObject({ handRaised: false, audioMuted: false, videoMuted: true });
    expect(carols.roster.get(carol.userId)).toEqual(bobs.roster.get(carol.userId));
  });

  it("feeds the zone controller's cascade needs from where participants' media is attached", async () => {
    const { ada, bob, carol, meetingId } = await acme();
    const zone = await ok('POST', '/v1/zones', { token: ada.token, body: { name: 'HQ' } });
    const node = await ok('POST', `/v1/zones/${zone.id}/nodes`, { token: ada.token, body: { name: 'n1', address: '10.0.0.5' } });
    await ok('POST', `/v1/nodes/${node.id}/modules`, { token: ada.token, body: { id: 'sfu-1', kind: 'sfu' } });
    const bobs = await join(bob.token, meetingId);
    const carols = await join(carol.token, meetingId);
    bobs.attachMedia({ kind: 'module', moduleId: 'sfu-1' });
    carols.attachMedia({ kind: 'cloud' });
    await waitFor(() => app.cascadeNeeds.current(zone.id as never).length === 1, { description: 'HQ needs a link' });
    expect(app.cascadeNeeds.current(zone.id as never)).toEqual([{ meetingId, reason: 'remote-participant' }]);
    await carols.leave();
    await waitFor(() => app.cascadeNeeds.current(zone.id as never).length === 0, { description: 'the need ends with the last remote participant' });
  });

  it("lets the host and an admin mute everyone's audio", async () => {
    const { ada, bob, carol, meetingId } = await acme();
    const bobs = await join(bob.token, meetingId);
    const carols = await join(carol.token, meetingId);
    const adas = await join(ada.token, meetingId);
    expect(adas.isHost).toBe(true);
    carols.mute({ audio: false });
    await waitFor(() => bobs.roster.get(carol.userId)?.audioMuted === false);
    const mutedCarol = next(carols, 'muted-by-host');
    const mutedBob = next(bobs, 'muted-by-host');
    adas.muteAll();
    expect(await mutedCarol).toEqual({ type: 'muted-by-host', by: ada.userId });
    expect(await mutedBob).toEqual({ type: 'muted-by-host', by: ada.userId });
    await waitFor(() => bobs.roster.get(carol.userId)?.audioMuted === true, { description: 'Carol shows muted' });
  });

  it('refuses host actions from a member who is not a host (FORBIDDEN), and their session goes on', async () => {
    const { bob, carol, meetingId } = await acme();
    const bobs = await join(bob.token, meetingId);
    const carols = await join(carol.token, meetingId);
    const actions: [string, () => void][] = [
      ['mute everyone', () => carols.muteAll()],
      ['remove a participant', () => carols.removeParticipant(bob.userId)],
      ['end the meeting', () => carols.end()],
    ];
    for (const [what, act] of actions) {
      const refused = next(carols, 'refused');
      act();
      expect(await refused).toEqual({ type: 'error', code: 'FORBIDDEN', message: `only the meeting's host or an admin of its account may ${what}`, fatal: false });
    }
    const chat = next(bobs, 'chat');
    carols.chat('still here');
    expect((await chat).text).toBe('still here');
    expect(bobs.roster.size).toBe(2);
  });

  it('removes a participant: told, socket closed with the reason, gone from the roster, and refused if they come back', async () => {
    const { bob, carol, dave, meetingId } = await acme();
    const bobs = await join(bob.token, meetingId);
    const carols = await join(carol.token, meetingId);
    const daves = await join(dave.token, meetingId);
    await everyoneSees([bobs, carols, daves], 3);
    const carolLog = record(carols);
    const daveLeft = next(daves, 'participant-left');
    bobs.removeParticipant(carol.userId);
    expect(await daveLeft).toEqual({ type: 'participant-left', participantId: carol.userId, reason: 'removed' });
    await waitFor(() => carolLog.closed, { description: "Carol's socket closes" });
    expect(carolLog.messages).toEqual([{ type: 'removed', by: bob.userId }]);
    expect(carolLog.closed).toEqual({ code: 1000, reason: 'removed from the meeting by a host' });
    await waitFor(() => !bobs.roster.has(carol.userId));
    expect([...daves.roster.keys()]).toEqual([bob.userId, dave.userId]);
    await expect(join(carol.token, meetingId)).rejects.toMatchObject({ code: 'FORBIDDEN', message: 'a host removed you from this meeting' });
  });

  it('ends the meeting for everyone and forgets its room', async () => {
    const { bob, carol, dave, meetingId } = await acme();
    const all = [await join(bob.token, meetingId), await join(carol.token, meetingId), await join(dave.token, meetingId)];
    const logs = all.map(record);
    all[0]?.end();
    await waitFor(() => logs.every((log) => log.closed), { description: 'every socket closes' });
    for (const log of logs) {
      expect(log.messages.at(-1)).toEqual({ type: 'meeting-ended', reason: 'ended-by-host', by: bob.userId });
      expect(log.closed).toEqual({ code: 1000, reason: 'the host ended the meeting' });
    }
    expect(app.meetingServer.room(meetingId)).toBeUndefined();
    expect(app.meetingServer.stats()).toEqual({ rooms: 0, participants: 0, sessions: 0 });
    // The meeting can be started again: a new room.
    const again = await join(carol.token, meetingId);
    expect([...again.roster.keys()]).toEqual([carol.userId]);
  });

  it('replaces the session of a user who connects again: the old one is closed, no second roster entry', async () => {
    const { bob, carol, meetingId } = await acme();
    const first = await join(bob.token, meetingId);
    const carols = await join(carol.token, meetingId);
    await everyoneSees([first, carols], 2);
    const firstLog = record(first);
    const updated = next(carols, 'participant-updated');
    const second = await join((await signIn('bob@acme.example')).token, meetingId);
    expect((await updated).participant.participantId).toBe(bob.userId);
    await waitFor(() => firstLog.closed, { description: 'the old session closes' });
    expect(firstLog.messages).toEqual([{ type: 'error', code: 'CONFLICT', message: 'you joined this meeting again from another session', fatal: true }]);
    expect(firstLog.closed).toEqual({ code: 1008, reason: 'replaced by a newer session' });
    expect([...carols.roster.keys()]).toEqual([bob.userId, carol.userId]);
    expect([...second.roster.keys()]).toEqual([bob.userId, carol.userId]);
    expect(app.meetingServer.stats()).toMatchObject({ participants: 2, sessions: 2 });
  });

  it('lets a guest in with the passcode; the guest is in the roster, never a host, and its media goes to the cloud', async () => {
    const { bob, meetingId } = await acme();
    const bobs = await join(bob.token, meetingId);
    const guest = await ok('POST', `/v1/meetings/${meetingId}/guest-join`, { body: { displayName: 'Visitor', passcode: '4242' } });
    const visitor = await connect(local(guest.signalingUrl as string), guest.accessToken as string);
    expect(visitor.isHost).toBe(false);
    expect(visitor.participantId).toMatch(/^g-/);
    await waitFor(() => bobs.roster.has(visitor.participantId));
    expect(bobs.roster.get(visitor.participantId)).toMatchObject({ displayName: 'Visitor', kind: 'guest', isHost: false });
    const refused = next(visitor, 'refused');
    visitor.attachMedia({ kind: 'module', moduleId: 'sfu-1' });
    expect(await refused).toMatchObject({ code: 'FORBIDDEN', fatal: false });
    const forbidden = next(visitor, 'refused');
    visitor.end();
    expect(await forbidden).toMatchObject({ code: 'FORBIDDEN' });
    visitor.attachMedia({ kind: 'cloud' });
    await waitFor(() => bobs.roster.get(visitor.participantId)?.media?.kind === 'cloud');
  });

  it('hands the same media key to everyone only when E2EE is on, and a new one to those left after a removal', async () => {
    const { bob, carol, dave, meetingId } = await acme({ e2ee: true });
    const bobs = await join(bob.token, meetingId);
    const carols = await join(carol.token, meetingId);
    const daves = await join(dave.token, meetingId);
    const first = bobs.mediaKey;
    expect(first).toEqual({ id: 1, key: expect.any(String) });
    expect(Buffer.from(first?.key ?? '', 'base64')).toHaveLength(32);
    expect(carols.mediaKey).toEqual(first);
    expect(daves.mediaKey).toEqual(first);
    const daveLog = record(daves);
    const rotated = next(carols, 'media-key');
    bobs.removeParticipant(dave.userId);
    expect(await rotated).toEqual({ type: 'media-key', mediaKey: { id: 2, key: expect.any(String) }, reason: 'participant-removed' });
    await waitFor(() => bobs.mediaKey?.id === 2);
    expect(bobs.mediaKey).toEqual(carols.mediaKey);
    expect(carols.mediaKey?.key).not.toBe(first?.key);
    await waitFor(() => daveLog.closed);
    expect(daves.mediaKey).toEqual(first);
    expect(daveLog.messages.some((m) => m.type === 'media-key')).toBe(false);

    const plain = await ok('POST', '/v1/meetings', { token: bob.token, body: { topic: 'No E2EE', mode: 'cloud-hybrid', e2ee: false } });
    expect((await join(carol.token, plain.id as string)).mediaKey).toBeUndefined();
  });

  it('answers bad input with a coded error and goes on; refuses oversized frames', async () => {
    const { bob, carol, meetingId } = await acme();
    const bobs = await join(bob.token, meetingId);
    const carols = await join(carol.token, meetingId);
    const frames: [string | Buffer, string][] = [
      ['{"type":"chat"}', 'chat: /text Expected required property'],
      ['nope', 'message is not valid JSON'],
      [Buffer.from([1, 2, 3]), 'binary frames are not part of the protocol'],
      ['{"type":"hello","token":"again"}', 'hello: the session has already joined'],
      [JSON.stringify({ type: 'chat', text: 'x'.repeat(40_000) }), 'message of 40025 bytes exceeds 32768'],
    ];
    for (const [frame, message] of frames) {
      const refused = next(carols, 'refused');
      carols.sendRaw(frame);
      expect(await refused).toEqual({ type: 'error', code: expect.stringMatching(/^(INVALID_ARGUMENT|CONFLICT)$/), message, fatal: false });
    }
    const chat = next(bobs, 'chat');
    carols.chat('still here');
    expect((await chat).text).toBe('still here');
    // Beyond twice the protocol's limit, ws itself cuts the connection.
    const closed = next(carols, 'closed');
    carols.sendRaw(JSON.stringify({ type: 'chat', text: 'x'.repeat(70_000) }));
    expect((await closed).code).toBe(1009);
    await waitFor(() => !bobs.roster.has(carol.userId), { description: 'Carol leaves the roster' });
  });

  it.each([
    ['a guest token for another meeting', 'FORBIDDEN', /^this guest token is for another meeting/],
    ['an expired token', 'UNAUTHENTICATED', /^access token has expired; sign in again$/],
    ['a token signed by another key', 'UNAUTHENTICATED', /^access token has an invalid signature$/],
    ['a token of another account', 'NOT_FOUND', /^no meeting m-/],
    ['a meeting that does not exist', 'NOT_FOUND', /^no meeting m-none$/],
    ['an internal-only meeting', 'FORBIDDEN', /is internal-only: its signaling runs on the modules inside the organization's network/],
  ])('refuses %s with a coded error and a close', async (what, code, message) => {
    const { bob, meetingId } = await acme();
    const t = Math.floor(Date.now() / 1000);
    const member = (key = keys.privateKey, exp = t + 60) =>
      signAccessToken({ kind: 'member', tokenId: 'x', userId: UserId(bob.userId), accountId: AccountId('a-x'), role: 'member', displayName: 'Bob', issuedAt: t - 120, expiresAt: exp }, key);
    let url = signalUrl(meetingId);
    let token = bob.token;
    if (what === 'a guest token for another meeting') {
      const other = await ok('POST', '/v1/meetings', { token: bob.token, body: { topic: 'Other', mode: 'cloud-hybrid', passcode: '1111' } });
      token = (await ok('POST', `/v1/meetings/${other.id}/guest-join`, { body: { displayName: 'Visitor', passcode: '1111' } })).accessToken as string;
    } else if (what === 'an expired token') {
      token = member(keys.privateKey, t - 1);
    } else if (what === 'a token signed by another key') {
      token = member(generateTicketKeys().privateKey);
    } else if (what === 'a token of another account') {
      token = (await ok('POST', '/v1/accounts', { body: { name: 'Globex', admin: { email: 'hank@globex.example', displayName: 'Hank', password: PASSWORD } } })).accessToken as string;
    } else if (what === 'a meeting that does not exist') {
      url = signalUrl('m-none');
    } else {
      const internal = await ok('POST', '/v1/meetings', { token: bob.token, body: { topic: 'Board', mode: 'internal-only' } });
      expect((await ok('POST', `/v1/meetings/${internal.id}/join`, { token: bob.token })).signalingUrl).toBeUndefined();
      url = signalUrl(internal.id as string);
    }
    await expect(MeetingSignalClient.connect({ url, token, timeoutMs: 5000 })).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    const socket = await raw(url);
    socket.ws.send(JSON.stringify({ type: 'hello', token }));
    expect(await socket.closed).toEqual({ code: 1008, reason: code });
    expect(socket.messages).toEqual([{ type: 'error', code, message: expect.stringMatching(message), fatal: true }]);
    expect(app.meetingServer.stats()).toEqual({ rooms: 0, participants: 0, sessions: 0 });
  });

  it('ends a session whose first message is not hello', async () => {
    const { meetingId } = await acme();
    const socket = await raw(signalUrl(meetingId));
    socket.ws.send(JSON.stringify({ type: 'chat', text: 'hi' }));
    expect(await socket.closed).toEqual({ code: 1008, reason: 'UNAUTHENTICATED' });
    expect(socket.messages).toEqual([{ type: 'error', code: 'UNAUTHENTICATED', message: 'chat: send hello with an access token first', fatal: true }]);
  });

  it('tells the participants to connect again when the server shuts down', async () => {
    const { bob, meetingId } = await acme();
    const bobs = await join(bob.token, meetingId);
    const log = record(bobs);
    await app.close();
    await waitFor(() => log.closed);
    expect(log.messages).toEqual([{ type: 'error', code: 'UNAVAILABLE', message: 'the meeting server is shutting down; connect again', fatal: true }]);
    expect(log.closed).toEqual({ code: 1001, reason: 'server shutting down' });
  });
});

describe('meeting signaling timers', () => {
  it('closes a session that sends no hello within the hello timeout', async () => {
    await start({ MEETEDGE_HELLO_TIMEOUT_MS: '300' });
    const { meetingId } = await acme();
    const socket = await raw(signalUrl(meetingId));
    expect(await socket.closed).toEqual({ code: 1008, reason: 'UNAUTHENTICATED' });
    expect(socket.messages).toEqual([{ type: 'error', code: 'UNAUTHENTICATED', message: 'no hello with an access token within the hello timeout', fatal: true }]);
  });

  it('drops a participant that answers no ping; the others see it leave as disconnected', async () => {
    await start({ MEETEDGE_KEEPALIVE_MS: '1000' });
    const { bob, carol, meetingId } = await acme();
    const bobs = await join(bob.token, meetingId);
    const silent = await raw(signalUrl(meetingId), { autoPong: false });
    silent.ws.send(JSON.stringify({ type: 'hello', token: carol.token }));
    await waitFor(() => bobs.roster.has(carol.userId), { description: 'Carol joins' });
    const left = next(bobs, 'participant-left');
    expect(await left).toEqual({ type: 'participant-left', participantId: carol.userId, reason: 'disconnected' });
    expect((await silent.closed).code).toBe(1006);
    expect(bobs.isClosed).toBe(false);
  });
});
