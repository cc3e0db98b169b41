// Module registration against two real ZCPs sharing a real Redis, with a
// module played by a plain gRPC client (the SFU's own registrar is tested in
// apps/sfu; a real module process in apps/zcp/test).
import { credentials, status, type ClientDuplexStream } from '@grpc/grpc-js';
import { AccountId, MeetingId, ModuleId, NodeId, ReservationId, UserId, ZoneId } from '@meetedge/core';
import { v1 } from '@meetedge/proto';
import { createLogger } from '@meetedge/service-kit';
import { RedisClusterState } from '@meetedge/state';
import { startRedis, waitFor, type TestRedis } from '@meetedge/test-kit';
import { buildApp, type ZcpService } from '../app';
import { loadZcpConfig } from '../config';
import { StaticMeetingInfoSource } from '../join';
import { accessToken, zcpKeyEnv } from '../join/test-support';

jest.setTimeout(30_000);

const logger = createLogger({ level: 'silent' });
/** Keys the join API needs at boot; the drain route checks admin tokens with the control plane's key. */
const keys = zcpKeyEnv();
const claims = (userId: string, role: 'admin' | 'member') => ({ kind: 'member', userId: UserId(userId), accountId: AccountId('acme'), role, displayName: userId }) as const;
const admin = accessToken(claims('u-admin', 'admin'));
const member = accessToken(claims('u-bob', 'member'));
const asAdmin = { authorization: `Bearer ${admin}` };
const meetingInfo = new StaticMeetingInfoSource([
  { meetingId: MeetingId('m-1'), accountId: AccountId('acme'), mode: 'internal-only', e2ee: false, defaultQuality: 'HD' },
]);

const register = (overrides: Partial<v1.Register> = {}): v1.ModuleMessage => ({
  kind: {
    $case: 'register',
    value: v1.Register.create({
      moduleId: 'sfu-1',
      zoneId: 'hq',
      nodeId: 'node-a',
      role: v1.ModuleRole.EDGE,
      mediaUrl: 'ws://127.0.0.1:8100/v1/media',
      capacityUnits: 400,
      version: '0.1.0',
      ...overrides,
    }),
  },
});

const heartbeat = (seq: number, participants = 0): v1.ModuleMessage => ({
  kind: { $case: 'heartbeat', value: v1.Heartbeat.create({ seq, participants, meetings: participants > 0 ? 1 : 0, usedUnits: participants }) },
});

/** A module's end of one Connect stream: what it received, and how the stream ended. */
interface FakeLink {
  readonly call: ClientDuplexStream<v1.ModuleMessage, v1.ZcpMessage>;
  readonly received: v1.ZcpMessage[];
  /** The stream's final status, once it ended. */
  ended: { code: status; details: string; errorCode?: string } | undefined;
}

describe('module registry (ZoneControllerProxy.Connect)', () => {
  let redis: TestRedis;
  let states: RedisClusterState[] = [];
  let zcps: ZcpService[] = [];
  let clients: v1.ZoneControllerProxyClient[] = [];
  let links: FakeLink[] = [];
  let prefix = 0;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  /** Two ZCPs of zone hq on one store (each with its own connection). */
  beforeEach(async () => {
    const keyPrefix = `reg${++prefix}:`;
    for (const id of ['zcp-1', 'zcp-2']) {
      const state = new RedisClusterState({ url: redis.url, keyPrefix });
      states.push(state);
      const config = loadZcpConfig({ ...keys, MEETEDGE_ZCP_ID: id, MEETEDGE_ZONE_ID: 'hq', MEETEDGE_HTTP_PORT: '0', MEETEDGE_GRPC_PORT: '0' });
      const zcp = buildApp(config, { logger, state, meetingInfo, registry: { sweepIntervalMs: 200 } });
      zcps.push(zcp);
      await zcp.start();
    }
  });

  afterEach(async () => {
    for (const link of links) link.call.cancel();
    for (const client of clients) client.close();
    await Promise.all(zcps.map((z) => z.close()));
    await Promise.all(states.map((s) => s.close()));
    links = [];
    clients = [];
    zcps = [];
    states = [];
  });

  const zcp = (i: number): ZcpService => {
    const z = zcps[i];
    if (!z) throw new Error(`no zcp ${i}`);
    return z;
  };
  const state = (): RedisClusterState => {
    const s = states[0];
    if (!s) throw new Error('no state');
    return s;
  };

  function open(zcpIndex: number): FakeLink {
    const client = new v1.ZoneControllerProxyClient(`127.0.0.1:${zcp(zcpIndex).grpcPort()}`, credentials.createInsecure());
    clients.push(client);
    const call = client.connect();
    const link: FakeLink = { call, received: [], ended: undefined };
    call.on('data', (m: v1.ZcpMessage) => link.received.push(m));
    call.on('error', () => undefined);
    call.on('status', (s) => {
      const errorCode = s.metadata.get('meetedge-error-code')[0];
      link.ended = { code: s.code, details: s.details, errorCode: typeof errorCode === 'string' ? errorCode : undefined };
    });
    links.push(link);
    return link;
  }

  const listed = async (zcpIndex: number): Promise<{ id: string; draining: boolean; load: { participants: number } }[]> => {
    const res = await zcp(zcpIndex).http.inject({ method: 'GET', url: '/v1/zone/modules' });
    return (res.json() as { modules: { id: string; draining: boolean; load: { participants: number } }[] }).modules;
  };

  async function registered(zcpIndex: number, overrides: Partial<v1.Register> = {}): Promise<FakeLink> {
    const link = open(zcpIndex);
    link.call.write(register(overrides));
    await waitFor(() => link.received.some((m) => m.kind?.$case === 'registerAck'), { description: 'register_ack' });
    return link;
  }

  it('a module registered with both ZCPs is listed by both; RegisterAck gives the timings', async () => {
    const a = await registered(0);
    await registered(1);
    expect(a.received[0]?.kind).toEqual({ $case: 'registerAck', value: { zcpId: 'zcp-1', heartbeatIntervalMs: 1000, ttlMs: 3000 } });
    for (const i of [0, 1]) {
      expect((await listed(i)).map((m) => m.id)).toEqual(['sfu-1']);
      expect(zcp(i).registry.connectedModules()).toEqual(['sfu-1']);
    }
    const metrics = await zcp(0).http.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/meetedge_zcp_connected_modules\{service="zcp"\} 1/);
    expect(metrics.body).toMatch(/meetedge_zcp_module_registrations_total\{service="zcp"\} 1/);
  });

  it('heartbeats keep a module alive past its TTL and carry its load', async () => {
    const link = await registered(0);
    let seq = 0;
    const timer = setInterval(() => link.call.write(heartbeat(++seq, 3)), 500);
    try {
      await waitFor(async () => (await listed(1))[0]?.load.participants === 3, { description: 'load reported' });
      const start = Date.now();
      // Well past the 3 s TTL, with sweeps running on both ZCPs.
      await waitFor(() => Date.now() - start > 4000, { timeoutMs: 10_000, intervalMs: 200 });
      expect((await listed(1)).map((m) => m.id)).toEqual(['sfu-1']);
    } finally {
      clearInterval(timer);
    }
    const metrics = await zcp(0).http.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/meetedge_zcp_module_heartbeats_total\{service="zcp"\} \d+/);
  });

  it('a module whose streams break is gone after its TTL and one sweep, its reservations freed', async () => {
    const links = [await registered(0), await registered(1)];
    const reserved = await state().reserve({ moduleId: ModuleId('sfu-1'), reservationId: ReservationId('r-1'), units: 2 });
    expect(reserved.ok).toBe(true);
    const gone: string[] = [];
    const unsubscribe = await state().subscribe((e) => {
      if (e.type === 'module-gone') gone.push(`${e.moduleId}:${e.reason}`);
    });
    const killedAt = Date.now();
    for (const link of links) link.call.cancel();
    await waitFor(async () => (await listed(0)).length === 0, { timeoutMs: 8000, description: 'module expired' });
    await waitFor(() => gone.length > 0, { timeoutMs: 5000, description: 'module-gone event' });
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(2500);
    expect(gone).toEqual(['sfu-1:expired']);
    expect(await state().getModule(ModuleId('sfu-1'))).toBeUndefined();
    // Its reservation was freed with it: a module registering under the id starts empty.
    await registered(0);
    expect(await state().getModule(ModuleId('sfu-1'))).toMatchObject({ reservedUnits: 0, draining: false });
    await unsubscribe();
  });

  it('records the cascade address a module announces (east-west links find the top by it)', async () => {
    await registered(0, { cascadeAddress: '10.0.0.7:9701' });
    expect((await state().getModule(ModuleId('sfu-1')))?.cascadeAddress).toBe('10.0.0.7:9701');
  });

  it('Deregister removes the module at once and ends the stream', async () => {
    const link = await registered(0);
    const other = await registered(1);
    link.call.write({ kind: { $case: 'deregister', value: {} } });
    await waitFor(() => link.ended, { description: 'stream ended' });
    expect(link.ended?.code).toBe(status.OK);
    expect(await listed(1)).toEqual([]);
    expect(zcp(0).registry.connectedModules()).toEqual([]);
    // The other ZCP's stream is still open; the module deregisters there too.
    other.call.write({ kind: { $case: 'deregister', value: {} } });
    await waitFor(() => other.ended, { description: 'second stream ended' });
    expect(await listed(0)).toEqual([]);
  });

  it.each([
    ['another zone', { zoneId: 'branch' }, status.FAILED_PRECONDITION, 'CONFLICT', /serves zone branch; this ZCP serves zone hq/],
    ['a bad module id', { moduleId: 'no spaces allowed' }, status.INVALID_ARGUMENT, 'INVALID_ARGUMENT', /register\.module_id/],
    ['no role', { role: v1.ModuleRole.UNSPECIFIED }, status.INVALID_ARGUMENT, 'INVALID_ARGUMENT', /register\.role/],
    ['zero capacity', { capacityUnits: 0 }, status.INVALID_ARGUMENT, 'INVALID_ARGUMENT', /register\.capacity_units/],
    ['a media URL that is not one', { mediaUrl: 'not a url' }, status.INVALID_ARGUMENT, 'INVALID_ARGUMENT', /register\.media_url/],
    ['a cascade address without a port', { cascadeAddress: '10.0.0.7' }, status.INVALID_ARGUMENT, 'INVALID_ARGUMENT', /register\.cascade_address/],
    ['an instance id with spaces', { instanceId: 'run 1' }, status.INVALID_ARGUMENT, 'INVALID_ARGUMENT', /register\.instance_id/],
  ] as const)('a Register for %s is refused with a coded error', async (_what, overrides, code, errorCode, message) => {
    const link = open(0);
    link.call.write(register(overrides));
    await waitFor(() => link.ended, { description: 'refusal' });
    expect(link.ended).toMatchObject({ code, errorCode });
    expect(link.ended?.details).toMatch(message);
    expect(await listed(0)).toEqual([]);
  });

  it('a stream that does not start with Register is refused', async () => {
    const link = open(1);
    link.call.write(heartbeat(1));
    await waitFor(() => link.ended, { description: 'refusal' });
    expect(link.ended).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/first message must be register/) });
  });

  it('POST /v1/zone/modules/:id/drain marks it draining in the state and sends Drain on its stream', async () => {
    const link = await registered(0);
    const res = await zcp(0).http.inject({ method: 'POST', url: '/v1/zone/modules/sfu-1/drain', headers: asAdmin, payload: { reason: 'upgrade' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ moduleId: 'sfu-1', draining: true, notified: true });
    expect((await listed(1))[0]?.draining).toBe(true);
    await waitFor(() => link.received.find((m) => m.kind?.$case === 'drain'), { description: 'drain command' });
    expect(link.received.find((m) => m.kind?.$case === 'drain')?.kind).toEqual({ $case: 'drain', value: { reason: 'upgrade', deadlineUnixMs: 0 } });
    // Nobody new is placed on a draining module.
    expect(await state().reserve({ moduleId: ModuleId('sfu-1'), reservationId: ReservationId('r-2'), units: 1 })).toMatchObject({ ok: false, reason: 'draining' });
    // A module reconnecting to any ZCP learns that it is draining.
    const again = await registered(1);
    await waitFor(() => again.received.some((m) => m.kind?.$case === 'drain'), { description: 'drain on re-register' });
  });

  it('only an admin drains: no token 401, a member 403', async () => {
    const none = await zcp(0).http.inject({ method: 'POST', url: '/v1/zone/modules/sfu-1/drain' });
    expect([none.statusCode, none.json().error.code]).toEqual([401, 'UNAUTHENTICATED']);
    const byMember = await zcp(0).http.inject({ method: 'POST', url: '/v1/zone/modules/sfu-1/drain', headers: { authorization: `Bearer ${member}` } });
    expect([byMember.statusCode, byMember.json().error.message]).toEqual([403, 'only an admin may drain a module']);
  });

  it('draining an unknown module is 404', async () => {
    const res = await zcp(0).http.inject({ method: 'POST', url: '/v1/zone/modules/sfu-9/drain', headers: asAdmin });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('a second Connect of the same module replaces the first', async () => {
    const first = await registered(0);
    await registered(0);
    await waitFor(() => first.ended, { description: 'first stream ended' });
    expect(zcp(0).registry.connectedModules()).toEqual(['sfu-1']);
    expect((await listed(0)).map((m) => m.id)).toEqual(['sfu-1']);
  });

  describe('participant events', () => {
    const sfu1 = ModuleId('sfu-1');
    const m1 = MeetingId('m-1');
    const arrived = (reservationId: string, quality = v1.Quality.SD): v1.ModuleMessage => ({
      kind: { $case: 'participantArrived', value: { meetingId: 'm-1', participantId: `p-${reservationId}`, reservationId, quality } },
    });
    const left = (reservationId: string): v1.ModuleMessage => ({
      kind: {
        $case: 'participantLeft',
        value: { meetingId: 'm-1', participantId: `p-${reservationId}`, reservationId, reason: v1.LeaveReason.HANGUP, meetingEmpty: true },
      },
    });
    const reservedUnits = async () => (await state().getModule(sfu1))?.reservedUnits;

    it('ParticipantArrived confirms the reservation: it outlives its ticket', async () => {
      const link = await registered(0);
      await state().reserve({ moduleId: sfu1, reservationId: ReservationId('r-1'), units: 2, pendingTtlMs: 300, meetingId: m1 });
      await state().reserve({ moduleId: sfu1, reservationId: ReservationId('r-2'), units: 1, pendingTtlMs: 300, meetingId: m1 });
      link.call.write(arrived('r-1', v1.Quality.HD));
      // r-2 never arrives: the sweep frees it after its TTL; r-1 stays.
      await waitFor(async () => (await reservedUnits()) === 2, { timeoutMs: 5000, description: 'unconfirmed reservation swept' });
      link.call.write(heartbeat(1, 1));
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(await reservedUnits()).toBe(2);
      expect(await state().meetingModules(m1)).toEqual(['sfu-1']);
    });

    it('ParticipantLeft frees the reservation, and the meeting leaves the module with its last one', async () => {
      const link = await registered(1);
      for (const id of ['r-1', 'r-2']) await state().reserve({ moduleId: sfu1, reservationId: ReservationId(id), units: 1, meetingId: m1 });
      link.call.write(left('r-1'));
      await waitFor(async () => (await reservedUnits()) === 1, { description: 'r-1 freed' });
      expect(await state().meetingModules(m1)).toEqual(['sfu-1']);
      link.call.write(left('r-2'));
      await waitFor(async () => (await reservedUnits()) === 0, { description: 'r-2 freed' });
      expect(await state().meetingModules(m1)).toEqual([]);
    });

    it('an arrival the state does not know (it lost it) is reserved again', async () => {
      const link = await registered(0);
      link.call.write(arrived('r-lost', v1.Quality.HD));
      await waitFor(async () => (await reservedUnits()) === 2, { description: 'restored' });
      expect(await state().meetingModules(m1)).toEqual(['sfu-1']);
      const metrics = await zcp(0).http.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/meetedge_zcp_reservations_restored_total\{service="zcp"\} 1/);
    });

    it('an arrival the state lost is held where the participant is, even when the meeting lives on another module', async () => {
      const link = await registered(0);
      await state().registerModule({ id: ModuleId('sfu-2'), zoneId: ZoneId('hq'), nodeId: NodeId('node-b'), role: 'edge', mediaUrl: 'ws://127.0.0.1:8101/v1/media', capacityUnits: 400, version: '0.1.0' }, 60_000);
      await state().reserve({ moduleId: ModuleId('sfu-2'), reservationId: ReservationId('r-there'), units: 1, meetingId: m1 });
      link.call.write(arrived('r-here'));
      await waitFor(async () => (await reservedUnits()) === 1, { description: 'held on sfu-1' });
      expect(await state().meetingModules(m1)).toEqual(['sfu-1', 'sfu-2']);
    });

    it('a Register re-announcing held participants restores what the state lost', async () => {
      await registered(0, {
        heldMeetings: [
          {
            meetingId: 'm-1',
            participants: [
              { participantId: 'p-a', reservationId: 'r-a', quality: v1.Quality.HD },
              { participantId: 'p-b', reservationId: 'r-b', quality: v1.Quality.SD },
            ],
          },
        ],
      });
      await waitFor(async () => (await reservedUnits()) === 3, { description: 'held participants reserved' });
      expect(await state().meetingModules(m1)).toEqual(['sfu-1']);
      // Registering again (a reconnect) holds them once, not twice.
      await registered(1, { heldMeetings: [{ meetingId: 'm-1', participants: [{ participantId: 'p-a', reservationId: 'r-a', quality: v1.Quality.HD }] }] });
      expect(await reservedUnits()).toBe(3);
    });

    it('a malformed event is counted and ignored; the module stays registered', async () => {
      const link = await registered(0);
      link.call.write({ kind: { $case: 'participantLeft', value: { meetingId: 'm-1', participantId: 'p', reservationId: 'no spaces', reason: 0, meetingEmpty: false } } });
      link.call.write({ kind: { $case: 'participantArrived', value: { meetingId: 'm-1', participantId: 'p', reservationId: 'r-x', quality: v1.Quality.UNSPECIFIED } } });
      link.call.write(heartbeat(1, 3));
      await waitFor(async () => (await listed(0))[0]?.load.participants === 3, { description: 'heartbeat after the bad events' });
      expect(link.ended).toBeUndefined();
      expect(await reservedUnits()).toBe(0);
      const metrics = await zcp(0).http.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/meetedge_zcp_module_events_refused_total\{service="zcp"\} 2/);
    });

    it('a join placed on the module is announced on its stream: meeting info, then ExpectParticipant', async () => {
      const link = await registered(1);
      const token = accessToken(claims('u-carol', 'member'));
      const res = await zcp(1).http.inject({
        method: 'POST',
        url: '/v1/assign',
        headers: { authorization: `Bearer ${token}` },
        payload: { meetingId: 'm-1', quality: 'HD' },
      });
      expect(res.statusCode).toBe(200);
      await waitFor(() => link.received.some((m) => m.kind?.$case === 'expectParticipant'), { description: 'expect_participant' });
      const kinds = link.received.map((m) => m.kind?.$case).filter((k) => k !== 'registerAck');
      expect(kinds).toEqual(['meetingServerInfo', 'expectParticipant']);
      expect(link.received[1]?.kind).toMatchObject({ value: { meetingId: 'm-1', mode: v1.MeetingMode.INTERNAL_ONLY, accountId: 'acme', defaultQuality: v1.Quality.HD } });
      const expected = link.received[2]?.kind;
      expect(expected).toMatchObject({ $case: 'expectParticipant', value: { meetingId: 'm-1', participantId: 'u-carol', quality: v1.Quality.HD } });
      // The reservation it names is the one the join holds.
      const reservationId = (expected?.value as v1.ExpectParticipant).reservationId;
      expect(await state().confirmReservation(sfu1, ReservationId(reservationId))).toBe(true);
      expect(await reservedUnits()).toBe(2);
    });
  });
});
