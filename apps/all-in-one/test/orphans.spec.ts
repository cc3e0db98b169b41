/**
 * The orphan walk (test/support/orphans.ts) on a real Redis: silent on a
 * whole cluster state, and naming each kind of orphan when there is one.
 */
import { MeetingId, ModuleId, NodeId, ReservationId, ZoneId } from '@meetedge/core';
import { RedisClusterState } from '@meetedge/state';
import { startRedis, type TestRedis } from '@meetedge/test-kit';
import Redis from 'ioredis';
import { findOrphans } from './support/orphans';

let redis: TestRedis;
let state: RedisClusterState;
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  state = new RedisClusterState({ url: redis.url });
  raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  raw.disconnect();
  await state.close();
  await redis.stop();
});

const registration = (id: string) => ({
  id: ModuleId(id),
  zoneId: ZoneId('hq'),
  nodeId: NodeId('node-1'),
  role: 'edge' as const,
  mediaUrl: `ws://127.0.0.1:1/${id}`,
  capacityUnits: 4,
  version: 'test',
});

it('finds nothing in a whole cluster state, and each orphan when the state has one', async () => {
  await state.registerModule(registration('sfu-1'), 60_000);
  await state.registerModule(registration('sfu-2'), 60_000);
  await state.reserve({ moduleId: ModuleId('sfu-1'), reservationId: ReservationId('r-1'), units: 1, meetingId: MeetingId('m-1') });
  await state.reserve({ moduleId: ModuleId('sfu-2'), reservationId: ReservationId('r-2'), units: 2, pendingTtlMs: 60_000, meetingId: MeetingId('m-4') });
  await state.claimTop(MeetingId('m-1'), ModuleId('sfu-1'));
  await raw.set('me:dir:account:acme', '{}'); // the control plane's directory: not the cluster state's business
  expect(await findOrphans(redis.url)).toEqual([]);

  // What a removal that forgot something would leave behind.
  await raw.sadd('meetedge:meeting:m-2:modules', 'sfu-ghost');
  await raw.set('meetedge:meeting:m-3:top', 'sfu-ghost');
  await raw.hset('meetedge:module:sfu-ghost:reservations', 'r-9', '1');
  await raw.hincrby('meetedge:module:sfu-2', 'reservedUnits', 1);
  await raw.set('meetedge:stray', 'x');
  expect((await findOrphans(redis.url)).sort()).toEqual(
    [
      'meeting m-2 points at module sfu-ghost, which is not registered',
      'top of m-3 points at module sfu-ghost, which is not registered',
      'moduleReservations of sfu-ghost points at module sfu-ghost, which is not registered',
      'module sfu-2: reservedUnits 3 but its reservations hold 2',
      'unknown key meetedge:stray',
    ].sort(),
  );

  // A module whose TTL ran out but that nobody swept is an orphan too.
  await raw.del('meetedge:meeting:m-2:modules', 'meetedge:meeting:m-3:top', 'meetedge:module:sfu-ghost:reservations', 'meetedge:stray');
  await raw.hincrby('meetedge:module:sfu-2', 'reservedUnits', -1);
  await raw.hset('meetedge:module:sfu-2', 'expiresAt', '1');
  expect(await findOrphans(redis.url)).toEqual(['module sfu-2 is past its expiry and still registered']);
});
