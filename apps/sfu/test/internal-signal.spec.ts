/**
 * Meeting signaling of internal-only meetings on the modules (docs/cascade.md,
 * "Signaling of internal-only meetings"): two real modules in one process on
 * one cluster state, clients of the SDK (`MeetingSignalClient`, the same one
 * the cloud meeting server's participants use) over loopback WebSockets, the
 * relay over real gRPC. The meeting's top holds the room; a participant of
 * the other module is relayed to it and sees, says and suffers exactly what
 * a local one does. Waits are on conditions, never on fixed sleeps.
 */
import { credentials } from '@grpc/grpc-js';
import { MediaClient, MeetingSignalClient } from '@meetedge/client';
import { MeetedgeError, MeetingId, ModuleId, NodeId, ParticipantId, ReservationId, ZoneId, generateTicketKeys, signTicket, type MeetingMode } from '@meetedge/core';
import { v1 } from '@meetedge/proto';
import { createLogger } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { waitFor } from '@meetedge/test-kit';
import { buildApp, type SfuService } from '../src/app';
import { loadSfuConfig } from '../src/config';

jest.setTimeout(60_000);

const keys = generateTicketKeys();
const modules = new Map<string, { app: SfuService; url: string }>();
const state = new MemoryClusterState();
const clients: (MeetingSignalClient | MediaClient)[] = [];

const mod = (id: string) => {
  const m = modules.get(id);
  if (!m) throw new Error(`no module ${id}`);
  return m;
};

async function startModule(id: string): Promise<void> {
  const app = buildApp(
    loadSfuConfig({
      MEETEDGE_MODULE_ID: id,
      MEETEDGE_ZONE_ID: 'hq',
      MEETEDGE_NODE_ID: `node-${id}`,
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_STATE: 'memory',
      MEETEDGE_MEDIA_PORT: '0',
      MEETEDGE_CASCADE_PORT: '0',
      MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
      MEETEDGE_TICKET_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }),
    { logger: createLogger({ level: process.env.SIGNAL_LOG === 'debug' ? 'debug' : 'silent' }), state },
  );
  const url = await app.start();
  modules.set(id, { app, url });
  // Live in the cluster state with its cascade address, as its ZCPs record it.
  await state.registerModule(
    {
      id: ModuleId(id),
      zoneId: ZoneId('hq'),
      nodeId: NodeId(`node-${id}`),
      role: 'edge',
      mediaUrl: `${url.replace('http:', 'ws:')}/v1/media`,
      capacityUnits: 400,
      version: '0.1.0',
      cascadeAddress: `127.0.0.1:${app.cascade.boundPort}`,
    },
    600_000,
  );
}

interface TicketFor {
  moduleId: string;
  meetingId: string;
  participant: string;
  isHost?: boolean;
  mode?: MeetingMode;
  /** Default 60 s. */
  expiresInMs?: number;
}

function ticket(t: TicketFor): string {
  const now = Date.now();
  return signTicket(
    {
      ticketId: ReservationId(`r-${t.meetingId}-${t.participant}`),
      meetingId: MeetingId(t.meetingId),
      participantId: ParticipantId(t.participant),
      moduleId: ModuleId(t.moduleId),
      quality: 'SD',
      mode: t.mode ?? 'internal-only',
      displayName: `Dr ${t.participant}`,
      issuedAt: now,
      expiresAt: now + (t.expiresInMs ?? 60_000),
      ...(t.isHost ? { isHost: true } : {}),
    },
    keys.privateKey,
  );
}

const signalUrl = (moduleId: string, meetingId: string) => `${mod(moduleId).url.replace('http:', 'ws:')}/v1/meetings/${meetingId}/signal`;

async function signal(t: TicketFor, urlMeetingId = t.meetingId): Promise<MeetingSignalClient> {
  const client = await MeetingSignalClient.connect({ url: signalUrl(t.moduleId, urlMeetingId), token: ticket(t) });
  clients.push(client);
  return client;
}

async function refusal(promise: Promise<unknown>): Promise<MeetedgeError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof MeetedgeError)) throw new Error(`expected a coded refusal, got ${String(err)}`);
  return err;
}

/** Messages of one type a client got, collected from now on. */
function collect<T extends 'chat' | 'muted-by-host' | 'removed' | 'meeting-ended' | 'refused'>(client: MeetingSignalClient, type: T) {
  const got: unknown[] = [];
  client.on(type, (m: unknown) => got.push(m));
  return got as Record<string, unknown>[];
}

const rosterIds = (client: MeetingSignalClient) => [...client.roster.keys()].sort();

beforeAll(async () => {
  await startModule('sfu-a');
  await startModule('sfu-b');
});

afterAll(async () => {
  for (const c of clients) await c.leave().catch(() => undefined);
  for (const m of modules.values()) await m.app.close();
  await state.close();
});

it('the top holds the room; participants of the other module are relayed and see, chat and obey the host like local ones', async () => {
  const meetingId = 'm-signal';
  const alice = await signal({ moduleId: 'sfu-a', meetingId, participant: 'alice' });
  // The first module to get the meeting (here its signaling, before any media) is its top.
  expect(await state.getTop(MeetingId(meetingId))).toBe('sfu-a');
  expect(alice.meeting).toMatchObject({ id: meetingId, mode: 'internal-only' });
  const aliceMedia = await MediaClient.join({ url: `${mod('sfu-a').url}/v1/media`, ticket: ticket({ moduleId: 'sfu-a', meetingId, participant: 'alice' }) });
  clients.push(aliceMedia);
  const aliceMediaClosed: { code: number; reason: string }[] = [];
  aliceMedia.on('closed', (c) => aliceMediaClosed.push(c));

  const bob = await signal({ moduleId: 'sfu-b', meetingId, participant: 'bob' });
  const hannah = await signal({ moduleId: 'sfu-b', meetingId, participant: 'hannah', isHost: true });
  // One roster, held by the top: everyone sees everyone, whichever module they are on.
  await waitFor(() => [alice, bob, hannah].every((c) => rosterIds(c).join() === 'alice,bob,hannah'), { description: 'one roster on both modules' });
  expect(hannah.isHost).toBe(true);
  expect(bob.isHost).toBe(false);
  // The room is on the top only; sfu-b relays.
  expect(modules.get('sfu-a')?.app.signal.stats()).toMatchObject({ rooms: 1, participants: 3 });
  expect(modules.get('sfu-b')?.app.signal.stats()).toMatchObject({ rooms: 0, sessions: 2 });

  // Chat from a relayed participant reaches the top's participant, and a private one only its addressee (and its sender).
  const aliceChat = collect(alice, 'chat');
  const bobChat = collect(bob, 'chat');
  bob.chat('hello from B');
  hannah.chat('just for alice', 'alice');
  await waitFor(() => aliceChat.length === 2, { description: 'two chats at alice' });
  expect(aliceChat.map((c) => [c['from'], c['text'], c['to']])).toEqual([
    ['bob', 'hello from B', undefined],
    ['hannah', 'just for alice', 'alice'],
  ]);
  expect(bobChat.map((c) => c['text'])).toEqual(['hello from B']);

  // A participant's own state crosses too.
  alice.mute({ audio: false });
  await waitFor(() => hannah.roster.get('alice')?.audioMuted === false, { description: "alice's unmute seen on sfu-b" });

  // Host actions: refused for bob (coded, the session goes on), obeyed from hannah across the relay.
  const bobRefused = collect(bob, 'refused');
  bob.end();
  await waitFor(() => bobRefused.length === 1, { description: "bob's end refused" });
  expect(bobRefused[0]).toMatchObject({ code: 'FORBIDDEN', fatal: false });
  const aliceMuted = collect(alice, 'muted-by-host');
  hannah.muteAll();
  await waitFor(() => aliceMuted.length === 1 && bob.roster.get('alice')?.audioMuted === true, { description: 'mute all from sfu-b reaches alice on sfu-a' });
  expect(aliceMuted[0]).toMatchObject({ by: 'hannah' });

  // Removing alice also ends her media session on her module.
  const aliceRemoved = collect(alice, 'removed');
  hannah.removeParticipant('alice');
  await waitFor(() => aliceRemoved.length === 1 && alice.isClosed, { description: 'alice removed' });
  await waitFor(() => aliceMediaClosed.length === 1, { description: "alice's media session ended" });
  expect(aliceMediaClosed[0]?.reason).toBe('a host removed you from the meeting');
  await waitFor(() => rosterIds(bob).join() === 'bob,hannah', { description: 'alice gone from the roster' });
  expect(mod('sfu-a').app.media.stats().participants).toBe(0);

  // Ending the meeting ends every session; the top lets go once nothing of the meeting is left on it.
  const bobEnded = collect(bob, 'meeting-ended');
  hannah.end();
  await waitFor(() => bobEnded.length === 1 && bob.isClosed && hannah.isClosed, { description: 'meeting ended for everyone' });
  expect(bobEnded[0]).toMatchObject({ reason: 'ended-by-host', by: 'hannah' });
  await waitFor(async () => (await state.getTop(MeetingId(meetingId))) === undefined, { description: 'top released' });
  await waitFor(() => mod('sfu-a').app.signal.stats().rooms === 0 && mod('sfu-b').app.signal.stats().sessions === 0, { description: 'no room, no session left' });
});

it('a top whose claim is freed while it lives (silent, unreachable for another module) drops its room: everyone is told to connect again, and the meeting is held again', async () => {
  const meetingId = 'm-demoted';
  const alice = await signal({ moduleId: 'sfu-a', meetingId, participant: 'alice' });
  const bob = await signal({ moduleId: 'sfu-b', meetingId, participant: 'bob' });
  await waitFor(() => [alice, bob].every((c) => rosterIds(c).join() === 'alice,bob'), { description: 'one roster' });
  expect(await state.getTop(MeetingId(meetingId))).toBe('sfu-a');
  const aliceRefused = collect(alice, 'refused');
  const closes: { code: number }[] = [];
  alice.on('closed', (c) => closes.push(c));
  bob.on('closed', (c) => closes.push(c));

  // What a module whose link to sfu-a failed asks, sfu-a having heartbeated last at its registration here.
  expect(await state.releaseSilentTop(MeetingId(meetingId), ModuleId('sfu-a'), 1)).toBe(true);

  // sfu-a hears of its own claim freed: its room goes; both participants (local and relayed) are told to connect again.
  await waitFor(() => alice.isClosed && bob.isClosed, { description: 'both sessions ended' });
  expect(aliceRefused[0]).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('no longer holds') });
  expect(closes.map((c) => c.code)).toEqual([1001, 1001]);
  // Connecting again finds the meeting held by one module, and one roster.
  const alice2 = await signal({ moduleId: 'sfu-a', meetingId, participant: 'alice' });
  const bob2 = await signal({ moduleId: 'sfu-b', meetingId, participant: 'bob' });
  await waitFor(() => [alice2, bob2].every((c) => rosterIds(c).join() === 'alice,bob'), { description: 'one roster again' });
  const holder = await state.getTop(MeetingId(meetingId));
  expect(['sfu-a', 'sfu-b']).toContain(holder);
  expect(mod('sfu-a').app.signal.stats().rooms + mod('sfu-b').app.signal.stats().rooms).toBe(1);
  await alice2.leave();
  await bob2.leave();
});

it('the media key of an E2EE meeting comes from its top, the same for relayed participants', async () => {
  const meetingId = 'm-e2ee';
  const info = { meetingId: MeetingId(meetingId), accountId: 'acme' as never, mode: 'internal-only' as const, e2ee: true, defaultQuality: 'SD' as const, topic: 'Board' };
  // What the ZCPs tell each module when they place someone there.
  mod('sfu-a').app.media.setMeetingInfo(MeetingId(meetingId), info);
  mod('sfu-b').app.media.setMeetingInfo(MeetingId(meetingId), info);
  const carol = await signal({ moduleId: 'sfu-b', meetingId, participant: 'carol' });
  const dave = await signal({ moduleId: 'sfu-a', meetingId, participant: 'dave' });
  expect(await state.getTop(MeetingId(meetingId))).toBe('sfu-b');
  // The welcome names the module holding the room and what the meeting does if it dies.
  expect(carol.meeting).toEqual({ id: meetingId, topic: 'Board', mode: 'internal-only', e2ee: true, top: 'sfu-b', onTopLoss: 'recover' });
  expect(carol.mediaKey?.key).toHaveLength(44);
  expect(dave.mediaKey).toEqual(carol.mediaKey);
  await Promise.all([carol.leave(), dave.leave()]);
  await waitFor(async () => (await state.getTop(MeetingId(meetingId))) === undefined, { description: 'top released' });
});

it('refuses a ticket for another module, another meeting or a cloud-hybrid meeting with coded errors', async () => {
  const wrongModule = await refusal(MeetingSignalClient.connect({ url: signalUrl('sfu-a', 'm-x'), token: ticket({ moduleId: 'sfu-b', meetingId: 'm-x', participant: 'eve' }) }));
  expect(wrongModule).toMatchObject({ code: 'UNAUTHENTICATED', message: 'join ticket is for module sfu-b, not sfu-a' });
  const wrongMeeting = await refusal(MeetingSignalClient.connect({ url: signalUrl('sfu-a', 'm-y'), token: ticket({ moduleId: 'sfu-a', meetingId: 'm-x', participant: 'eve' }) }));
  expect(wrongMeeting).toMatchObject({ code: 'FORBIDDEN', message: 'this join ticket is for meeting m-x, not m-y' });
  const hybrid = await refusal(MeetingSignalClient.connect({ url: signalUrl('sfu-a', 'm-h'), token: ticket({ moduleId: 'sfu-a', meetingId: 'm-h', participant: 'eve', mode: 'cloud-hybrid' }) }));
  expect(hybrid).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/cloud-hybrid: its signaling runs on the cloud meeting server/) });
  const garbage = await refusal(MeetingSignalClient.connect({ url: signalUrl('sfu-a', 'm-x'), token: 'not-a-ticket' }));
  expect(garbage).toMatchObject({ code: 'UNAUTHENTICATED' });
});

it('an expired ticket reopens the signaling only beside the live media session it admitted', async () => {
  const meetingId = 'm-expiry';
  const t = { moduleId: 'sfu-a', meetingId, participant: 'frank', expiresInMs: 1500 };
  const frankTicket = ticket(t);
  // Signed together, so both have expired once frank's has (signed after the join, gina's could still be valid on a busy machine).
  const other = ticket({ ...t, participant: 'gina' });
  const media = await MediaClient.join({ url: `${mod('sfu-a').url}/v1/media`, ticket: frankTicket });
  clients.push(media);
  const expiresAt = (signed: string) => (JSON.parse(Buffer.from(signed.split('.')[0] as string, 'base64url').toString()) as { expiresAt: number }).expiresAt;
  await waitFor(() => Date.now() > Math.max(expiresAt(frankTicket), expiresAt(other)), { timeoutMs: 5000, description: 'tickets expired' });
  // Frank is here with that ticket: his signaling may reconnect with it (e.g. after the meeting's top changed).
  const frank = await MeetingSignalClient.connect({ url: signalUrl('sfu-a', meetingId), token: frankTicket });
  clients.push(frank);
  expect(frank.participantId).toBe('frank');
  // Gina never came with hers.
  expect(await refusal(MeetingSignalClient.connect({ url: signalUrl('sfu-a', meetingId), token: other }))).toMatchObject({ code: 'UNAUTHENTICATED', message: 'join ticket has expired' });
  await Promise.all([frank.leave(), media.leave()]);
});

it("the top's relay door: seat first, only on the top, and every relayed message validated again", async () => {
  const meetingId = 'm-relay';
  const owner = await signal({ moduleId: 'sfu-a', meetingId, participant: 'owner' });
  const client = new v1.CascadeClient(`127.0.0.1:${mod('sfu-a').app.cascade.boundPort}`, credentials.createInsecure());
  const open = () => {
    const stream = client.signal();
    const got: v1.SignalRelay[] = [];
    const failed = new Promise<{ code: number; details: string }>((resolve) => stream.on('error', (e: { code: number; details: string }) => resolve(e)));
    stream.on('data', (m: v1.SignalRelay) => got.push(m));
    return { stream, got, failed };
  };
  const seat = (m: string) => ({ kind: { $case: 'seat' as const, value: { meetingId: m, participantId: 'zed', displayName: 'Zed', isHost: false, serverId: 'sfu-b', topic: '', e2ee: false } } });
  try {
    const noSeat = open();
    noSeat.stream.write({ kind: { $case: 'clientJson', value: '{"type":"chat","text":"hi"}' } });
    expect(await noSeat.failed).toMatchObject({ details: 'the first message of a signaling relay must be seat' });

    const notTop = open();
    notTop.stream.write(seat('m-nobody-tops'));
    expect(await notTop.failed).toMatchObject({ details: 'this module is not the top of meeting m-nobody-tops' });

    const badSeat = open();
    badSeat.stream.write({ kind: { $case: 'seat', value: { ...seat(meetingId).kind.value, displayName: ' ' } } });
    expect(await badSeat.failed).toMatchObject({ details: 'seat.display_name must be 1-64 characters, not only spaces' });

    const relayed = open();
    relayed.stream.write(seat(meetingId));
    await waitFor(() => owner.roster.has('zed'), { description: 'zed seated' });
    const ownerChat = collect(owner, 'chat');
    relayed.stream.write({ kind: { $case: 'clientJson', value: '{"type":"chat","text":"hi","extra":1}' } });
    relayed.stream.write({ kind: { $case: 'clientJson', value: '{"type":"hello","token":"x"}' } });
    relayed.stream.write({ kind: { $case: 'clientJson', value: 'not json' } });
    relayed.stream.write({ kind: { $case: 'clientJson', value: '{"type":"chat","text":"still here"}' } });
    const errors = () => relayed.got.flatMap((m) => (m.kind?.$case === 'serverJson' ? [JSON.parse(m.kind.value) as Record<string, unknown>] : [])).filter((m) => m['type'] === 'error');
    await waitFor(() => errors().length === 3, { description: 'three refusals' });
    expect(errors().map((e) => [e['code'], e['fatal']])).toEqual([
      ['INVALID_ARGUMENT', false],
      ['INVALID_ARGUMENT', false],
      ['INVALID_ARGUMENT', false],
    ]);
    // Only the valid message reached the room; the relayed participant is still seated.
    await waitFor(() => ownerChat.length === 1, { description: "zed's valid chat at the owner" });
    expect(ownerChat[0]).toMatchObject({ from: 'zed', text: 'still here' });
    // The stream ending is the relayed participant leaving.
    relayed.stream.end();
    await waitFor(() => !owner.roster.has('zed'), { description: 'zed left' });
  } finally {
    client.close();
  }
});
