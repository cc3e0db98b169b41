// POST /v1/assign through app.inject, on the in-memory store and on a real
// Redis (two ZCPs sharing it), with an in-memory zone controller.
import {
  AccountId,
  MeetedgeError,
  MeetingId,
  ModuleId,
  NodeId,
  UserId,
  ZoneId,
  generateTicketKeys,
  signAccessToken,
  verifyTicket,
  type Id,
  type TicketClaims,
} from '@meetedge/core';
import { createLogger } from '@meetedge/service-kit';
import { MemoryClusterState, RedisClusterState, type ClusterState } from '@meetedge/state';
import { startRedis, type TestRedis } from '@meetedge/test-kit';
import { buildApp, type ZcpService } from '../app';
import { loadZcpConfig } from '../config';
import { StaticMeetingInfoSource, type MeetingInfo } from './meeting-info';
import { accessToken, testKeys, zcpKeyEnv } from './test-support';

const ZONE = ZoneId('hq');
const ACCOUNT = AccountId('acme');
const HYBRID = MeetingId('m-hybrid');
const INTERNAL = MeetingId('m-internal');
const CLOUD_URL = 'wss://cloud.example.com/v1/media';

const meetings: MeetingInfo[] = [
  {
    meetingId: HYBRID,
    accountId: ACCOUNT,
    mode: 'cloud-hybrid',
    e2ee: false,
    defaultQuality: 'HD',
    cloudMmrId: ModuleId('cloud-mmr-1'),
    cloudMmrAddress: 'cloud-mmr:9701',
    cloudSignalingUrl: 'wss://meet.example.com/v1/meetings/m-hybrid/signal',
  },
  { meetingId: INTERNAL, accountId: ACCOUNT, mode: 'internal-only', e2ee: true, defaultQuality: 'SD', hostUserId: 'hannah', topic: 'Board' },
];

const member = (user = 'alice', account = ACCOUNT) =>
  ({ kind: 'member', userId: UserId(user), accountId: account, role: 'member', displayName: `User ${user}` }) as const;
const guest = (meetingId: MeetingId, id = 'g-1') =>
  ({ kind: 'guest', guestId: id as Id<'GuestId'>, meetingId, accountId: ACCOUNT, displayName: 'A guest' }) as const;

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

let prefixes = 0;
const backends: [string, () => () => ClusterState][] = [
  ['memory', () => {
    const shared = new MemoryClusterState();
    return () => shared;
  }],
  ['redis', () => {
    const keyPrefix = `zcp-assign-${++prefixes}:`;
    // Each call is another process's connection to the same keys.
    return () => new RedisClusterState({ url: redis.url, keyPrefix });
  }],
];

describe.each(backends)('POST /v1/assign on the %s store', (_name, makeBackend) => {
  let connect: () => ClusterState;
  let state: ClusterState;
  let info: StaticMeetingInfoSource;
  let apps: ZcpService[];
  const opened: ClusterState[] = [];

  const open = () => {
    const s = connect();
    if (!opened.includes(s)) opened.push(s);
    return s;
  };

  const newZcp = (zcpId: string, zcpState: ClusterState) => {
    const config = loadZcpConfig({ ...zcpKeyEnv(), MEETEDGE_ZCP_ID: zcpId, MEETEDGE_ZONE_ID: ZONE, MEETEDGE_CLOUD_MMR_URL: CLOUD_URL });
    const app = buildApp(config, { logger: createLogger({ level: 'silent' }), state: zcpState, meetingInfo: info });
    apps.push(app);
    return app;
  };

  beforeEach(async () => {
    connect = makeBackend();
    apps = [];
    opened.length = 0;
    state = open();
    info = new StaticMeetingInfoSource(meetings);
    newZcp('zcp-1', state);
  });

  afterEach(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(opened.map((s) => s.close()));
  });

  const zcp = () => apps[0] as ZcpService;

  const register = (id: string, options: { capacityUnits?: number; zoneId?: ZoneId } = {}) =>
    state.registerModule(
      {
        id: ModuleId(id),
        zoneId: options.zoneId ?? ZONE,
        nodeId: NodeId('node-1'),
        role: 'edge',
        mediaUrl: `wss://${id}.corp/v1/media`,
        capacityUnits: options.capacityUnits ?? 400,
        version: '0.1.0',
      },
      60_000,
    );

  const fill = async (id: string, units: number) => {
    for (let i = 0; i < units; i++) {
      const r = await state.reserve({ moduleId: ModuleId(id), reservationId: `fill-${id}-${i}` as never, units: 1 });
      if (!r.ok) throw new Error(`could not fill ${id}`);
    }
  };

  /** `token` null: no Authorization header. */
  const assign = (body: unknown, token: string | null = accessToken(member()), app: ZcpService = zcp()) =>
    app.http.inject({
      method: 'POST',
      url: '/v1/assign',
      ...(token === null ? {} : { headers: { authorization: `Bearer ${token}` } }),
      payload: body as Record<string, unknown>,
    });

  const ticketOf = (res: { json(): { ticket: string; moduleId: string } }): TicketClaims => {
    const body = res.json();
    return verifyTicket(body.ticket, testKeys.ticket.publicKey, { moduleId: ModuleId(body.moduleId), nowMs: Date.now() });
  };

  it('places a member on the least loaded module and holds the units of the quality asked', async () => {
    await register('sfu-a');
    await register('sfu-b');
    await fill('sfu-a', 10);
    const res = await assign({ meetingId: HYBRID, quality: 'HD' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ mode: 'cloud-hybrid', cloud: false, moduleId: 'sfu-b', mediaUrl: 'wss://sfu-b.corp/v1/media' });
    const claims = ticketOf(res);
    expect(claims).toMatchObject({ meetingId: HYBRID, participantId: 'alice', moduleId: 'sfu-b', quality: 'HD', mode: 'cloud-hybrid', displayName: 'User alice' });
    expect(claims.expiresAt).toBe(body.expiresAt);
    expect(claims.expiresAt - claims.issuedAt).toBe(60_000);
    expect((await state.getModule(ModuleId('sfu-b')))?.reservedUnits).toBe(2);
    expect(await state.meetingModules(HYBRID)).toEqual(['sfu-b']);
    // The ticket id is the reservation id: the module confirms or releases exactly that.
    expect(await state.releaseReservation(ModuleId('sfu-b'), claims.ticketId)).toBe(true);
  });

  it("marks the host's ticket and an admin's, nobody else's (the top module of an internal-only meeting lets them act as host)", async () => {
    await register('sfu-a');
    const admin = { ...member('root'), role: 'admin' } as const;
    const host = ticketOf(await assign({ meetingId: INTERNAL, quality: 'SD' }, accessToken(member('hannah'))));
    const byAdmin = ticketOf(await assign({ meetingId: INTERNAL, quality: 'SD' }, accessToken(admin)));
    const other = ticketOf(await assign({ meetingId: INTERNAL, quality: 'SD' }, accessToken(member('bob'))));
    const noHostKnown = ticketOf(await assign({ meetingId: HYBRID, quality: 'SD' }, accessToken(member('hannah'))));
    expect([host.isHost, byAdmin.isHost, other.isHost, noHostKnown.isHost]).toEqual([true, true, undefined, undefined]);
  });

  it('keeps a meeting on the module that already has it, while it has room', async () => {
    await register('sfu-a');
    await register('sfu-b');
    await fill('sfu-a', 100);
    await state.addMeetingModule(HYBRID, ModuleId('sfu-a'));
    const first = await assign({ meetingId: HYBRID, quality: 'SD' });
    expect(first.json().moduleId).toBe('sfu-a');
    // Another meeting goes to the least loaded module; a second join of it follows the first.
    const other = await assign({ meetingId: INTERNAL, quality: 'SD' });
    expect(other.json().moduleId).toBe('sfu-b');
    await fill('sfu-b', 200);
    const again = await assign({ meetingId: INTERNAL, quality: 'SD' }, accessToken(member('bob')));
    expect(again.json().moduleId).toBe('sfu-b');
  });

  it('leaves an affinity module once it is full', async () => {
    await register('sfu-a', { capacityUnits: 10 });
    await register('sfu-b');
    await fill('sfu-a', 9);
    await state.addMeetingModule(HYBRID, ModuleId('sfu-a'));
    const res = await assign({ meetingId: HYBRID, quality: 'HD' });
    expect(res.json().moduleId).toBe('sfu-b');
  });

  it('gives a draining module nobody', async () => {
    await register('sfu-a');
    await register('sfu-b');
    await fill('sfu-b', 300);
    await state.setDraining(ModuleId('sfu-a'), true);
    await state.addMeetingModule(HYBRID, ModuleId('sfu-a'));
    for (let i = 0; i < 5; i++) {
      const res = await assign({ meetingId: HYBRID, quality: 'SD' }, accessToken(member(`u${i}`)));
      expect(res.json().moduleId).toBe('sfu-b');
    }
    expect((await state.getModule(ModuleId('sfu-a')))?.reservedUnits).toBe(0);
  });

  it('skips modules the client excludes, and modules of other zones', async () => {
    await register('sfu-a');
    await register('sfu-b');
    await register('sfu-x', { zoneId: ZoneId('branch') });
    await fill('sfu-b', 50);
    const res = await assign({ meetingId: HYBRID, quality: 'SD', excludeModuleIds: ['sfu-a'] });
    expect(res.json().moduleId).toBe('sfu-b');
  });

  it('sends a cloud-hybrid participant to the cloud MMR when the zone is full', async () => {
    await register('sfu-a', { capacityUnits: 3 });
    await fill('sfu-a', 2);
    const res = await assign({ meetingId: HYBRID, quality: 'HD', displayName: 'Alice on a train' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ mode: 'cloud-hybrid', cloud: true, moduleId: 'cloud-mmr-1', mediaUrl: CLOUD_URL });
    expect(ticketOf(res)).toMatchObject({ moduleId: 'cloud-mmr-1', quality: 'HD', displayName: 'Alice on a train' });
    expect((await state.getModule(ModuleId('sfu-a')))?.reservedUnits).toBe(2);
  });

  it('sends a cloud-hybrid participant to the cloud MMR when the zone has no live module', async () => {
    const res = await assign({ meetingId: HYBRID, quality: 'SD' });
    expect(res.json()).toMatchObject({ cloud: true, moduleId: 'cloud-mmr-1' });
  });

  it('answers 503 CAPACITY_EXCEEDED for an internal-only meeting when the zone is full', async () => {
    await register('sfu-a', { capacityUnits: 1 });
    await fill('sfu-a', 1);
    const res = await assign({ meetingId: INTERNAL, quality: 'SD' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toMatchObject({
      code: 'CAPACITY_EXCEEDED',
      message: 'zone hq has no room for this internal-only meeting',
      details: { zoneId: 'hq', meetingId: 'm-internal' },
    });
  });

  it('lets a guest join its own cloud-hybrid meeting only', async () => {
    await register('sfu-a');
    const ok = await assign({ meetingId: HYBRID, quality: 'SD' }, accessToken(guest(HYBRID)));
    expect(ok.statusCode).toBe(200);
    expect(ticketOf(ok)).toMatchObject({ participantId: 'g-1', displayName: 'A guest' });
    const other = await assign({ meetingId: INTERNAL, quality: 'SD' }, accessToken(guest(HYBRID)));
    expect([other.statusCode, other.json().error.code]).toEqual([403, 'FORBIDDEN']);
    expect(other.json().error.message).toBe('this guest token is for meeting m-hybrid, not m-internal');
    const internal = await assign({ meetingId: INTERNAL, quality: 'SD' }, accessToken(guest(INTERNAL)));
    expect([internal.statusCode, internal.json().error.code]).toEqual([403, 'FORBIDDEN']);
    expect(internal.json().error.message).toMatch(/internal-only/);
  });

  it.each([
    ['no Authorization header', null, 'access token is missing: sign in first and send Authorization: Bearer <access token>'],
    ['a malformed token', 'not-a-jwt', 'access token is malformed (expected a JWT)'],
    ['a token signed by another key', signAccessToken(
      { ...member(), tokenId: 't', issuedAt: Math.floor(Date.now() / 1000), expiresAt: Math.floor(Date.now() / 1000) + 60 },
      generateTicketKeys().privateKey,
    ), 'access token has an invalid signature'],
    ['an expired token', accessToken(member(), Date.now() - 3_600_000, 60), 'access token has expired; sign in again'],
  ])('refuses %s with 401 UNAUTHENTICATED', async (_what, token, message) => {
    await register('sfu-a');
    const res = await assign({ meetingId: HYBRID, quality: 'SD' }, token);
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toEqual({ code: 'UNAUTHENTICATED', message });
    expect(info.calls).toBe(0);
  });

  it('refuses an Authorization header that is not a bearer token', async () => {
    const res = await zcp().http.inject({ method: 'POST', url: '/v1/assign', headers: { authorization: 'Basic abc' }, payload: { meetingId: HYBRID, quality: 'SD' } });
    expect([res.statusCode, res.json().error.code]).toEqual([401, 'UNAUTHENTICATED']);
  });

  it.each([
    ['no meetingId', { quality: 'SD' }],
    ['a bad quality', { meetingId: HYBRID, quality: 'UHD' }],
    ['a malformed meeting id', { meetingId: '../etc', quality: 'SD' }],
    ['an unknown field', { meetingId: HYBRID, quality: 'SD', moduleId: 'sfu-a' }],
    ['an empty display name', { meetingId: HYBRID, quality: 'SD', displayName: '' }],
    ['a bad excluded id', { meetingId: HYBRID, quality: 'SD', excludeModuleIds: ['no spaces'] }],
  ])('refuses a body with %s with 400 INVALID_ARGUMENT', async (_what, body) => {
    const res = await assign(body);
    expect([res.statusCode, res.json().error.code]).toEqual([400, 'INVALID_ARGUMENT']);
  });

  it('passes on the zone controller\'s refusals as coded errors', async () => {
    const unknown = await assign({ meetingId: 'm-nope', quality: 'SD' });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'NOT_FOUND']);
    info.set(HYBRID, new MeetedgeError('FORBIDDEN', 'zone hq may not host meeting m-hybrid'));
    const forbidden = await assign({ meetingId: HYBRID, quality: 'SD' });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error).toEqual({ code: 'FORBIDDEN', message: 'zone hq may not host meeting m-hybrid' });
    info.set(HYBRID, new MeetedgeError('UNAVAILABLE', 'connect ECONNREFUSED 10.0.0.1:8081'));
    const down = await assign({ meetingId: HYBRID, quality: 'SD' });
    expect(down.statusCode).toBe(503);
    expect(down.json().error.code).toBe('UNAVAILABLE');
    expect(down.json().error.message).not.toMatch(/10\.0\.0\.1/);
  });

  it('refuses a member of another account (the zone controller names the meeting\'s account)', async () => {
    await register('sfu-a');
    const res = await assign({ meetingId: INTERNAL, quality: 'SD' }, accessToken(member('eve', AccountId('other-co'))));
    expect([res.statusCode, res.json().error.code]).toEqual([403, 'FORBIDDEN']);
    const ok = await assign({ meetingId: INTERNAL, quality: 'SD' });
    expect(ok.statusCode).toBe(200);
  });

  it('a ZCP whose view is stale (a concurrent first join it did not see) still joins the meeting where it already is', async () => {
    // The second ZCP reads the state as it was before the first placed the
    // meeting: no module carries it yet, and sfu-b looks the least loaded.
    // Only the store's atomic reserve knows better.
    const live = open();
    const stale: ClusterState = Object.create(live) as ClusterState;
    stale.meetingModules = async () => [];
    stale.listModules = async (zoneId) => (await live.listModules(zoneId)).map((m) => ({ ...m, reservedUnits: m.id === 'sfu-a' ? 0 : m.reservedUnits }));
    const second = newZcp('zcp-2', stale);
    await register('sfu-a');
    await register('sfu-b');
    await fill('sfu-b', 5);
    await fill('sfu-a', 10);
    const first = await assign({ meetingId: INTERNAL, quality: 'SD' }, accessToken(member('u1')));
    expect(first.json().moduleId).toBe('sfu-b');
    const raced = await assign({ meetingId: INTERNAL, quality: 'SD' }, accessToken(member('u2')), second);
    expect(raced.statusCode).toBe(200);
    expect(raced.json().moduleId).toBe('sfu-b');
    expect(await state.meetingModules(INTERNAL)).toEqual(['sfu-b']);
  });

  it('keeps each new meeting on one module when its first joins race through two ZCPs', async () => {
    const second = newZcp('zcp-2', open());
    for (const id of ['sfu-a', 'sfu-b', 'sfu-c']) await register(id);
    const ids = Array.from({ length: 6 }, (_, m) => MeetingId(`m-race-${m}`));
    for (const meetingId of ids) info.set(meetingId, { meetingId, accountId: ACCOUNT, mode: 'internal-only', e2ee: false, defaultQuality: 'SD' });
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) => assign({ meetingId: ids[i % ids.length], quality: 'SD' }, accessToken(member(`r${i}`)), i % 2 === 0 ? zcp() : second)),
    );
    const placed = new Map<string, Set<string>>();
    for (const res of results) {
      expect(res.statusCode).toBe(200);
      const claims = ticketOf(res);
      placed.set(claims.meetingId, (placed.get(claims.meetingId) ?? new Set()).add(claims.moduleId));
    }
    for (const meetingId of ids) {
      expect([...(placed.get(meetingId) ?? [])]).toHaveLength(1);
      expect(await state.meetingModules(meetingId)).toEqual([...(placed.get(meetingId) ?? [])]);
    }
  }, 30_000);

  it('never over-fills a module with 200 concurrent joins through two ZCPs', async () => {
    // Two ZCPs of the zone, each with its own connection to the store.
    const second = newZcp('zcp-2', open());
    await register('sfu-a', { capacityUnits: 40 });
    await register('sfu-b', { capacityUnits: 40 });
    await register('sfu-c', { capacityUnits: 21 });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        assign(
          { meetingId: i % 3 === 0 ? INTERNAL : HYBRID, quality: i % 4 === 0 ? 'HD' : 'SD' },
          accessToken(member(`u${i}`)),
          i % 2 === 0 ? zcp() : second,
        ),
      ),
    );
    const held = new Map<string, number>();
    let cloud = 0;
    let refused = 0;
    for (const res of results) {
      if (res.statusCode === 503) {
        expect(res.json().error.code).toBe('CAPACITY_EXCEEDED');
        refused++;
        continue;
      }
      expect(res.statusCode).toBe(200);
      const claims = ticketOf(res);
      if (res.json().cloud) {
        cloud++;
        expect(claims.mode).toBe('cloud-hybrid');
        continue;
      }
      held.set(claims.moduleId, (held.get(claims.moduleId) ?? 0) + (claims.quality === 'HD' ? 2 : 1));
    }
    const modules = await state.listModules(ZONE);
    for (const m of modules) {
      expect(m.reservedUnits).toBeLessThanOrEqual(m.capacityUnits);
      expect(held.get(m.id) ?? 0).toBe(m.reservedUnits);
    }
    // 101 units for 250 asked: the zone filled up, the rest went to the cloud or was refused.
    expect(modules.reduce((n, m) => n + m.reservedUnits, 0)).toBeGreaterThanOrEqual(99);
    expect(cloud).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 30_000);
});

describe('POST /v1/assign tickets left unused', () => {
  it('free their units at the first sweep after they expire', async () => {
    let clock = 1_700_000_000_000;
    const state = new MemoryClusterState({ now: () => clock });
    const config = loadZcpConfig({ ...zcpKeyEnv(), MEETEDGE_ZCP_ID: 'zcp-1', MEETEDGE_ZONE_ID: ZONE, MEETEDGE_TICKET_TTL_MS: '5000' });
    const app = buildApp(config, { logger: createLogger({ level: 'silent' }), state, meetingInfo: new StaticMeetingInfoSource(meetings), now: () => clock });
    try {
      await state.registerModule(
        { id: ModuleId('sfu-a'), zoneId: ZONE, nodeId: NodeId('n1'), role: 'edge', mediaUrl: 'wss://a/v1/media', capacityUnits: 400, version: '0.1.0' },
        600_000,
      );
      const res = await app.http.inject({
        method: 'POST',
        url: '/v1/assign',
        headers: { authorization: `Bearer ${accessToken(member(), clock)}` },
        payload: { meetingId: HYBRID, quality: 'HD' },
      });
      expect(res.json().expiresAt).toBe(clock + 5000);
      expect((await state.getModule(ModuleId('sfu-a')))?.reservedUnits).toBe(2);
      clock += 5001;
      await state.sweepExpired();
      expect((await state.getModule(ModuleId('sfu-a')))?.reservedUnits).toBe(0);
    } finally {
      await app.close();
      await state.close();
    }
  });
});
