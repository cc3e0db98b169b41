/**
 * Cascades as processes (issue [5], "Done when"): every service its own
 * process on a real Redis (a private redis-server on a free port), the way an
 * operator runs them —
 *
 * - the control plane (`dashboard`): meetings, the join and guest-join
 *   answers, the cloud meeting server where participants of cloud-hybrid
 *   meetings report where their media is attached (`media-attached`), and the
 *   cloud zone controller that turns those reports into cascade needs;
 * - the cloud MMR (`sfu` with MEETEDGE_ROLE=cloud, its own in-memory state);
 * - zone "hq": two ZCPs and two edge modules (sfu-1, sfu-2) registered with
 *   both over gRPC.
 *
 * Participants are werift clients of the SDK in this process: members get a
 * module from a ZCP (POST /v1/assign with an access token signed with the
 * control plane's key, as its sign-in would give), open media there and keep
 * the meeting's signaling where the real join keeps it (the cloud meeting
 * server for cloud-hybrid, the module for internal-only). A guest asks the
 * control plane's guest-join, keeps the cloud signaling with the guest token
 * and sends media straight to the cloud MMR.
 *
 * Where participants land is made deterministic with the assign request's
 * `excludeModuleIds` (what a client sends for a module it could not reach):
 * a participant that must be on the other module than someone already placed
 * excludes that one's module; one that must be on a given module excludes the
 * other. The first participant of a meeting goes wherever placement puts it,
 * and the test follows.
 *
 * Media is checked byte for byte: each packet carries a stamp (its index) and
 * random bytes; every payload a receiver gets must be one that was sent, and
 * each receiver must get enough different ones.
 *
 * The cloud MMR gets the guest's ticket from this test, signed with the
 * zone's ticket key as a ZCP's cloud overflow signs one: the control plane's
 * guest-join answers the cloud MMR's URL but no ticket for it yet.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { assignInZone, MediaClient, MeetingSignalClient, moduleSignalingUrl, type Assignment } from '@meetedge/client';
import {
  AccountId,
  MeetingId,
  ModuleId,
  ParticipantId,
  ReservationId,
  UserId,
  ZoneId,
  generateTicketKeys,
  signAccessToken,
  signTicket,
  type AccessClaims,
} from '@meetedge/core';
import type { TrackSource } from '@meetedge/signaling';
import { RedisClusterState } from '@meetedge/state';
import { startRedis, waitFor, type TestRedis } from '@meetedge/test-kit';
import { MediaStreamTrack, RtpHeader, RtpPacket } from 'werift';
import { freePort, kill, run, startedUrls, type Run } from './support/processes';

jest.setTimeout(180_000);

const pem = (k: ReturnType<typeof generateTicketKeys>) => ({
  pub: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  priv: k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
});
const tokenKeys = generateTicketKeys();
const ticketKeys = generateTicketKeys();
const ZONE = 'hq';
const MODULES = ['sfu-1', 'sfu-2'] as const;
const CLOUD_MMR = 'cloud-mmr-1';

// Replies of the services are read loosely and checked with expect() (whose failure names the
// field); their exact types are the services' schemas, which a second typed copy here would only restate.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let redis: TestRedis;
let state: RedisClusterState;
const processes: Run[] = [];
let dashboardUrl: string;
let cloudMmrUrl: string;
let adminToken: string;
let accountId: AccountId;
const zcpUrls: string[] = [];
/** Module id → its HTTP URL. */
const moduleUrls = new Map<string, string>();
const parties: Party[] = [];

async function http(method: 'GET' | 'POST', url: string, options: { token?: string; body?: unknown } = {}): Promise<Json> {
  const res = await fetch(url, {
    method,
    headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Json;
}
const api = (method: 'GET' | 'POST', path: string, body?: unknown, token = adminToken) => http(method, `${dashboardUrl}${path}`, { token, body });

function memberToken(userId: string): string {
  const issuedAt = Math.floor(Date.now() / 1000);
  const claims: AccessClaims = { kind: 'member', userId: UserId(userId), accountId, role: 'member', displayName: userId, tokenId: `t-${userId}`, issuedAt, expiresAt: issuedAt + 900 };
  return signAccessToken(claims, tokenKeys.privateKey);
}

beforeAll(async () => {
  redis = await startRedis();
  state = new RedisClusterState({ url: redis.url });
  const onRedis = { MEETEDGE_STATE: 'redis', MEETEDGE_REDIS_URL: redis.url, MEETEDGE_LOG_LEVEL: 'info' };
  const [httpPort, grpcPort, zcp1Grpc, zcp2Grpc, cloudHttp, cloudCascade] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  cloudMmrUrl = `ws://127.0.0.1:${cloudHttp}/v1/media`;

  // The cloud MMR: not in the zone, not on its Redis.
  const cloud = run('sfu', {
    MEETEDGE_STATE: 'memory',
    MEETEDGE_LOG_LEVEL: 'info',
    MEETEDGE_ROLE: 'cloud',
    MEETEDGE_MODULE_ID: CLOUD_MMR,
    MEETEDGE_ZONE_ID: 'cloud',
    MEETEDGE_NODE_ID: 'cloud-node-1',
    MEETEDGE_HTTP_PORT: String(cloudHttp),
    MEETEDGE_MEDIA_PORT: '0',
    MEETEDGE_CASCADE_PORT: String(cloudCascade),
    MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
    MEETEDGE_TICKET_PUBLIC_KEY: pem(ticketKeys).pub,
  });
  processes.push(cloud);
  const dashboard = run('dashboard', {
    ...onRedis,
    MEETEDGE_HTTP_PORT: String(httpPort),
    MEETEDGE_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
    MEETEDGE_GRPC_PORT: String(grpcPort),
    MEETEDGE_TOKEN_PRIVATE_KEY: pem(tokenKeys).priv,
    MEETEDGE_SIGNUP: 'open',
    MEETEDGE_CLOUD_MMR_URL: cloudMmrUrl,
    MEETEDGE_CLOUD_MMR_ID: CLOUD_MMR,
    MEETEDGE_CLOUD_MMR_CASCADE_ADDRESS: `127.0.0.1:${cloudCascade}`,
  });
  processes.push(dashboard);
  const zcpRuns = Object.entries({ 'zcp-1': zcp1Grpc, 'zcp-2': zcp2Grpc }).map(([id, port]) =>
    run('zcp', {
      ...onRedis,
      MEETEDGE_ZCP_ID: id,
      MEETEDGE_ZONE_ID: ZONE,
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_GRPC_PORT: String(port),
      MEETEDGE_TOKEN_PUBLIC_KEY: pem(tokenKeys).pub,
      MEETEDGE_TICKET_PRIVATE_KEY: pem(ticketKeys).priv,
      MEETEDGE_ZONE_CONTROLLER_ADDRESS: `127.0.0.1:${grpcPort}`,
      MEETEDGE_CLOUD_MMR_URL: cloudMmrUrl,
    }),
  );
  processes.push(...zcpRuns);
  const moduleRuns = MODULES.map((id) =>
    run('sfu', {
      ...onRedis,
      MEETEDGE_MODULE_ID: id,
      MEETEDGE_ZONE_ID: ZONE,
      MEETEDGE_NODE_ID: `node-${id}`,
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_MEDIA_PORT: '0',
      MEETEDGE_CASCADE_PORT: '0',
      MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
      MEETEDGE_TICKET_PUBLIC_KEY: pem(ticketKeys).pub,
      MEETEDGE_ZCP_ADDRESSES: `127.0.0.1:${zcp1Grpc},127.0.0.1:${zcp2Grpc}`,
    }),
  );
  processes.push(...moduleRuns);

  dashboardUrl = (await startedUrls(dashboard, 60_000))['dashboard'] ?? '';
  const created = await http('POST', `${dashboardUrl}/v1/accounts`, {
    body: { name: 'Acme', admin: { email: 'ada@acme.example', displayName: 'Ada', password: 'correct horse battery' } },
  });
  adminToken = created.accessToken as string;
  accountId = AccountId(created.account.id as string);
  // The zone as the control plane knows it: its ZCPs (with their URLs, for the join answer) and its modules.
  await api('POST', '/v1/zones', { name: 'HQ', id: ZONE });
  const node = await api('POST', `/v1/zones/${ZONE}/nodes`, { name: 'node-1', address: '127.0.0.1' });
  for (const [i, r] of zcpRuns.entries()) {
    const url = (await startedUrls(r, 60_000))['zcp'] ?? '';
    zcpUrls.push(url);
    await api('POST', `/v1/nodes/${node.id as string}/modules`, { id: `zcp-${i + 1}`, kind: 'zcp', url });
  }
  for (const id of MODULES) await api('POST', `/v1/nodes/${node.id as string}/modules`, { id, kind: 'sfu' });
  for (const [i, r] of moduleRuns.entries()) moduleUrls.set(MODULES[i] as string, (await startedUrls(r, 60_000))['sfu'] ?? '');
  moduleUrls.set(CLOUD_MMR, (await startedUrls(cloud, 60_000))['cloud-mmr'] ?? '');
  await waitFor(async () => (await state.listModules(ZoneId(ZONE))).filter((m) => m.cascadeAddress).length === MODULES.length, {
    timeoutMs: 30_000,
    description: 'both modules registered with their cascade addresses',
  });
});

// Whatever a case left behind (a failed one included) leaves before the next: each case starts with no link anywhere.
afterEach(async () => {
  await Promise.all(parties.splice(0).map((p) => p.leave()));
  await waitFor(async () => (await Promise.all([...MODULES, CLOUD_MMR].map((m) => links(m)))).every((l) => l.length === 0), { timeoutMs: 30_000, description: 'every link closed' });
});

afterAll(async () => {
  await Promise.all(processes.map((r) => kill(r)));
  await state?.close();
  await redis?.stop();
});

// ── Participants ─────────────────────────────────────────────────────────

interface Party {
  readonly name: string;
  readonly media: MediaClient;
  /** The meeting signaling: the cloud meeting server's, or the module's for internal-only. */
  readonly signal: MeetingSignalClient;
  /** Where its media is: a module id, or the cloud MMR's. */
  readonly moduleId: string;
  /** Its tracks by source, and the track ids the server gave them. */
  readonly tracks: Map<TrackSource, { track: MediaStreamTrack; trackId: string }>;
  leave(): Promise<void>;
}

async function publishAndSignal(name: string, media: MediaClient, signal: MeetingSignalClient, moduleId: string, video: boolean): Promise<Party> {
  const mic = new MediaStreamTrack({ kind: 'audio' });
  const camera = new MediaStreamTrack({ kind: 'video' });
  const ids = await media.publish([{ source: 'microphone', track: mic }, ...(video ? [{ source: 'camera' as const, track: camera }] : [])]);
  const tracks = new Map<TrackSource, { track: MediaStreamTrack; trackId: string }>([['microphone', { track: mic, trackId: ids.get('microphone') ?? '' }]]);
  if (video) tracks.set('camera', { track: camera, trackId: ids.get('camera') ?? '' });
  let left: Promise<void> | undefined;
  const party: Party = {
    name,
    media,
    signal,
    moduleId,
    tracks,
    leave: () => (left ??= Promise.all([signal.leave().catch(() => undefined), media.leave().catch(() => undefined)]).then(() => undefined)),
  };
  parties.push(party);
  return party;
}

/**
 * A member joins as the SDK does: asks the control plane to join (mode,
 * signaling URL, the zone's ZCPs), asks a ZCP for a module (`exclude`: the
 * modules it says it cannot use), opens media with the ticket, opens the
 * meeting's signaling and reports where its media is attached.
 */
async function member(name: string, meetingId: string, options: { exclude?: string[]; video?: boolean } = {}): Promise<Party> {
  const token = memberToken(name);
  const info = await http('POST', `${dashboardUrl}/v1/meetings/${meetingId}/join`, { token });
  const zone = (info.zones as { id: string; zcpUrls: string[] }[]).find((z) => z.id === ZONE);
  expect(zone?.zcpUrls.sort()).toEqual([...zcpUrls].sort());
  const request = { meetingId, quality: 'SD' as const };
  const assignment: Assignment = options.exclude
    ? ((await http('POST', `${zone?.zcpUrls[0] ?? ''}/v1/assign`, { token, body: { ...request, excludeModuleIds: options.exclude } })) as Assignment)
    : await assignInZone(zone?.zcpUrls ?? [], token, request);
  expect(assignment.cloud).toBe(false);
  const media = await MediaClient.join({ url: assignment.mediaUrl, ticket: assignment.ticket });
  const signal =
    info.mode === 'cloud-hybrid'
      ? await MeetingSignalClient.connect({ url: info.signalingUrl as string, token })
      : await MeetingSignalClient.connect({ url: moduleSignalingUrl(assignment.mediaUrl, meetingId), token: assignment.ticket });
  signal.attachMedia({ kind: 'module', moduleId: assignment.moduleId });
  return publishAndSignal(name, media, signal, assignment.moduleId, options.video ?? false);
}

/** A guest joins at the cloud: guest-join, the cloud signaling with its guest token, media on the cloud MMR. */
async function guest(name: string, meetingId: string, options: { video?: boolean } = {}): Promise<Party> {
  const info = await http('POST', `${dashboardUrl}/v1/meetings/${meetingId}/guest-join`, { body: { displayName: name } });
  expect(info.zones).toEqual([]);
  expect(info.cloudMmrUrl).toBe(cloudMmrUrl);
  const signal = await MeetingSignalClient.connect({ url: info.signalingUrl as string, token: info.accessToken as string });
  const now = Date.now();
  const ticket = signTicket(
    {
      ticketId: ReservationId(randomUUID()),
      meetingId: MeetingId(meetingId),
      participantId: ParticipantId(signal.participantId),
      moduleId: ModuleId(CLOUD_MMR),
      quality: 'SD',
      mode: 'cloud-hybrid',
      displayName: name,
      issuedAt: now,
      expiresAt: now + 60_000,
    },
    ticketKeys.privateKey,
  );
  const media = await MediaClient.join({ url: info.cloudMmrUrl as string, ticket });
  signal.attachMedia({ kind: 'cloud' });
  return publishAndSignal(name, media, signal, CLOUD_MMR, options.video ?? false);
}

// ── What the servers say ─────────────────────────────────────────────────

interface LinkView {
  meetingId: string;
  peerServerId: string;
  role: 'opener' | 'answerer';
  scope: 'north-south' | 'east-west';
}
const stats = (moduleId: string) => http('GET', `${moduleUrls.get(moduleId) ?? ''}/v1/stats`);
async function links(moduleId: string, meetingId?: string): Promise<LinkView[]> {
  const all = (await stats(moduleId)).links as LinkView[];
  return all
    .filter((l) => meetingId === undefined || l.meetingId === meetingId)
    .map(({ meetingId: m, peerServerId, role, scope }) => ({ meetingId: m, peerServerId, role, scope }));
}
const link = (meetingId: string, peerServerId: string, role: LinkView['role'], scope: LinkView['scope']): LinkView => ({ meetingId, peerServerId, role, scope });

/** The cloud meeting server's series on the control plane's /metrics. */
async function meetingServerCounters(): Promise<Record<string, number>> {
  const text = await (await fetch(`${dashboardUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(meetedge_meeting_server_\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    const result = /result="(\w+)"/.exec(m?.[2] ?? '')?.[1];
    if (m?.[1] && m[3]) out[result ? `${m[1]}{${result}}` : m[1]] = Number(m[3]);
  }
  return out;
}

const other = (moduleId: string) => (moduleId === MODULES[0] ? MODULES[1] : MODULES[0]);

// ── Media, byte for byte ─────────────────────────────────────────────────

/**
 * Every `from` track reaches every `to` party: each waits until a receive
 * slot of it carries the track, then every track is fed stamped random
 * packets until each receiver got at least `min` of each; every payload
 * received must be one that was sent, byte for byte.
 */
async function expectMedia(routes: { from: Party; source: TrackSource; to: Party[] }[], min = 25): Promise<void> {
  const receivers = new Set(routes.flatMap((r) => r.to));
  const streams = routes.map((r) => {
    const t = r.from.tracks.get(r.source);
    if (!t) throw new Error(`${r.from.name} has no ${r.source}`);
    return { ...r, ...t, kind: r.source === 'microphone' ? 'audio' : 'video', sent: [] as string[], got: new Map<Party, string[]>() };
  });
  // Each receiver knows every track it should get, then asks for enough slots.
  for (const party of receivers) {
    const wanted = streams.filter((s) => s.to.includes(party)).map((s) => s.trackId);
    await waitFor(() => wanted.every((id) => party.media.tracks.has(id)), { timeoutMs: 30_000, description: `${party.name} told of ${wanted.join(', ')}` });
    await party.media.receive();
  }
  await Promise.all([...receivers].map((p) => p.media.connected(30_000)));
  for (const s of streams) {
    for (const party of s.to) {
      const remote = await waitFor(() => [...party.media.remote.values()].find((r) => r.trackId === s.trackId), { timeoutMs: 30_000, description: `a slot of ${party.name} for ${s.from.name}'s ${s.source}` });
      const got: string[] = [];
      s.got.set(party, got);
      remote.onRtp((packet) => {
        if (remote.trackId === s.trackId) got.push(Buffer.from(packet.payload).toString('hex'));
      });
    }
  }
  const ssrc = new Map(streams.map((s, i) => [s, 1000 + i]));
  let seq = 0;
  const pump = setInterval(() => {
    seq++;
    for (const s of streams) {
      const stamp = Buffer.alloc(4);
      stamp.writeUInt32BE(seq);
      if (s.kind === 'audio') {
        const payload = Buffer.concat([stamp, randomBytes(60)]);
        s.sent.push(payload.toString('hex'));
        s.track.writeRtp(new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: seq * 960, ssrc: ssrc.get(s) }), payload));
      } else {
        // A VP8 payload descriptor (start of partition), a key frame every 10 packets, then the stamp and random bytes.
        const payload = Buffer.concat([Buffer.from([0x10, seq % 10 === 1 ? 0x00 : 0x01, 0x00, 0x9d]), stamp, randomBytes(400)]);
        s.sent.push(payload.toString('hex'));
        s.track.writeRtp(new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp: seq * 3000, ssrc: ssrc.get(s), marker: true }), payload));
      }
    }
  }, 15);
  try {
    await waitFor(() => streams.every((s) => [...s.got.values()].every((g) => new Set(g).size >= min)), {
      timeoutMs: 60_000,
      description: `media: ${streams.map((s) => `${s.from.name}'s ${s.source} → ${[...s.got].map(([p, g]) => `${p.name} ${g.length}`).join(', ')}`).join('; ')}`,
    });
  } finally {
    clearInterval(pump);
  }
  for (const s of streams) {
    const sent = new Set(s.sent);
    for (const [party, got] of s.got) {
      // Named so a failure says which stream to whom. (Not their order: a retransmitted packet may arrive after later ones.)
      const what = `${s.from.name}'s ${s.source} → ${party.name}`;
      expect([what, got.filter((hex) => !sent.has(hex)).length, new Set(got).size >= min]).toEqual([what, 0, true]);
    }
  }
}

/** The participants a party's signaling shows, by id. */
const rosterOf = (p: Party) => [...p.signal.roster.keys()].sort();

// ── The cases ────────────────────────────────────────────────────────────

it('a cloud-hybrid meeting on one module has no link; a guest at the cloud makes the module open exactly one, media crosses it both ways byte for byte; the guest leaves and the link closes', async () => {
  const meeting = (await api('POST', '/v1/meetings', { topic: 'All hands', mode: 'cloud-hybrid' })).id as string;
  const alice = await member('alice', meeting, { video: true });
  const bob = await member('bob', meeting);
  // Both on one module (the meeting stays where it is while that has room).
  expect(bob.moduleId).toBe(alice.moduleId);
  const mod = alice.moduleId;
  // The meeting server has both attachments: everyone sits on one module, so nothing links.
  await waitFor(() => [alice, bob].every((p) => alice.signal.roster.get(p.name)?.media?.kind === 'module'), { description: 'attachments on the roster' });
  await expectMedia([{ from: alice, source: 'microphone', to: [bob] }]);
  expect(await links(mod)).toEqual([]);
  expect(await links(CLOUD_MMR)).toEqual([]);
  expect(((await stats(CLOUD_MMR)).meetings as Json[]).map((m) => m.meetingId)).toEqual([]);

  // A guest joins at the cloud: the module links the meeting to the cloud MMR, once.
  const gus = await guest('Gus', meeting, { video: true });
  await waitFor(async () => (await links(mod)).length === 1 && (await links(CLOUD_MMR)).length === 1, { timeoutMs: 30_000, description: 'the link up on both sides' });
  expect(await links(mod)).toEqual([link(meeting, CLOUD_MMR, 'opener', 'north-south')]);
  expect(await links(CLOUD_MMR)).toEqual([link(meeting, mod, 'answerer', 'north-south')]);
  expect(await links(other(mod))).toEqual([]);

  await expectMedia([
    { from: alice, source: 'microphone', to: [gus] },
    { from: alice, source: 'camera', to: [gus] },
    { from: gus, source: 'microphone', to: [alice, bob] },
    { from: gus, source: 'camera', to: [alice, bob] },
  ]);
  // Still one link after media, each stream on it once: alice's two and bob's microphone out, the guest's two in.
  expect(await links(mod)).toEqual([link(meeting, CLOUD_MMR, 'opener', 'north-south')]);
  const [up] = (await stats(mod)).links as Json[];
  expect([up?.streamsOut, up?.streamsIn]).toEqual([3, 2]);
  expect(rosterOf(gus)).toEqual([gus.signal.participantId, 'alice', 'bob'].sort());

  // The guest leaves: the need ends, the link closes on both sides, the guest's tracks leave the module.
  await gus.leave();
  await waitFor(async () => (await links(mod)).length === 0 && (await links(CLOUD_MMR)).length === 0, { timeoutMs: 30_000, description: 'the link closed' });
  await waitFor(() => [...alice.media.tracks.values()].every((t) => t.participantId !== gus.signal.participantId), { description: "the guest's tracks gone" });
  await Promise.all([alice.leave(), bob.leave()]);
});

it('a cloud-hybrid meeting spread over two modules: each opens one link to the cloud MMR and none to the other; they hear each other through it', async () => {
  const meeting = (await api('POST', '/v1/meetings', { topic: 'Two floors', mode: 'cloud-hybrid' })).id as string;
  const carol = await member('carol', meeting);
  // Dave cannot use Carol's module: the ZCP places him on the other one.
  const dave = await member('dave', meeting, { exclude: [carol.moduleId] });
  expect(dave.moduleId).toBe(other(carol.moduleId));
  expect((await state.meetingModules(MeetingId(meeting))).sort()).toEqual([...MODULES]);

  await waitFor(async () => (await links(carol.moduleId)).length === 1 && (await links(dave.moduleId)).length === 1 && (await links(CLOUD_MMR)).length === 2, {
    timeoutMs: 30_000,
    description: 'both modules linked to the cloud MMR',
  });
  await expectMedia([
    { from: carol, source: 'microphone', to: [dave] },
    { from: dave, source: 'microphone', to: [carol] },
  ]);
  expect(await links(carol.moduleId)).toEqual([link(meeting, CLOUD_MMR, 'opener', 'north-south')]);
  expect(await links(dave.moduleId)).toEqual([link(meeting, CLOUD_MMR, 'opener', 'north-south')]);
  expect((await links(CLOUD_MMR)).sort((a, b) => a.peerServerId.localeCompare(b.peerServerId))).toEqual(MODULES.map((m) => link(meeting, m, 'answerer', 'north-south')));

  await Promise.all([carol.leave(), dave.leave()]);
  await waitFor(async () => (await Promise.all([...MODULES, CLOUD_MMR].map((m) => links(m)))).every((l) => l.length === 0), { timeoutMs: 30_000, description: 'every link closed' });
});

it('an internal-only meeting on two modules: the first is top, the second links east-west to it, both sides see and hear each other; the cloud MMR and the cloud meeting server see nothing of it', async () => {
  // The cloud carries nothing any more (the previous meetings ended there): what it counts now stays.
  await waitFor(async () => ((await stats(CLOUD_MMR)).meetings as Json[]).length === 0, { timeoutMs: 30_000, description: 'the cloud MMR idle' });
  const cloudBefore = (await stats(CLOUD_MMR)).module as Json;
  expect(cloudBefore.packetsIn).toBeGreaterThan(0);
  // The meeting server's totals (not what it holds now: the previous cases' sessions may still be closing).
  const serverTotals = async () => Object.fromEntries(Object.entries(await meetingServerCounters()).filter(([name]) => name.includes('_total')));
  const serverBefore = await serverTotals();
  expect(Object.keys(serverBefore).sort()).toEqual([
    'meetedge_meeting_server_hellos_total{admitted}',
    'meetedge_meeting_server_hellos_total{refused}',
    'meetedge_meeting_server_rooms_opened_total',
    'meetedge_meeting_server_sessions_opened_total',
  ]);
  expect(serverBefore['meetedge_meeting_server_hellos_total{admitted}']).toBeGreaterThan(0);

  const meeting = (await api('POST', '/v1/meetings', { topic: 'Board', mode: 'internal-only' })).id as string;
  const erin = await member('erin', meeting, { video: true });
  await waitFor(async () => (await state.getTop(MeetingId(meeting))) === erin.moduleId, { description: "erin's module is top" });
  const frank = await member('frank', meeting, { exclude: [erin.moduleId], video: true });
  expect(frank.moduleId).toBe(other(erin.moduleId));

  await waitFor(async () => (await links(frank.moduleId)).length === 1, { timeoutMs: 30_000, description: 'the east-west link' });
  expect(await links(frank.moduleId)).toEqual([link(meeting, erin.moduleId, 'opener', 'east-west')]);
  await expectMedia([
    { from: erin, source: 'microphone', to: [frank] },
    { from: erin, source: 'camera', to: [frank] },
    { from: frank, source: 'microphone', to: [erin] },
    { from: frank, source: 'camera', to: [erin] },
  ]);
  expect(await links(erin.moduleId)).toEqual([link(meeting, frank.moduleId, 'answerer', 'east-west')]);
  expect(await state.getTop(MeetingId(meeting))).toBe(erin.moduleId);
  // One roster across both modules, held by the top.
  await waitFor(() => rosterOf(erin).length === 2 && rosterOf(frank).length === 2, { description: 'both in both rosters' });
  expect([rosterOf(erin), rosterOf(frank)]).toEqual([['erin', 'frank'], ['erin', 'frank']]);

  // Nothing of it reached the cloud: no link, no meeting, not one more packet on the cloud MMR; no session on the meeting server.
  const cloud = await stats(CLOUD_MMR);
  expect(cloud.links).toEqual([]);
  expect(cloud.meetings).toEqual([]);
  const cloudAfter = cloud.module as Json;
  for (const key of ['packetsIn', 'bytesIn', 'packetsOut', 'bytesOut', 'participants', 'meetings']) expect([key, cloudAfter[key]]).toEqual([key, cloudBefore[key]]);
  expect(await serverTotals()).toEqual(serverBefore);

  await Promise.all([erin.leave(), frank.leave()]);
  await waitFor(async () => (await Promise.all(MODULES.map((m) => links(m)))).every((l) => l.length === 0), { timeoutMs: 30_000, description: 'the east-west link closed' });
});

it('both modes on one module at once: a cloud-hybrid meeting linked north–south and an internal-only one linked east-west, neither seeing the other', async () => {
  const hybrid = (await api('POST', '/v1/meetings', { topic: 'Customers', mode: 'cloud-hybrid' })).id as string;
  const internal = (await api('POST', '/v1/meetings', { topic: 'Payroll', mode: 'internal-only' })).id as string;
  const grace = await member('grace', hybrid);
  const mod = grace.moduleId;
  const hana = await guest('Hana', hybrid);
  // The internal-only meeting starts on grace's module (ivan excludes the other), so that module is its top; judy is on the other.
  const ivan = await member('ivan', internal, { exclude: [other(mod)] });
  expect(ivan.moduleId).toBe(mod);
  await waitFor(async () => (await state.getTop(MeetingId(internal))) === mod, { description: 'the module is top of the internal-only meeting' });
  const judy = await member('judy', internal, { exclude: [mod] });
  expect(judy.moduleId).toBe(other(mod));

  const byMeeting = (l: LinkView[]) => [...l].sort((a, b) => a.meetingId.localeCompare(b.meetingId));
  const expected = byMeeting([link(hybrid, CLOUD_MMR, 'opener', 'north-south'), link(internal, other(mod), 'answerer', 'east-west')]);
  await waitFor(async () => (await links(mod)).length === 2, { timeoutMs: 30_000, description: 'both links on the module' });
  await expectMedia([
    { from: grace, source: 'microphone', to: [hana] },
    { from: hana, source: 'microphone', to: [grace] },
    { from: ivan, source: 'microphone', to: [judy] },
    { from: judy, source: 'microphone', to: [ivan] },
  ]);
  expect(byMeeting(await links(mod))).toEqual(expected);
  expect(await links(other(mod))).toEqual([link(internal, mod, 'opener', 'east-west')]);
  expect(await links(CLOUD_MMR)).toEqual([link(hybrid, mod, 'answerer', 'north-south')]);
  expect(((await stats(CLOUD_MMR)).meetings as Json[]).map((m) => m.meetingId)).toEqual([hybrid]);

  // Isolated: each participant is told only of the other's tracks of its own meeting, and sees only its own meeting's people.
  const trackOwners = (p: Party) => [...new Set([...p.media.tracks.values()].map((t) => t.participantId))].filter((id) => id !== p.media.participantId);
  expect([trackOwners(grace), trackOwners(hana), trackOwners(ivan), trackOwners(judy)]).toEqual([[hana.signal.participantId], ['grace'], ['judy'], ['ivan']]);
  await waitFor(() => rosterOf(ivan).length === 2 && rosterOf(judy).length === 2, { description: 'the internal-only roster' });
  expect([rosterOf(grace), rosterOf(ivan), rosterOf(judy)]).toEqual([['grace', hana.signal.participantId].sort(), ['ivan', 'judy'], ['ivan', 'judy']]);
  // The module holds both meetings, each with its own local participant.
  const meetings = ((await stats(mod)).meetings as Json[]).map((m) => [m.meetingId, m.mode]).sort();
  expect(meetings).toEqual([[hybrid, 'cloud-hybrid'], [internal, 'internal-only']].sort());

  await Promise.all([grace, hana, ivan, judy].map((p) => p.leave()));
});
