/**
 * A zone under load, every service its own process on a real Redis (issue
 * [4], "Done when"): the control plane, two ZCPs of zone "hq" and three media
 * modules that register with both. Joins ask the ZCPs the way the SDK does
 * (`assignInZone`: the zone's other ZCP when one does not answer).
 *
 * - 1,000 concurrent joins across both ZCPs, a ZCP killed with SIGKILL in the
 *   middle: every join is answered through the other; no module goes past
 *   its 400 units; a meeting takes a second module only when its first is
 *   full; a full zone sends cloud-hybrid joins to the cloud MMR and refuses
 *   internal-only ones with CAPACITY_EXCEEDED.
 * - A module killed with SIGKILL: within its 3 s TTL no ZCP places anyone on
 *   it, and the sweep frees its reservations and meeting records.
 *
 * Access tokens are signed with the key the control plane was given (what
 * its sign-in would return: scrypt sign-ins for 1,000 users would only time
 * the password hash).
 */
import { assignInZone, type Assignment } from '@meetedge/client';
import {
  AccountId,
  MeetedgeError,
  ModuleId,
  MeetingId,
  UserId,
  ZoneId,
  generateTicketKeys,
  signAccessToken,
  verifyTicket,
  type AccessClaims,
  type Quality,
} from '@meetedge/core';
import { RedisClusterState } from '@meetedge/state';
import { startRedis, waitFor, type TestRedis } from '@meetedge/test-kit';
import { findOrphans } from './support/orphans';
import { freePort, kill, run, startedUrls, type Run } from './support/processes';

jest.setTimeout(180_000);

const pem = (k: ReturnType<typeof generateTicketKeys>) => ({
  pub: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  priv: k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
});
const tokenKeys = generateTicketKeys();
const ticketKeys = generateTicketKeys();
const ZONE = 'hq';
const CAPACITY = 400;
const MODULES = ['sfu-1', 'sfu-2', 'sfu-3'];

let redis: TestRedis;
let state: RedisClusterState;
const processes: Run[] = [];
let dashboardUrl: string;
let adminToken: string;
let accountId: AccountId;
/** zcp id → its HTTP URL and process. */
const zcps = new Map<string, { url: string; run: Run }>();
const modules = new Map<string, Run>();
let moduleEnv: (id: string) => Record<string, string>;

async function api<T>(method: 'POST' | 'GET', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${dashboardUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

function memberToken(userId: string): string {
  const issuedAt = Math.floor(Date.now() / 1000);
  const claims: AccessClaims = { kind: 'member', userId: UserId(userId), accountId, role: 'member', displayName: userId, tokenId: `t-${userId}`, issuedAt, expiresAt: issuedAt + 900 };
  return signAccessToken(claims, tokenKeys.privateKey);
}

async function createMeetings(n: number, mode: 'internal-only' | 'cloud-hybrid', prefix: string): Promise<{ id: string; mode: typeof mode }[]> {
  const out: { id: string; mode: typeof mode }[] = [];
  for (let i = 0; i < n; i++) out.push({ id: (await api<{ id: string }>('POST', '/v1/meetings', { topic: `${prefix} ${i}`, mode })).id, mode });
  return out;
}

/** Units of one ticket's quality. */
const units = (q: Quality) => (q === 'HD' ? 2 : 1);

beforeAll(async () => {
  redis = await startRedis();
  state = new RedisClusterState({ url: redis.url });
  const onRedis = { MEETEDGE_STATE: 'redis', MEETEDGE_REDIS_URL: redis.url, MEETEDGE_LOG_LEVEL: 'info' };
  const [httpPort, grpcPort, zcp1Grpc, zcp2Grpc] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const dashboard = run('dashboard', {
    ...onRedis,
    MEETEDGE_HTTP_PORT: String(httpPort),
    MEETEDGE_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
    MEETEDGE_GRPC_PORT: String(grpcPort),
    MEETEDGE_TOKEN_PRIVATE_KEY: pem(tokenKeys).priv,
    MEETEDGE_SIGNUP: 'open',
  });
  processes.push(dashboard);
  dashboardUrl = (await startedUrls(dashboard))['dashboard'] ?? '';
  const created = await (
    await fetch(`${dashboardUrl}/v1/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Acme', admin: { email: 'ada@acme.example', displayName: 'Ada', password: 'correct horse battery' } }),
    })
  ).json() as { accessToken: string; account: { id: string } };
  adminToken = created.accessToken;
  accountId = AccountId(created.account.id);
  await api('POST', '/v1/zones', { name: 'HQ', id: ZONE });

  const zcpGrpc = { 'zcp-1': zcp1Grpc, 'zcp-2': zcp2Grpc };
  for (const [id, port] of Object.entries(zcpGrpc)) {
    const r = run('zcp', {
      ...onRedis,
      MEETEDGE_ZCP_ID: id,
      MEETEDGE_ZONE_ID: ZONE,
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_GRPC_PORT: String(port),
      MEETEDGE_TOKEN_PUBLIC_KEY: pem(tokenKeys).pub,
      MEETEDGE_TICKET_PRIVATE_KEY: pem(ticketKeys).priv,
      MEETEDGE_ZONE_CONTROLLER_ADDRESS: `127.0.0.1:${grpcPort}`,
      MEETEDGE_CLOUD_MMR_URL: 'ws://127.0.0.1:8110/v1/media',
    });
    processes.push(r);
    zcps.set(id, { url: '', run: r });
  }
  for (const z of zcps.values()) z.url = (await startedUrls(z.run))['zcp'] ?? '';
  moduleEnv = (id) => ({
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
  });
  for (const id of MODULES) {
    const r = run('sfu', moduleEnv(id));
    processes.push(r);
    modules.set(id, r);
  }
  for (const r of modules.values()) await startedUrls(r);
  await waitFor(async () => (await state.listModules(ZoneId(ZONE))).length === MODULES.length, { timeoutMs: 20_000, description: 'three modules registered' });
});

afterAll(async () => {
  await Promise.all(processes.map((r) => kill(r)));
  await state?.close();
  await redis?.stop();
});

/** One join, asked the SDK's way: ZCPs in the given order, the next when one does not answer. */
async function join(zcpOrder: string[], userId: string, meetingId: string, quality: Quality): Promise<Assignment | MeetedgeError> {
  const urls = zcpOrder.map((id) => zcps.get(id)?.url ?? '');
  try {
    return await assignInZone(urls, memberToken(userId), { meetingId, quality });
  } catch (err) {
    if (err instanceof MeetedgeError) return err;
    throw err;
  }
}

it('a module killed with SIGKILL gets nobody new within its TTL, and its reservations and meetings are freed', async () => {
  const meetings = await createMeetings(6, 'internal-only', 'Before');
  const placed = await Promise.all(meetings.flatMap((m, i) => Array.from({ length: 4 }, (_, k) => join(k % 2 ? ['zcp-1', 'zcp-2'] : ['zcp-2', 'zcp-1'], `pre-${i}-${k}`, m.id, 'SD'))));
  const byModule = new Map<string, number>();
  for (const a of placed) {
    if (a instanceof MeetedgeError) throw a;
    byModule.set(a.moduleId, (byModule.get(a.moduleId) ?? 0) + 1);
  }
  const victim = [...byModule.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
  const victimMeetings = meetings.filter((_, i) => placed.slice(i * 4, i * 4 + 4).some((a) => !(a instanceof MeetedgeError) && a.moduleId === victim));
  expect((await state.getModule(ModuleId(victim)))?.reservedUnits).toBe(byModule.get(victim));

  const victimRun = modules.get(victim);
  if (!victimRun) throw new Error('no victim');
  await kill(victimRun);
  const killedAt = Date.now();
  // Joins keep coming during and after the TTL; each records when it was asked.
  const late: { askedAfterMs: number; moduleId: string }[] = [];
  let n = 0;
  while (Date.now() - killedAt < 5000) {
    const meeting = meetings[n % meetings.length];
    const askedAfterMs = Date.now() - killedAt;
    const a = await join(n % 2 ? ['zcp-1', 'zcp-2'] : ['zcp-2', 'zcp-1'], `post-${n++}`, meeting?.id ?? '', 'SD');
    if (a instanceof MeetedgeError) throw a;
    late.push({ askedAfterMs, moduleId: a.moduleId });
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  // Nobody asked after the TTL (3 s) went to the dead module; its meetings moved on.
  const afterTtl = late.filter((j) => j.askedAfterMs >= 3000);
  expect(afterTtl.length).toBeGreaterThan(10);
  expect(afterTtl.filter((j) => j.moduleId === victim)).toEqual([]);
  // The sweep removed it: its reservations are gone and no meeting points at it.
  await waitFor(async () => (await state.getModule(ModuleId(victim))) === undefined, { timeoutMs: 5000, description: 'victim swept' });
  for (const m of victimMeetings) expect(await state.meetingModules(MeetingId(m.id))).not.toContain(victim);
  expect((await state.listModules(ZoneId(ZONE))).map((m) => m.id)).not.toContain(victim);

  // The module comes back (same id, fresh process): it registers empty.
  const again = run('sfu', moduleEnv(victim));
  processes.push(again);
  modules.set(victim, again);
  await waitFor(async () => (await state.getModule(ModuleId(victim)))?.reservedUnits === 0, { timeoutMs: 20_000, description: 'victim back, empty' });
});

/** Placements of a wave of joins: units per module (from the tickets), modules per meeting, overflow. */
function tally(results: { result: Assignment | MeetedgeError; meeting: { id: string; mode: string }; quality: Quality }[]) {
  const ticketUnits = new Map<string, number>();
  const meetingModules = new Map<string, Set<string>>();
  let cloud = 0;
  let refused = 0;
  for (const { result, meeting, quality } of results) {
    if (result instanceof MeetedgeError) {
      // The only refusal: an internal-only meeting in a full zone.
      expect([meeting.mode, result.code]).toEqual(['internal-only', 'CAPACITY_EXCEEDED']);
      refused++;
      continue;
    }
    const claims = verifyTicket(result.ticket, ticketKeys.publicKey, { moduleId: ModuleId(result.moduleId), nowMs: Date.now() });
    expect([claims.meetingId, claims.quality]).toEqual([meeting.id, quality]);
    if (result.cloud) {
      expect([meeting.mode, result.moduleId]).toEqual(['cloud-hybrid', 'cloud-mmr-1']);
      cloud++;
      continue;
    }
    ticketUnits.set(result.moduleId, (ticketUnits.get(result.moduleId) ?? 0) + units(quality));
    meetingModules.set(claims.meetingId, (meetingModules.get(claims.meetingId) ?? new Set()).add(result.moduleId));
  }
  return { ticketUnits, meetingModules, cloud, refused };
}

/** No module over its capacity, in the state or counting the tickets handed out; returns free units per module. */
async function checkCapacity(ticketUnits: Map<string, number>): Promise<Map<string, number>> {
  const live = await state.listModules(ZoneId(ZONE));
  expect(live.map((m) => m.id)).toEqual(MODULES);
  for (const m of live) {
    expect(m.reservedUnits).toBeLessThanOrEqual(CAPACITY);
    expect(ticketUnits.get(m.id) ?? 0).toBeLessThanOrEqual(m.reservedUnits);
  }
  return new Map(live.map((m) => [m.id as string, m.capacityUnits - m.reservedUnits]));
}

it('1,000 concurrent joins across two ZCPs, one killed mid-load: all answered, no module over 400 units, each meeting kept on one module while it has room', async () => {
  const meetings = [...(await createMeetings(25, 'internal-only', 'Internal')), ...(await createMeetings(25, 'cloud-hybrid', 'Hybrid'))];
  let answered = 0;
  let killed = false;
  const zcp1 = zcps.get('zcp-1');
  const results = await Promise.all(
    Array.from({ length: 1000 }, async (_, i) => {
      const meeting = meetings[i % meetings.length] ?? { id: '', mode: 'internal-only' };
      const result = await join(i % 2 ? ['zcp-1', 'zcp-2'] : ['zcp-2', 'zcp-1'], `u-${i}`, meeting.id, 'SD');
      if (++answered === 250 && zcp1) {
        killed = true;
        zcp1.run.child.kill('SIGKILL');
      }
      return { result, meeting, quality: 'SD' as Quality };
    }),
  );
  expect(killed).toBe(true);
  expect(await zcp1?.run.exited).toBeNull();
  // 750 joins were answered after the kill: the surviving ZCP took every one the dead one could not.
  const { ticketUnits, meetingModules, cloud, refused } = tally(results);
  const free = await checkCapacity(ticketUnits);
  // The zone had room for the wave (1,000 SD units and what the previous test left, of 1,200).
  expect([cloud, refused]).toEqual([0, 0]);
  // A meeting took a second module only when its first was full: of a meeting's modules, all but one have no free unit left.
  for (const [meetingId, set] of meetingModules) {
    const withRoom = [...set].filter((id) => (free.get(id) ?? 0) > 0);
    expect([meetingId, withRoom.length <= 1]).toEqual([meetingId, true]);
  }
  // The dead ZCP left nothing behind that points at something dead (its half-done joins are pending reservations with a TTL).
  expect(await findOrphans(redis.url)).toEqual([]);
});

it('a full zone overflows by mode: cloud-hybrid joins go to the cloud MMR, internal-only ones are refused with CAPACITY_EXCEEDED; no module goes past 400', async () => {
  const meetings = [...(await createMeetings(10, 'internal-only', 'Late internal')), ...(await createMeetings(10, 'cloud-hybrid', 'Late hybrid'))];
  const results = await Promise.all(
    Array.from({ length: 300 }, async (_, i) => {
      const meeting = meetings[i % meetings.length] ?? { id: '', mode: 'internal-only' };
      // zcp-1 is dead (previous test): every join finds zcp-2 after it.
      return { result: await join(['zcp-1', 'zcp-2'], `late-${i}`, meeting.id, 'HD'), meeting, quality: 'HD' as Quality };
    }),
  );
  const { ticketUnits, cloud, refused } = tally(results);
  expect(cloud).toBeGreaterThan(0);
  expect(refused).toBeGreaterThan(0);
  const free = await checkCapacity(ticketUnits);
  // Nothing went to the cloud or was refused while a module had room for an HD participant.
  for (const [id, units] of free) expect([id, units < 2]).toEqual([id, true]);
});
