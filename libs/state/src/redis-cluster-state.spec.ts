import Redis from 'ioredis';
import { MeetingId, ModuleId, NodeId, ReservationId, ZoneId, type MeetedgeError } from '@meetedge/core';
import { sleep, startRedis, waitFor, type TestRedis } from '@meetedge/test-kit';
import type { ClusterEvent } from './cluster-state';
import { RedisClusterState } from './redis-cluster-state';
import { clusterKeys } from './redis/keys';
import { describeClusterStateContract, redisClusterStateFactory, type ClusterStateFactory } from './testing';

let redis: TestRedis;
let factory: ClusterStateFactory;

beforeAll(async () => {
  redis = await startRedis();
  factory = redisClusterStateFactory(redis.url);
});

afterAll(async () => {
  await redis?.stop();
});

describeClusterStateContract('RedisClusterState', (options) => factory(options));

describe('RedisClusterState', () => {
  const registration = {
    id: ModuleId('sfu-1'),
    zoneId: ZoneId('zone-a'),
    nodeId: NodeId('node-1'),
    role: 'edge' as const,
    mediaUrl: 'wss://sfu-1.corp.example/v1/media',
    capacityUnits: 400,
    version: '1.0.0',
  };
  let prefixCount = 0;
  const uniquePrefix = (): string => `spec-${++prefixCount}:`;
  let raw: Redis;
  const opened: RedisClusterState[] = [];
  const open = (options: Partial<ConstructorParameters<typeof RedisClusterState>[0]> = {}): RedisClusterState => {
    const store = new RedisClusterState({ url: redis.url, keyPrefix: uniquePrefix(), ...options } as never);
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    raw.disconnect();
  });

  it('keeps the documented key schema (docs/redis-keys.md)', async () => {
    const prefix = uniquePrefix();
    const store = open({ keyPrefix: prefix });
    const keys = clusterKeys(prefix);
    const meeting = MeetingId('meeting-1');
    await store.registerModule(registration, 60_000);
    await store.reserve({
      moduleId: registration.id,
      reservationId: ReservationId('r-1'),
      units: 2,
      pendingTtlMs: 60_000,
      meetingId: meeting,
    });
    await store.addMeetingModule(meeting, registration.id);
    await store.claimTop(meeting, registration.id);

    const types = await Promise.all(
      [
        keys.module(registration.id),
        keys.moduleExpiry,
        keys.zoneModules(registration.zoneId),
        keys.moduleReservations(registration.id),
        keys.reservationMeetings(registration.id),
        keys.meetingReservations(registration.id),
        keys.pendingReservations,
        keys.meetingModules(meeting),
        keys.moduleMeetings(registration.id),
        keys.meetingTop(meeting),
        keys.meetingTopEpoch(meeting),
        keys.moduleTops(registration.id),
      ].map((key) => raw.type(key)),
    );
    expect(types).toEqual(['hash', 'zset', 'set', 'hash', 'hash', 'hash', 'zset', 'set', 'set', 'string', 'string', 'set']);
    expect((await raw.keys(`${prefix}*`)).sort()).toHaveLength(12);
    expect(await raw.hgetall(keys.reservationMeetings(registration.id))).toEqual({ 'r-1': 'meeting-1' });
    expect(await raw.hgetall(keys.meetingReservations(registration.id))).toEqual({ 'meeting-1': '1' });
    expect(await raw.get(keys.meetingTopEpoch(meeting))).toBe('1');
    const epochTtl = await raw.pttl(keys.meetingTopEpoch(meeting));
    expect(epochTtl).toBeGreaterThan(6 * 24 * 3600 * 1000);
    expect(await raw.zrange(keys.pendingReservations, '0', '-1')).toEqual(['sfu-1:r-1']);
    expect(await raw.hget(keys.moduleReservations(registration.id), 'r-1')).toBe('2');
    expect(await raw.get(keys.meetingTop(meeting))).toBe('sfu-1');
    const expiresAt = Number(await raw.hget(keys.module(registration.id), 'expiresAt'));
    expect(Number(await raw.zscore(keys.moduleExpiry, registration.id))).toBe(expiresAt);

    // Removal leaves nothing behind but the meeting's fencing epoch (it must outlive holders).
    await store.deregisterModule(registration.id);
    expect(await raw.keys(`${prefix}*`)).toEqual([keys.meetingTopEpoch(meeting)]);
  });

  it('freeing the last reservation of a meeting leaves no key of it behind, in either direction', async () => {
    const prefix = uniquePrefix();
    const store = open({ keyPrefix: prefix });
    const keys = clusterKeys(prefix);
    const meeting = MeetingId('meeting-1');
    await store.registerModule(registration, 60_000);
    const reserve = (id: string, pendingTtlMs?: number) =>
      store.reserve({
        moduleId: registration.id,
        reservationId: ReservationId(id),
        units: 1,
        meetingId: meeting,
        ...(pendingTtlMs === undefined ? {} : { pendingTtlMs }),
      });
    expect((await reserve('r-1')).ok).toBe(true);
    expect((await reserve('r-2', 50)).ok).toBe(true);
    expect(await raw.hgetall(keys.meetingReservations(registration.id))).toEqual({ 'meeting-1': '2' });

    expect(await store.releaseReservation(registration.id, ReservationId('r-1'))).toBe(true);
    expect(await raw.hgetall(keys.meetingReservations(registration.id))).toEqual({ 'meeting-1': '1' });
    expect(await raw.hgetall(keys.reservationMeetings(registration.id))).toEqual({ 'r-2': 'meeting-1' });
    expect(await raw.smembers(keys.meetingModules(meeting))).toEqual(['sfu-1']);
    expect(await raw.smembers(keys.moduleMeetings(registration.id))).toEqual(['meeting-1']);

    await sleep(100);
    expect(await store.sweepExpired()).toEqual([]);
    const left = [
      keys.moduleReservations(registration.id),
      keys.reservationMeetings(registration.id),
      keys.meetingReservations(registration.id),
      keys.pendingReservations,
      keys.meetingModules(meeting),
      keys.moduleMeetings(registration.id),
    ];
    expect(await Promise.all(left.map((key) => raw.exists(key)))).toEqual([0, 0, 0, 0, 0, 0]);
    expect((await store.getModule(registration.id))?.reservedUnits).toBe(0);
  });

  it('publishes each event as its JSON on `${prefix}events`', async () => {
    const prefix = uniquePrefix();
    const store = open({ keyPrefix: prefix });
    const subscriber = raw.duplicate();
    const messages: Array<[string, string]> = [];
    subscriber.on('message', (channel: string, message: string) => messages.push([channel, message]));
    await subscriber.subscribe(`${prefix}events`);
    try {
      await store.registerModule(registration, 60_000);
      await store.deregisterModule(registration.id);
      await waitFor(() => messages.length === 1);
      expect(messages[0]?.[0]).toBe(`${prefix}events`);
      expect(JSON.parse(messages[0]?.[1] ?? '')).toEqual({
        type: 'module-gone',
        moduleId: 'sfu-1',
        zoneId: 'zone-a',
        reason: 'deregistered',
      });
    } finally {
      subscriber.disconnect();
    }
  });

  it('ignores malformed messages on the channel and tells the logger', async () => {
    const prefix = uniquePrefix();
    const warnings: string[] = [];
    const store = open({ keyPrefix: prefix, logger: { warn: (_obj, msg) => warnings.push(msg) } });
    const events: ClusterEvent[] = [];
    await store.subscribe((event) => events.push(event));
    await raw.publish(`${prefix}events`, 'not json');
    await raw.publish(`${prefix}events`, JSON.stringify({ type: 'module-gone', moduleId: 'bad id', zoneId: 'z', reason: 'expired' }));
    await store.registerModule(registration, 60_000);
    await store.deregisterModule(registration.id);
    await waitFor(() => events.length === 1);
    expect(warnings).toEqual(['ignoring malformed cluster event', 'ignoring malformed cluster event']);
  });

  it('uses a client it is given and leaves it open on close()', async () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      const store = new RedisClusterState({ client, keyPrefix: uniquePrefix() });
      const events: ClusterEvent[] = [];
      await store.subscribe((event) => events.push(event));
      await store.registerModule(registration, 60_000);
      expect((await store.getModule(registration.id))?.id).toBe('sfu-1');
      await store.deregisterModule(registration.id);
      await waitFor(() => events.length === 1);
      await store.close();
      await expect(client.ping()).resolves.toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('refuses a client with its own keyPrefix (scripts and channels would not carry it)', () => {
    const client = new Redis(redis.url, { keyPrefix: 'app:', lazyConnect: true });
    try {
      expect(() => new RedisClusterState({ client })).toThrow(/pass a client without keyPrefix/);
    } finally {
      client.disconnect();
    }
  });

  it('scripts survive a SCRIPT FLUSH (as after a Redis restart)', async () => {
    const store = open();
    await store.registerModule(registration, 60_000);
    await raw.script('FLUSH');
    expect((await store.getModule(registration.id))?.id).toBe('sfu-1');
  });

  it('rejects with UNAVAILABLE when Redis is not reachable', async () => {
    const doomed = await startRedis();
    const store = new RedisClusterState({ url: doomed.url, keyPrefix: uniquePrefix() });
    opened.push(store);
    await store.ping();
    await doomed.stop();
    const error = await store.ping().catch((err: unknown) => err);
    expect((error as MeetedgeError).code).toBe('UNAVAILABLE');
    const reserve = await store
      .reserve({ moduleId: registration.id, reservationId: ReservationId('r-1'), units: 1 })
      .catch((err: unknown) => err);
    expect((reserve as MeetedgeError).code).toBe('UNAVAILABLE');
  });
});
