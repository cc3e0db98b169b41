/**
 * The one behaviour both `ClusterState` implementations must have. Spec files
 * call `describeClusterStateContract` with a factory; the suite is written
 * once and never branches on the implementation.
 */
import {
  DEFAULT_MODULE_CAPACITY_UNITS,
  MeetedgeError,
  MeetingId,
  ModuleId,
  NodeId,
  ReservationId,
  ZoneId,
  unitsFor,
  type ErrorCode,
} from '@meetedge/core';
import { sleep, waitFor } from '@meetedge/test-kit';
import {
  ZERO_LOAD,
  type ClusterEvent,
  type ClusterState,
  type ModuleLoad,
  type ModuleRegistration,
  type ModuleRole,
  type ReserveResult,
} from '../cluster-state';
import type { ClusterStateFactory, ClusterStateFixture } from './fixtures';

/** Outlives any test: modules registered with it stay live unless a test shortens their life. */
const LONG_TTL_MS = 60_000;
/** How long to wait for events that must arrive. */
const EVENT_TIMEOUT_MS = 5000;
/** Extra wait after the expected events, so a duplicate has the chance to show up and fail the test. */
const SETTLE_MS = 50;

const ZONE_A = ZoneId('zone-a');
const ZONE_B = ZoneId('zone-b');
const MEETING = MeetingId('meeting-1');

function registration(id: string, overrides: Partial<ModuleRegistration> = {}): ModuleRegistration {
  return {
    id: ModuleId(id),
    zoneId: ZONE_A,
    nodeId: NodeId('node-1'),
    role: 'edge',
    mediaUrl: `wss://${id}.corp.example:443/v1/media`,
    capacityUnits: DEFAULT_MODULE_CAPACITY_UNITS,
    version: '1.0.0',
    ...overrides,
  };
}

const rid = (value: string): ReservationId => ReservationId(value);
const mid = (value: string): ModuleId => ModuleId(value);

/** Collects the events a store delivers. */
async function recordEvents(store: ClusterState): Promise<{ events: ClusterEvent[]; stop: () => Promise<void> }> {
  const events: ClusterEvent[] = [];
  const stop = await store.subscribe((event) => events.push(event));
  return { events, stop };
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(MeetedgeError);
  expect((error as MeetedgeError).code).toBe(code);
}

/**
 * Defines the contract tests for one implementation. `factory` builds a fresh
 * fixture per test (see `memoryClusterStateFactory`, `redisClusterStateFactory`).
 */
export function describeClusterStateContract(name: string, factory: ClusterStateFactory): void {
  describe(`${name} (ClusterState contract)`, () => {
    let fx: ClusterStateFixture;
    let store: ClusterState;
    const others: ClusterStateFixture[] = [];

    /** A second fixture with several peers, closed after the test. */
    const openPeers = async (peers: number): Promise<ClusterStateFixture> => {
      const fixture = await factory({ peers });
      others.push(fixture);
      return fixture;
    };
    /** Registers a live module (long TTL). */
    const register = (id: string, overrides: Partial<ModuleRegistration> = {}, on = store): Promise<void> =>
      on.registerModule(registration(id, overrides), LONG_TTL_MS);
    /** Leaves a registered module with a short life, to be waited out by `expire`. */
    const shortenLife = async (id: string, on = store): Promise<void> => {
      expect(await on.heartbeat(mid(id), ZERO_LOAD, fx.shortTtlMs)).toBe(true);
    };
    const expire = (fixture = fx): Promise<void> => fixture.advance(fixture.shortTtlMs);

    beforeEach(async () => {
      fx = await factory({ peers: 1 });
      store = fx.stores[0] as ClusterState;
    });

    afterEach(async () => {
      await Promise.all([fx.close(), ...others.splice(0).map((fixture) => fixture.close())]);
    });

    describe('module registry and liveness', () => {
      it('registerModule() then getModule() gives the registration with zero load, not draining, nothing reserved', async () => {
        await register('sfu-1');
        const state = await store.getModule(mid('sfu-1'));
        expect(state).toEqual({
          ...registration('sfu-1'),
          load: ZERO_LOAD,
          reservedUnits: 0,
          draining: false,
          registeredAt: expect.any(Number),
          expiresAt: expect.any(Number),
        });
        expect(state?.expiresAt).toBe((state?.registeredAt ?? NaN) + LONG_TTL_MS);
        expect(await store.getModule(mid('sfu-unknown'))).toBeUndefined();
      });

      it('listModules() gives the live modules of one zone, ordered by id', async () => {
        await register('sfu-c');
        await register('sfu-a');
        await register('sfu-b');
        await register('sfu-d', { zoneId: ZONE_B });
        expect((await store.listModules(ZONE_A)).map((m) => m.id)).toEqual(['sfu-a', 'sfu-b', 'sfu-c']);
        expect((await store.listModules(ZONE_B)).map((m) => m.id)).toEqual(['sfu-d']);
        expect(await store.listModules(ZoneId('zone-empty'))).toEqual([]);
      });

      it('heartbeat() stores the load, keeps the module live and answers true', async () => {
        await register('sfu-1');
        const before = await store.getModule(mid('sfu-1'));
        const load: ModuleLoad = { participants: 12, meetings: 3, cpuPercent: 37.5, egressKbps: 14_400 };
        expect(await store.heartbeat(mid('sfu-1'), load, LONG_TTL_MS)).toBe(true);
        const after = await store.getModule(mid('sfu-1'));
        expect(after?.load).toEqual(load);
        expect(after?.expiresAt).toBeGreaterThanOrEqual(before?.expiresAt ?? Infinity);
      });

      it('heartbeat() sets the life to ttlMs from now: a short one expires, a long one after it does not', async () => {
        await register('sfu-short');
        await register('sfu-renewed');
        await shortenLife('sfu-short');
        await shortenLife('sfu-renewed');
        expect(await store.heartbeat(mid('sfu-renewed'), ZERO_LOAD, LONG_TTL_MS)).toBe(true);
        await expire();
        expect(await store.getModule(mid('sfu-short'))).toBeUndefined();
        expect(await store.getModule(mid('sfu-renewed'))).toBeDefined();
      });

      it('heartbeat() answers false for a module that is not registered (unknown, deregistered, or expired and swept)', async () => {
        expect(await store.heartbeat(mid('sfu-unknown'), ZERO_LOAD, LONG_TTL_MS)).toBe(false);
        await register('sfu-left');
        await store.deregisterModule(mid('sfu-left'));
        expect(await store.heartbeat(mid('sfu-left'), ZERO_LOAD, LONG_TTL_MS)).toBe(false);
        await register('sfu-died');
        await shortenLife('sfu-died');
        await expire();
        expect(await store.sweepExpired()).toEqual(['sfu-died']);
        expect(await store.heartbeat(mid('sfu-died'), ZERO_LOAD, LONG_TTL_MS)).toBe(false);
        expect(await store.getModule(mid('sfu-died'))).toBeUndefined();
      });

      it('an expired module is invisible before any sweep, and sweepExpired() removes it', async () => {
        await register('sfu-live');
        await register('sfu-dead');
        expect(await store.addMeetingModule(MEETING, mid('sfu-dead'))).toBe(true);
        expect(await store.addMeetingModule(MEETING, mid('sfu-live'))).toBe(true);
        await shortenLife('sfu-dead');
        await expire();

        expect(await store.getModule(mid('sfu-dead'))).toBeUndefined();
        expect((await store.listModules(ZONE_A)).map((m) => m.id)).toEqual(['sfu-live']);
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-live']);
        const refused = await store.reserve({ moduleId: mid('sfu-dead'), reservationId: rid('r-1'), units: 1 });
        expect(refused).toEqual({ ok: false, reason: 'gone', reservedUnits: 0, capacityUnits: 0 });
        expect(await store.addMeetingModule(MeetingId('meeting-2'), mid('sfu-dead'))).toBe(false);

        expect(await store.sweepExpired()).toEqual(['sfu-dead']);
        expect(await store.sweepExpired()).toEqual([]);
        expect((await store.listModules(ZONE_A)).map((m) => m.id)).toEqual(['sfu-live']);
      });

      it('re-registering keeps reservations, meetings, top claims and the draining flag, and takes the new fields', async () => {
        await register('sfu-1');
        expect((await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: 2 })).ok).toBe(true);
        expect(await store.addMeetingModule(MEETING, mid('sfu-1'))).toBe(true);
        expect((await store.claimTop(MEETING, mid('sfu-1'))).won).toBe(true);
        expect(await store.setDraining(mid('sfu-1'), true)).toBe(true);
        await store.heartbeat(mid('sfu-1'), { participants: 1, meetings: 1, cpuPercent: 5, egressKbps: 1200 }, LONG_TTL_MS);

        await register('sfu-1', { version: '1.1.0', mediaUrl: 'wss://sfu-1.new.example/v1/media' });

        const state = await store.getModule(mid('sfu-1'));
        expect(state).toMatchObject({
          version: '1.1.0',
          mediaUrl: 'wss://sfu-1.new.example/v1/media',
          reservedUnits: 2,
          draining: true,
          load: { participants: 1, meetings: 1, cpuPercent: 5, egressKbps: 1200 },
        });
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-1']);
        expect(await store.getTop(MEETING)).toBe('sfu-1');
      });

      it("a new run of the process (another instanceId) starts from nothing: the previous run's reservations, meetings and tops go, with module-gone (restarted)", async () => {
        const { events } = await recordEvents(store);
        await register('sfu-1', { instanceId: 'run-1' });
        expect((await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: 2, meetingId: MEETING })).ok).toBe(true);
        expect((await store.claimTop(MEETING, mid('sfu-1'))).won).toBe(true);
        // The same run registering again (a reconnect) keeps everything.
        await register('sfu-1', { instanceId: 'run-1' });
        expect((await store.getModule(mid('sfu-1')))?.reservedUnits).toBe(2);

        await register('sfu-1', { instanceId: 'run-2' });
        expect(await store.getModule(mid('sfu-1'))).toMatchObject({ reservedUnits: 0, instanceId: 'run-2' });
        expect(await store.meetingModules(MEETING)).toEqual([]);
        expect(await store.getTop(MEETING)).toBeUndefined();
        expect(await store.releaseReservation(mid('sfu-1'), rid('r-1'))).toBe(false);
        await waitFor(() => events.length >= 2, { timeoutMs: EVENT_TIMEOUT_MS });
        await sleep(SETTLE_MS);
        expect(events).toEqual([
          { type: 'top-released', meetingId: MEETING, moduleId: 'sfu-1', reason: 'module-gone' },
          { type: 'module-gone', moduleId: 'sfu-1', zoneId: ZONE_A, reason: 'restarted' },
        ]);
        await expectCode(store.registerModule(registration('sfu-1', { instanceId: 'bad id!' }), LONG_TTL_MS), 'INVALID_ARGUMENT');
      });

      it('keeps a module\'s cascade address; a re-registration without one drops it', async () => {
        await register('sfu-1', { cascadeAddress: '10.0.0.7:9701' });
        expect((await store.getModule(mid('sfu-1')))?.cascadeAddress).toBe('10.0.0.7:9701');
        expect((await store.listModules(ZONE_A))[0]?.cascadeAddress).toBe('10.0.0.7:9701');
        await register('sfu-1');
        expect((await store.getModule(mid('sfu-1')))?.cascadeAddress).toBeUndefined();
      });

      it('re-registering in another zone moves the module between zones', async () => {
        await register('sfu-1');
        await register('sfu-1', { zoneId: ZONE_B });
        expect(await store.listModules(ZONE_A)).toEqual([]);
        expect((await store.listModules(ZONE_B)).map((m) => m.id)).toEqual(['sfu-1']);
        expect((await store.getModule(mid('sfu-1')))?.zoneId).toBe(ZONE_B);
      });

      it('a module that expired re-registers before any sweep as the same module, keeping its state', async () => {
        await register('sfu-1');
        expect((await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: 1 })).ok).toBe(true);
        await shortenLife('sfu-1');
        await expire();
        await register('sfu-1');
        expect(await store.sweepExpired()).toEqual([]);
        expect((await store.getModule(mid('sfu-1')))?.reservedUnits).toBe(1);
      });

      it('setDraining() refuses new reservations while draining, and answers false for an unknown module', async () => {
        await register('sfu-1');
        expect((await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: 1 })).ok).toBe(true);
        expect(await store.setDraining(mid('sfu-1'), true)).toBe(true);
        expect((await store.getModule(mid('sfu-1')))?.draining).toBe(true);
        expect(await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-2'), units: 1 })).toEqual({
          ok: false,
          reason: 'draining',
          reservedUnits: 1,
          capacityUnits: DEFAULT_MODULE_CAPACITY_UNITS,
        });
        // A reservation it already holds is still held (idempotent), draining or not.
        expect((await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: 1 })).ok).toBe(true);

        expect(await store.setDraining(mid('sfu-1'), false)).toBe(true);
        expect((await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-2'), units: 1 })).ok).toBe(true);
        expect(await store.setDraining(mid('sfu-unknown'), true)).toBe(false);
      });

      it('deregisterModule() removes everything of the module and emits module-gone (deregistered)', async () => {
        const { events } = await recordEvents(store);
        await register('sfu-1');
        await register('sfu-2');
        await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: 2 });
        await store.addMeetingModule(MEETING, mid('sfu-1'));
        await store.addMeetingModule(MEETING, mid('sfu-2'));
        await store.claimTop(MEETING, mid('sfu-1'));
        await store.claimTop(MeetingId('meeting-2'), mid('sfu-1'));

        expect(await store.deregisterModule(mid('sfu-1'))).toBe(true);
        expect(await store.deregisterModule(mid('sfu-1'))).toBe(false);

        expect(await store.getModule(mid('sfu-1'))).toBeUndefined();
        expect(await store.releaseReservation(mid('sfu-1'), rid('r-1'))).toBe(false);
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-2']);
        expect(await store.getTop(MEETING)).toBeUndefined();
        await waitFor(() => events.length >= 3, { timeoutMs: EVENT_TIMEOUT_MS });
        await sleep(SETTLE_MS);
        expect(events).toHaveLength(3);
        expect(events).toEqual(
          expect.arrayContaining([
            { type: 'top-released', meetingId: MEETING, moduleId: 'sfu-1', reason: 'module-gone' },
            { type: 'top-released', meetingId: 'meeting-2', moduleId: 'sfu-1', reason: 'module-gone' },
            { type: 'module-gone', moduleId: 'sfu-1', zoneId: ZONE_A, reason: 'deregistered' },
          ]),
        );

        // Coming back is a new module: nothing of the old one returns.
        await register('sfu-1');
        expect(await store.getModule(mid('sfu-1'))).toMatchObject({ reservedUnits: 0, draining: false });
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-2']);
      });
    });

    describe('capacity reservations', () => {
      it('reserve() holds units and is idempotent per reservation id', async () => {
        await register('sfu-1');
        const first = await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: unitsFor('HD') });
        expect(first).toEqual({ ok: true, reservedUnits: 2, capacityUnits: DEFAULT_MODULE_CAPACITY_UNITS });
        const again = await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: unitsFor('HD') });
        expect(again).toEqual({ ok: true, reservedUnits: 2, capacityUnits: DEFAULT_MODULE_CAPACITY_UNITS });
        const other = await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-2'), units: unitsFor('SD') });
        expect(other).toEqual({ ok: true, reservedUnits: 3, capacityUnits: DEFAULT_MODULE_CAPACITY_UNITS });
        expect((await store.getModule(mid('sfu-1')))?.reservedUnits).toBe(3);
      });

      it('reserve() refuses with full when the units do not fit, and fills exactly to capacity', async () => {
        await register('sfu-small', { capacityUnits: 3 });
        const moduleId = mid('sfu-small');
        expect(await store.reserve({ moduleId, reservationId: rid('r-1'), units: 2 })).toMatchObject({ ok: true });
        expect(await store.reserve({ moduleId, reservationId: rid('r-2'), units: 2 })).toEqual({
          ok: false,
          reason: 'full',
          reservedUnits: 2,
          capacityUnits: 3,
        });
        expect(await store.reserve({ moduleId, reservationId: rid('r-3'), units: 1 })).toEqual({
          ok: true,
          reservedUnits: 3,
          capacityUnits: 3,
        });
        expect(await store.reserve({ moduleId, reservationId: rid('r-4'), units: 1 })).toMatchObject({
          ok: false,
          reason: 'full',
        });
      });

      it('reserve() refuses with gone for a module that is not registered', async () => {
        expect(await store.reserve({ moduleId: mid('sfu-unknown'), reservationId: rid('r-1'), units: 1 })).toEqual({
          ok: false,
          reason: 'gone',
          reservedUnits: 0,
          capacityUnits: 0,
        });
      });

      it('releaseReservation() frees the units once; unknown reservations answer false', async () => {
        await register('sfu-1');
        await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: 2 });
        await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-2'), units: 1 });
        expect(await store.releaseReservation(mid('sfu-1'), rid('r-1'))).toBe(true);
        expect(await store.releaseReservation(mid('sfu-1'), rid('r-1'))).toBe(false);
        expect((await store.getModule(mid('sfu-1')))?.reservedUnits).toBe(1);
        expect(await store.releaseReservation(mid('sfu-1'), rid('r-never'))).toBe(false);
        expect(await store.releaseReservation(mid('sfu-unknown'), rid('r-2'))).toBe(false);
        expect(await store.confirmReservation(mid('sfu-1'), rid('r-never'))).toBe(false);
        expect(await store.confirmReservation(mid('sfu-unknown'), rid('r-2'))).toBe(false);
      });

      it('a pending reservation is freed by the sweep after its TTL unless confirmed; one without a TTL is kept', async () => {
        await register('sfu-1');
        const moduleId = mid('sfu-1');
        const ttl = fx.shortTtlMs;
        await store.reserve({ moduleId, reservationId: rid('r-unused'), units: 2, pendingTtlMs: ttl });
        await store.reserve({ moduleId, reservationId: rid('r-arrived'), units: 1, pendingTtlMs: ttl });
        await store.reserve({ moduleId, reservationId: rid('r-held'), units: 1 });
        expect(await store.confirmReservation(moduleId, rid('r-arrived'))).toBe(true);
        expect(await store.confirmReservation(moduleId, rid('r-arrived'))).toBe(true);
        expect((await store.getModule(moduleId))?.reservedUnits).toBe(4);

        await expire();
        // Held until a sweep frees it.
        expect((await store.getModule(moduleId))?.reservedUnits).toBe(4);
        expect(await store.sweepExpired()).toEqual([]);

        expect((await store.getModule(moduleId))?.reservedUnits).toBe(2);
        expect(await store.confirmReservation(moduleId, rid('r-unused'))).toBe(false);
        expect(await store.releaseReservation(moduleId, rid('r-unused'))).toBe(false);
        expect(await store.releaseReservation(moduleId, rid('r-arrived'))).toBe(true);
        expect(await store.releaseReservation(moduleId, rid('r-held'))).toBe(true);
        expect((await store.getModule(moduleId))?.reservedUnits).toBe(0);
      });

      it('an expired module frees its reservations when swept', async () => {
        await register('sfu-1');
        await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: 2, pendingTtlMs: LONG_TTL_MS });
        await store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-2'), units: 2 });
        await shortenLife('sfu-1');
        await expire();
        expect(await store.sweepExpired()).toEqual(['sfu-1']);
        expect(await store.releaseReservation(mid('sfu-1'), rid('r-2'))).toBe(false);
        await register('sfu-1');
        expect((await store.getModule(mid('sfu-1')))?.reservedUnits).toBe(0);
      });

      it('1,000 concurrent SD/HD reservations from several stores never pass 400 units and account exactly', async () => {
        const peers = await openPeers(4);
        const moduleId = mid('sfu-busy');
        await register('sfu-busy', {}, peers.stores[0]);
        const requests = Array.from({ length: 1000 }, (_, i) => ({
          moduleId,
          reservationId: rid(`r-${i}`),
          units: unitsFor(i % 3 === 0 ? 'HD' : 'SD'),
        }));
        const results: ReserveResult[] = await Promise.all(
          requests.map((request, i) => (peers.stores[i % peers.stores.length] as ClusterState).reserve(request)),
        );

        let accepted = 0;
        results.forEach((result, i) => {
          expect(result.reservedUnits).toBeLessThanOrEqual(DEFAULT_MODULE_CAPACITY_UNITS);
          if (result.ok) accepted += requests[i]?.units ?? NaN;
          else {
            expect(result.reason).toBe('full');
            expect(result.reservedUnits + (requests[i]?.units ?? 0)).toBeGreaterThan(DEFAULT_MODULE_CAPACITY_UNITS);
          }
        });
        const final = (await peers.stores[1]?.getModule(moduleId))?.reservedUnits;
        expect(final).toBe(accepted);
        expect([DEFAULT_MODULE_CAPACITY_UNITS - 1, DEFAULT_MODULE_CAPACITY_UNITS]).toContain(final);
      });
    });

    describe('meeting → modules', () => {
      it('addMeetingModule() records live modules, meetingModules() lists them by id, removeMeetingModule() drops one', async () => {
        await register('sfu-b');
        await register('sfu-a');
        expect(await store.addMeetingModule(MEETING, mid('sfu-b'))).toBe(true);
        expect(await store.addMeetingModule(MEETING, mid('sfu-a'))).toBe(true);
        expect(await store.addMeetingModule(MEETING, mid('sfu-a'))).toBe(true);
        expect(await store.addMeetingModule(MEETING, mid('sfu-unknown'))).toBe(false);
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a', 'sfu-b']);
        expect(await store.meetingModules(MeetingId('meeting-other'))).toEqual([]);

        await store.removeMeetingModule(MEETING, mid('sfu-b'));
        await store.removeMeetingModule(MEETING, mid('sfu-unknown'));
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a']);
      });

      it("meetingLoad() counts each live module's reservations for the meeting", async () => {
        // sfu-a holds two units: the meeting takes sfu-b once sfu-a is full.
        await register('sfu-a', { capacityUnits: 3 });
        await register('sfu-b');
        await register('sfu-c');
        // Another meeting's unit first, so sfu-a is full after two of this one's.
        expect((await store.reserve({ moduleId: mid('sfu-a'), reservationId: rid('other'), units: 1, meetingId: MeetingId('meeting-other') })).ok).toBe(true);
        for (const [module, n] of [['sfu-a', 2], ['sfu-b', 3]] as const) {
          for (let i = 0; i < n; i++) expect((await store.reserve({ moduleId: mid(module), reservationId: rid(`${module}-${i}`), units: 1, meetingId: MEETING })).ok).toBe(true);
        }
        await store.addMeetingModule(MEETING, mid('sfu-c'));
        expect(await store.meetingLoad(MEETING)).toEqual([
          { moduleId: 'sfu-a', participants: 2 },
          { moduleId: 'sfu-b', participants: 3 },
          { moduleId: 'sfu-c', participants: 0 },
        ]);
        await store.releaseReservation(mid('sfu-b'), rid('sfu-b-0'));
        await shortenLife('sfu-a');
        await expire();
        expect(await store.meetingLoad(MEETING)).toEqual([
          { moduleId: 'sfu-b', participants: 2 },
          { moduleId: 'sfu-c', participants: 0 },
        ]);
        expect(await store.meetingLoad(MeetingId('meeting-none'))).toEqual([]);
      });

      it('a swept module leaves every meeting it carried', async () => {
        await register('sfu-1');
        await register('sfu-2');
        await store.addMeetingModule(MEETING, mid('sfu-1'));
        await store.addMeetingModule(MeetingId('meeting-2'), mid('sfu-1'));
        await store.addMeetingModule(MEETING, mid('sfu-2'));
        await shortenLife('sfu-1');
        await expire();
        await store.sweepExpired();
        await register('sfu-1');
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-2']);
        expect(await store.meetingModules(MeetingId('meeting-2'))).toEqual([]);
      });
    });

    describe('meeting-affine reservations (reserve with meetingId)', () => {
      const MEETING_2 = MeetingId('meeting-2');
      /** A reserve of `units` on `moduleId` for `meetingId` (default MEETING). */
      const reserveFor = (
        moduleId: string,
        reservationId: string,
        options: { units?: number; meetingId?: MeetingId; pendingTtlMs?: number } = {},
        on = store,
      ): Promise<ReserveResult> =>
        on.reserve({
          moduleId: mid(moduleId),
          reservationId: rid(reservationId),
          units: options.units ?? 1,
          meetingId: options.meetingId ?? MEETING,
          ...(options.pendingTtlMs === undefined ? {} : { pendingTtlMs: options.pendingTtlMs }),
        });
      const reservedOn = async (id: string, on = store): Promise<number | undefined> =>
        (await on.getModule(mid(id)))?.reservedUnits;

      it('a held reserve (a module re-announcing a participant it has) is recorded under the meeting where the participant is: no affinity, no draining refusal, never past capacity', async () => {
        await register('sfu-a', { capacityUnits: 2 });
        await register('sfu-b', { capacityUnits: 1 });
        expect(await reserveFor('sfu-a', 'r-1')).toMatchObject({ ok: true });
        await store.setDraining(mid('sfu-b'), true);
        const held = (id: string, r: string) => store.reserve({ moduleId: mid(id), reservationId: rid(r), units: 1, meetingId: MEETING, held: true });
        // sfu-a has room and the meeting, sfu-b drains: a new join would be refused there, a held participant is not.
        expect(await held('sfu-b', 'r-2')).toEqual({ ok: true, reservedUnits: 1, capacityUnits: 1 });
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a', 'sfu-b']);
        expect(await store.meetingLoad(MEETING)).toEqual(
          expect.arrayContaining([
            { moduleId: 'sfu-a', participants: 1 },
            { moduleId: 'sfu-b', participants: 1 },
          ]),
        );
        expect(await held('sfu-b', 'r-3')).toMatchObject({ ok: false, reason: 'full' });
        await expectCode(store.reserve({ moduleId: mid('sfu-a'), reservationId: rid('r-4'), units: 1, held: 'yes' as never }), 'INVALID_ARGUMENT');
      });

      it('refuses a second module with elsewhere while the meeting\'s module has room, and takes it once that one is full', async () => {
        await register('sfu-a', { capacityUnits: 2 });
        await register('sfu-b', { capacityUnits: 2 });
        await register('sfu-c', { capacityUnits: 2 });
        expect(await reserveFor('sfu-a', 'r-1')).toEqual({ ok: true, reservedUnits: 1, capacityUnits: 2 });
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a']);

        expect(await reserveFor('sfu-b', 'r-2')).toEqual({
          ok: false,
          reason: 'elsewhere',
          moduleId: 'sfu-a',
          reservedUnits: 0,
          capacityUnits: 2,
        });
        expect(await reservedOn('sfu-b')).toBe(0);
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a']);
        // Refused means not held.
        expect(await store.releaseReservation(mid('sfu-b'), rid('r-2'))).toBe(false);

        expect(await reserveFor('sfu-a', 'r-2')).toEqual({ ok: true, reservedUnits: 2, capacityUnits: 2 });
        // sfu-a is full: the meeting may take a second module.
        expect(await reserveFor('sfu-b', 'r-3')).toEqual({ ok: true, reservedUnits: 1, capacityUnits: 2 });
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a', 'sfu-b']);
        // A full module of the meeting is never named; one with room is.
        expect(await reserveFor('sfu-c', 'r-4')).toMatchObject({ ok: false, reason: 'elsewhere', moduleId: 'sfu-b' });
        // A module that carries the meeting already is not sent elsewhere, full or not.
        expect(await reserveFor('sfu-a', 'r-4')).toMatchObject({ ok: false, reason: 'full' });
        // Without meetingId, reserve knows no meeting.
        expect(await store.reserve({ moduleId: mid('sfu-c'), reservationId: rid('r-5'), units: 1 })).toMatchObject({
          ok: true,
        });
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a', 'sfu-b']);
      });

      it('names the module of the meeting with the most free units (ties: lowest id), and only one with room for the units', async () => {
        await register('sfu-a', { capacityUnits: 10 });
        await register('sfu-c', { capacityUnits: 10 });
        await register('sfu-new', { capacityUnits: 10 });
        expect(await store.addMeetingModule(MEETING, mid('sfu-a'))).toBe(true);
        expect(await store.addMeetingModule(MEETING, mid('sfu-c'))).toBe(true);
        await store.reserve({ moduleId: mid('sfu-a'), reservationId: rid('r-a'), units: 4 });
        await store.reserve({ moduleId: mid('sfu-c'), reservationId: rid('r-c1'), units: 2 });
        expect(await reserveFor('sfu-new', 'r-1')).toMatchObject({ ok: false, reason: 'elsewhere', moduleId: 'sfu-c' });
        await store.reserve({ moduleId: mid('sfu-c'), reservationId: rid('r-c2'), units: 2 });
        // 6 free on each: the lowest id.
        expect(await reserveFor('sfu-new', 'r-1')).toMatchObject({ ok: false, reason: 'elsewhere', moduleId: 'sfu-a' });
        // Neither has 7 free: the new module takes the meeting.
        expect(await reserveFor('sfu-new', 'r-1', { units: 7 })).toEqual({ ok: true, reservedUnits: 7, capacityUnits: 10 });
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a', 'sfu-c', 'sfu-new']);
        // Now it carries the meeting: it is not sent to the emptier sfu-a.
        expect(await reserveFor('sfu-new', 'r-2')).toEqual({ ok: true, reservedUnits: 8, capacityUnits: 10 });
      });

      it('an already-held reservation id answers ok and changes nothing, even when the meeting is elsewhere', async () => {
        await register('sfu-a');
        await register('sfu-b');
        expect((await reserveFor('sfu-a', 'r-1')).ok).toBe(true);
        expect((await store.reserve({ moduleId: mid('sfu-b'), reservationId: rid('r-b'), units: 2 })).ok).toBe(true);
        expect(await reserveFor('sfu-b', 'r-b')).toEqual({
          ok: true,
          reservedUnits: 2,
          capacityUnits: DEFAULT_MODULE_CAPACITY_UNITS,
        });
        expect(await reserveFor('sfu-a', 'r-1', { units: 2 })).toEqual({
          ok: true,
          reservedUnits: 1,
          capacityUnits: DEFAULT_MODULE_CAPACITY_UNITS,
        });
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a']);
        // r-b was held without a meeting: releasing it does not touch the meeting.
        expect(await store.releaseReservation(mid('sfu-b'), rid('r-b'))).toBe(true);
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a']);
      });

      it('draining or gone modules of the meeting, and those of another zone or role, do not cause elsewhere', async () => {
        // Draining.
        await register('sfu-a');
        await register('sfu-b');
        expect((await reserveFor('sfu-a', 'r-a')).ok).toBe(true);
        expect(await reserveFor('sfu-b', 'r-b')).toMatchObject({ ok: false, reason: 'elsewhere', moduleId: 'sfu-a' });
        expect(await store.setDraining(mid('sfu-a'), true)).toBe(true);
        expect(await reserveFor('sfu-b', 'r-b')).toMatchObject({ ok: true, reservedUnits: 1 });
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a', 'sfu-b']);

        // Another zone, another role.
        await register('sfu-zone-b', { zoneId: ZONE_B });
        await register('mmr-cloud', { role: 'cloud' });
        await register('sfu-c');
        expect((await reserveFor('sfu-zone-b', 'r-z', { meetingId: MEETING_2 })).ok).toBe(true);
        expect(await store.addMeetingModule(MEETING_2, mid('mmr-cloud'))).toBe(true);
        expect(await reserveFor('sfu-c', 'r-c', { meetingId: MEETING_2 })).toMatchObject({ ok: true, reservedUnits: 1 });
        expect(await store.meetingModules(MEETING_2)).toEqual(['mmr-cloud', 'sfu-c', 'sfu-zone-b']);

        // Gone (expired, not yet swept).
        const meeting3 = MeetingId('meeting-3');
        await register('sfu-dying');
        await register('sfu-d');
        expect((await reserveFor('sfu-dying', 'r-dying', { meetingId: meeting3 })).ok).toBe(true);
        expect(await reserveFor('sfu-d', 'r-d', { meetingId: meeting3 })).toMatchObject({ reason: 'elsewhere' });
        await shortenLife('sfu-dying');
        await expire();
        expect(await reserveFor('sfu-d', 'r-d', { meetingId: meeting3 })).toMatchObject({ ok: true, reservedUnits: 1 });
        expect(await store.meetingModules(meeting3)).toEqual(['sfu-d']);
      });

      it('25 concurrent joins of one meeting over 3 modules of 10, retried where told: 10, 10 and 5, a module added only when the others are full', async () => {
        const peers = await openPeers(3);
        const ids = ['sfu-1', 'sfu-2', 'sfu-3'];
        await Promise.all(ids.map((id) => register(id, { capacityUnits: 10 }, peers.stores[0])));
        // Deterministic "random" first targets (a small LCG), so a failure can be replayed.
        let seed = 12345;
        const nextIndex = (): number => {
          seed = (seed * 1103515245 + 12345) % 2147483648;
          return seed % ids.length;
        };
        const refusals: ReserveResult[] = [];
        const join = async (i: number): Promise<string> => {
          const on = peers.stores[i % peers.stores.length] as ClusterState;
          let target = ids[nextIndex()] as string;
          for (let attempt = 0; attempt < 100; attempt++) {
            const result = await reserveFor(target, `r-${i}`, {}, on);
            if (result.ok) return target;
            refusals.push(result);
            if (result.reason === 'elsewhere') target = result.moduleId;
            else target = ids[(ids.indexOf(target) + 1) % ids.length] as string; // full: the next module
          }
          throw new Error(`join ${i} found no room in 100 attempts`);
        };
        const landed = await Promise.all(Array.from({ length: 25 }, (_, i) => join(i)));

        for (const refusal of refusals) {
          expect(['elsewhere', 'full']).toContain(!refusal.ok && refusal.reason);
          expect(refusal.reservedUnits).toBeLessThanOrEqual(10);
        }
        const reserved = await Promise.all(ids.map((id) => reservedOn(id, peers.stores[1])));
        expect(reserved.every((units) => units !== undefined && units <= 10)).toBe(true);
        expect([...reserved].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([5, 10, 10]);
        ids.forEach((id, i) => expect(landed.filter((where) => where === id)).toHaveLength(reserved[i] ?? NaN));
        expect(await peers.stores[2]?.meetingModules(MEETING)).toEqual(ids);
      });

      it('releasing the last reservation of the meeting on a module removes it from the meeting; releasing one of two keeps it', async () => {
        await register('sfu-a');
        await register('sfu-b');
        expect((await reserveFor('sfu-a', 'r-1')).ok).toBe(true);
        expect((await reserveFor('sfu-a', 'r-2', { pendingTtlMs: LONG_TTL_MS })).ok).toBe(true);
        expect((await reserveFor('sfu-a', 'r-3', { meetingId: MEETING_2 })).ok).toBe(true);
        expect((await store.reserve({ moduleId: mid('sfu-a'), reservationId: rid('r-plain'), units: 1 })).ok).toBe(true);
        expect(await store.confirmReservation(mid('sfu-a'), rid('r-2'))).toBe(true);

        expect(await store.releaseReservation(mid('sfu-a'), rid('r-1'))).toBe(true);
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a']);
        expect(await store.releaseReservation(mid('sfu-a'), rid('r-plain'))).toBe(true);
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a']);
        expect(await store.releaseReservation(mid('sfu-a'), rid('r-2'))).toBe(true);
        expect(await store.meetingModules(MEETING)).toEqual([]);
        expect(await store.meetingModules(MEETING_2)).toEqual(['sfu-a']);
        expect(await store.releaseReservation(mid('sfu-a'), rid('r-2'))).toBe(false);
        expect(await store.releaseReservation(mid('sfu-a'), rid('r-3'))).toBe(true);
        expect(await store.meetingModules(MEETING_2)).toEqual([]);
        expect(await reservedOn('sfu-a')).toBe(0);

        // The meeting is nowhere now: any module may take it, and then it is the one others are sent to.
        expect(await reserveFor('sfu-b', 'r-4')).toMatchObject({ ok: true });
        expect(await reserveFor('sfu-a', 'r-5')).toMatchObject({ ok: false, reason: 'elsewhere', moduleId: 'sfu-b' });
      });

      it('a pending reservation for a meeting that expires unused takes its meeting record with it at the sweep', async () => {
        await register('sfu-a');
        const ttl = fx.shortTtlMs;
        expect((await reserveFor('sfu-a', 'r-unused', { pendingTtlMs: ttl })).ok).toBe(true);
        expect((await reserveFor('sfu-a', 'r-arrived', { pendingTtlMs: ttl, meetingId: MEETING_2 })).ok).toBe(true);
        expect(await store.confirmReservation(mid('sfu-a'), rid('r-arrived'))).toBe(true);

        await expire();
        // Held until a sweep frees it.
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a']);
        expect(await store.sweepExpired()).toEqual([]);

        expect(await store.meetingModules(MEETING)).toEqual([]);
        expect(await store.meetingModules(MEETING_2)).toEqual(['sfu-a']);
        expect(await reservedOn('sfu-a')).toBe(1);
      });

      it('explicit add and remove stay explicit: the last freed reservation still takes the module out, removal is at once', async () => {
        await register('sfu-a');
        expect(await store.addMeetingModule(MEETING, mid('sfu-a'))).toBe(true);
        expect((await reserveFor('sfu-a', 'r-1')).ok).toBe(true);
        expect(await store.releaseReservation(mid('sfu-a'), rid('r-1'))).toBe(true);
        expect(await store.meetingModules(MEETING)).toEqual([]);

        expect((await reserveFor('sfu-a', 'r-2')).ok).toBe(true);
        await store.removeMeetingModule(MEETING, mid('sfu-a'));
        expect(await store.meetingModules(MEETING)).toEqual([]);
        expect(await reservedOn('sfu-a')).toBe(1);
        // The next reserve for the meeting adds it again; it leaves with its last reservation.
        expect((await reserveFor('sfu-a', 'r-3')).ok).toBe(true);
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a']);
        expect(await store.releaseReservation(mid('sfu-a'), rid('r-2'))).toBe(true);
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-a']);
        expect(await store.releaseReservation(mid('sfu-a'), rid('r-3'))).toBe(true);
        expect(await store.meetingModules(MEETING)).toEqual([]);
      });

      it('removing a module (deregistered or swept) forgets its reservations per meeting: nothing of them returns', async () => {
        await register('sfu-left');
        await register('sfu-died');
        expect((await reserveFor('sfu-left', 'r-1')).ok).toBe(true);
        expect((await reserveFor('sfu-left', 'r-2')).ok).toBe(true);
        expect((await reserveFor('sfu-died', 'r-3', { meetingId: MEETING_2 })).ok).toBe(true);
        expect((await reserveFor('sfu-died', 'r-4', { meetingId: MEETING_2 })).ok).toBe(true);
        expect(await store.deregisterModule(mid('sfu-left'))).toBe(true);
        await shortenLife('sfu-died');
        await expire();
        expect(await store.sweepExpired()).toEqual(['sfu-died']);
        expect(await store.meetingModules(MEETING)).toEqual([]);
        expect(await store.meetingModules(MEETING_2)).toEqual([]);

        // Back as new modules: one reservation for the meeting, released, takes each out again
        // (a count left over from before would keep it in).
        await register('sfu-left');
        await register('sfu-died');
        expect((await reserveFor('sfu-left', 'r-5')).ok).toBe(true);
        expect((await reserveFor('sfu-died', 'r-6', { meetingId: MEETING_2 })).ok).toBe(true);
        // Old reservation ids are not held any more, not even their meeting share.
        expect(await store.releaseReservation(mid('sfu-left'), rid('r-1'))).toBe(false);
        expect(await store.releaseReservation(mid('sfu-left'), rid('r-5'))).toBe(true);
        expect(await store.releaseReservation(mid('sfu-died'), rid('r-6'))).toBe(true);
        expect(await store.meetingModules(MEETING)).toEqual([]);
        expect(await store.meetingModules(MEETING_2)).toEqual([]);
        // A reservation id reused without a meeting is not counted for the old one.
        expect((await store.reserve({ moduleId: mid('sfu-left'), reservationId: rid('r-2'), units: 1 })).ok).toBe(true);
        expect((await reserveFor('sfu-left', 'r-7')).ok).toBe(true);
        expect(await store.releaseReservation(mid('sfu-left'), rid('r-2'))).toBe(true);
        expect(await store.meetingModules(MEETING)).toEqual(['sfu-left']);
      });
    });

    describe('top MMR of a meeting', () => {
      it('claimTop() is compare-and-set: the first claimant wins, others see the holder, the holder may claim again', async () => {
        await register('sfu-1');
        await register('sfu-2');
        expect(await store.getTop(MEETING)).toBeUndefined();
        expect(await store.claimTop(MEETING, mid('sfu-1'))).toEqual({ won: true, holder: 'sfu-1', epoch: 1 });
        expect(await store.claimTop(MEETING, mid('sfu-2'))).toEqual({ won: false, holder: 'sfu-1', epoch: 1 });
        expect(await store.claimTop(MEETING, mid('sfu-1'))).toEqual({ won: true, holder: 'sfu-1', epoch: 1 });
        expect(await store.getTop(MEETING)).toBe('sfu-1');
        expect(await store.claimTop(MeetingId('meeting-2'), mid('sfu-2'))).toEqual({ won: true, holder: 'sfu-2', epoch: 1 });
      });

      it('claimTop() fences: each new holder gets a higher epoch, even the same module after losing it', async () => {
        await register('sfu-1');
        await register('sfu-2');
        expect((await store.claimTop(MEETING, mid('sfu-1'))).epoch).toBe(1);
        expect(await store.releaseTop(MEETING, mid('sfu-1'))).toBe(true);
        expect(await store.claimTop(MEETING, mid('sfu-2'))).toEqual({ won: true, holder: 'sfu-2', epoch: 2 });
        await store.releaseTop(MEETING, mid('sfu-2'));
        // sfu-1 holds it again, but not continuously: a new epoch tells it so.
        expect(await store.claimTop(MEETING, mid('sfu-1'))).toEqual({ won: true, holder: 'sfu-1', epoch: 3 });
        await store.deregisterModule(mid('sfu-1'));
        expect(await store.claimTop(MEETING, mid('sfu-2'))).toEqual({ won: true, holder: 'sfu-2', epoch: 4 });
      });

      it('claimTop() throws NOT_FOUND for a module that is not live', async () => {
        await expectCode(store.claimTop(MEETING, mid('sfu-unknown')), 'NOT_FOUND');
        await register('sfu-dying');
        await shortenLife('sfu-dying');
        await expire();
        await expectCode(store.claimTop(MEETING, mid('sfu-dying')), 'NOT_FOUND');
        expect(await store.getTop(MEETING)).toBeUndefined();
      });

      it('releaseTop() releases only for the holder and emits top-released (released)', async () => {
        const { events } = await recordEvents(store);
        await register('sfu-1');
        await register('sfu-2');
        await store.claimTop(MEETING, mid('sfu-1'));
        expect(await store.releaseTop(MEETING, mid('sfu-2'))).toBe(false);
        expect(await store.getTop(MEETING)).toBe('sfu-1');
        expect(await store.releaseTop(MEETING, mid('sfu-1'))).toBe(true);
        expect(await store.releaseTop(MEETING, mid('sfu-1'))).toBe(false);
        expect(await store.getTop(MEETING)).toBeUndefined();
        expect(await store.claimTop(MEETING, mid('sfu-2'))).toEqual({ won: true, holder: 'sfu-2', epoch: 2 });

        await waitFor(() => events.length >= 1, { timeoutMs: EVENT_TIMEOUT_MS });
        await sleep(SETTLE_MS);
        expect(events).toEqual([{ type: 'top-released', meetingId: MEETING, moduleId: 'sfu-1', reason: 'released' }]);
      });

      it('the claim lasts until its holder is swept; then top-released (module-gone) and module-gone (expired)', async () => {
        const { events } = await recordEvents(store);
        await register('sfu-1');
        await register('sfu-2');
        await store.claimTop(MEETING, mid('sfu-1'));
        await shortenLife('sfu-1');
        await expire();
        // Expired but not yet swept: still the holder, so nobody cascades to a second top.
        expect(await store.claimTop(MEETING, mid('sfu-2'))).toEqual({ won: false, holder: 'sfu-1', epoch: 1 });

        expect(await store.sweepExpired()).toEqual(['sfu-1']);
        expect(await store.getTop(MEETING)).toBeUndefined();
        await waitFor(() => events.length >= 2, { timeoutMs: EVENT_TIMEOUT_MS });
        await sleep(SETTLE_MS);
        expect(events).toEqual([
          { type: 'top-released', meetingId: MEETING, moduleId: 'sfu-1', reason: 'module-gone' },
          { type: 'module-gone', moduleId: 'sfu-1', zoneId: ZONE_A, reason: 'expired' },
        ]);
        expect(await store.claimTop(MEETING, mid('sfu-2'))).toEqual({ won: true, holder: 'sfu-2', epoch: 2 });
      });

      it('releaseSilentTop() frees the claim of a holder that stopped heartbeating, never of one that beats, and emits top-released (holder-silent)', async () => {
        const { events } = await recordEvents(store);
        await register('sfu-1');
        await register('sfu-2');
        await store.claimTop(MEETING, mid('sfu-1'));
        // sfu-1 just registered: it is not silent for a minute, whatever sfu-2 thinks.
        expect(await store.releaseSilentTop(MEETING, mid('sfu-1'), 60_000)).toBe(false);
        // Only the holder's claim can be freed this way.
        expect(await store.releaseSilentTop(MEETING, mid('sfu-2'), 1)).toBe(false);
        await expire();
        await store.heartbeat(mid('sfu-2'), ZERO_LOAD, LONG_TTL_MS);
        expect(await store.releaseSilentTop(MEETING, mid('sfu-1'), 60_000)).toBe(false);
        expect(await store.getTop(MEETING)).toBe('sfu-1');
        // Silent for longer than asked: freed before any sweep, and sfu-1 is still registered.
        expect(await store.releaseSilentTop(MEETING, mid('sfu-1'), fx.shortTtlMs)).toBe(true);
        expect(await store.getTop(MEETING)).toBeUndefined();
        expect(await store.getModule(mid('sfu-1'))).toBeDefined();
        expect(await store.releaseSilentTop(MEETING, mid('sfu-1'), fx.shortTtlMs)).toBe(false);
        expect(await store.claimTop(MEETING, mid('sfu-2'))).toEqual({ won: true, holder: 'sfu-2', epoch: 2 });
        // A holder that beats again keeps its claim.
        await store.heartbeat(mid('sfu-2'), ZERO_LOAD, LONG_TTL_MS);
        expect(await store.releaseSilentTop(MEETING, mid('sfu-2'), 60_000)).toBe(false);
        expect(await store.getTop(MEETING)).toBe('sfu-2');

        await waitFor(() => events.length >= 1, { timeoutMs: EVENT_TIMEOUT_MS });
        await sleep(SETTLE_MS);
        expect(events).toEqual([{ type: 'top-released', meetingId: MEETING, moduleId: 'sfu-1', reason: 'holder-silent' }]);
        await expectCode(store.releaseSilentTop(MEETING, mid('sfu-2'), 0), 'INVALID_ARGUMENT');
      });

      it('exactly one of 50 concurrent claims from different modules and stores wins; all see the same holder', async () => {
        const peers = await openPeers(5);
        const ids = Array.from({ length: 50 }, (_, i) => `sfu-${String(i).padStart(2, '0')}`);
        await Promise.all(ids.map((id, i) => register(id, {}, peers.stores[i % peers.stores.length])));
        const claims = await Promise.all(
          ids.map((id, i) => (peers.stores[i % peers.stores.length] as ClusterState).claimTop(MEETING, mid(id))),
        );
        const winners = claims.filter((claim) => claim.won);
        expect(winners).toHaveLength(1);
        const holder = winners[0]?.holder;
        expect(claims.every((claim) => claim.holder === holder)).toBe(true);
        expect(claims[ids.indexOf(holder ?? '')]?.won).toBe(true);
        for (const peer of peers.stores) expect(await peer.getTop(MEETING)).toBe(holder);
      });
    });

    describe('events', () => {
      it('subscribers get events caused through other stores; unsubscribing stops delivery', async () => {
        const peers = await openPeers(2);
        const [a, b] = peers.stores as [ClusterState, ClusterState];
        const stays = await recordEvents(b);
        const leaves = await recordEvents(b);
        await register('sfu-1', {}, a);
        await a.claimTop(MEETING, mid('sfu-1'));
        await a.releaseTop(MEETING, mid('sfu-1'));
        await waitFor(() => stays.events.length >= 1 && leaves.events.length >= 1, { timeoutMs: EVENT_TIMEOUT_MS });

        await leaves.stop();
        await a.deregisterModule(mid('sfu-1'));
        await waitFor(() => stays.events.length >= 2, { timeoutMs: EVENT_TIMEOUT_MS });
        await sleep(SETTLE_MS);
        expect(stays.events).toEqual([
          { type: 'top-released', meetingId: MEETING, moduleId: 'sfu-1', reason: 'released' },
          { type: 'module-gone', moduleId: 'sfu-1', zoneId: ZONE_A, reason: 'deregistered' },
        ]);
        expect(leaves.events).toEqual([stays.events[0]]);
      });

      it('a listener that throws does not keep the event from other listeners, nor break the store', async () => {
        await store.subscribe(() => {
          throw new Error('listener bug');
        });
        const { events } = await recordEvents(store);
        await register('sfu-1');
        await store.deregisterModule(mid('sfu-1'));
        await register('sfu-2');
        await store.deregisterModule(mid('sfu-2'));
        await waitFor(() => events.length >= 2, { timeoutMs: EVENT_TIMEOUT_MS });
        expect(events.map((event) => event.type === 'module-gone' && event.moduleId)).toEqual(['sfu-1', 'sfu-2']);
        await store.ping();
      });

      it('sweeping from several stores at once reports each expired module once, with one event each', async () => {
        const peers = await openPeers(3);
        const [a, b, c] = peers.stores as [ClusterState, ClusterState, ClusterState];
        const { events } = await recordEvents(c);
        const ids = Array.from({ length: 20 }, (_, i) => `sfu-${String(i).padStart(2, '0')}`);
        await Promise.all(ids.map((id) => register(id, {}, a)));
        await Promise.all(ids.slice(0, 5).map((id, i) => a.claimTop(MeetingId(`meeting-${i}`), mid(id))));
        await register('sfu-live', {}, a);
        await Promise.all(ids.map((id) => shortenLife(id, a)));
        await expire(peers);

        const swept = await Promise.all([a.sweepExpired(), b.sweepExpired(), c.sweepExpired(), a.sweepExpired()]);
        const all = swept.flat();
        expect([...all].sort()).toEqual(ids);

        await waitFor(() => events.length >= 25, { timeoutMs: EVENT_TIMEOUT_MS });
        await sleep(SETTLE_MS);
        const gone = events.filter((event) => event.type === 'module-gone');
        const released = events.filter((event) => event.type === 'top-released');
        expect(gone.map((event) => event.moduleId).sort()).toEqual(ids);
        expect(gone.every((event) => event.type === 'module-gone' && event.reason === 'expired')).toBe(true);
        expect(released.map((event) => event.moduleId).sort()).toEqual(ids.slice(0, 5));
        expect((await c.listModules(ZONE_A)).map((m) => m.id)).toEqual(['sfu-live']);
      });
    });

    describe('input validation', () => {
      const good = registration('sfu-1');
      const cases: ReadonlyArray<[string, (s: ClusterState) => Promise<unknown>, ErrorCode]> = [
        ['capacityUnits 0', (s) => s.registerModule({ ...good, capacityUnits: 0 }, LONG_TTL_MS), 'INVALID_ARGUMENT'],
        ['capacityUnits 1.5', (s) => s.registerModule({ ...good, capacityUnits: 1.5 }, LONG_TTL_MS), 'INVALID_ARGUMENT'],
        ['capacityUnits -400', (s) => s.registerModule({ ...good, capacityUnits: -400 }, LONG_TTL_MS), 'INVALID_ARGUMENT'],
        ['ttlMs 0', (s) => s.registerModule(good, 0), 'INVALID_ARGUMENT'],
        ['ttlMs 2.5', (s) => s.registerModule(good, 2.5), 'INVALID_ARGUMENT'],
        ['ttlMs NaN', (s) => s.registerModule(good, NaN), 'INVALID_ARGUMENT'],
        ['role', (s) => s.registerModule({ ...good, role: 'fog' as ModuleRole }, LONG_TTL_MS), 'INVALID_ARGUMENT'],
        ['mediaUrl', (s) => s.registerModule({ ...good, mediaUrl: 'not a url' }, LONG_TTL_MS), 'INVALID_ARGUMENT'],
        ['cascadeAddress without a port', (s) => s.registerModule({ ...good, cascadeAddress: '10.0.0.7' }, LONG_TTL_MS), 'INVALID_ARGUMENT'],
        ['cascadeAddress port 0', (s) => s.registerModule({ ...good, cascadeAddress: 'sfu-1:0' }, LONG_TTL_MS), 'INVALID_ARGUMENT'],
        ['empty version', (s) => s.registerModule({ ...good, version: '' }, LONG_TTL_MS), 'INVALID_ARGUMENT'],
        ['module id', (s) => s.registerModule({ ...good, id: 'sfu 1' as ModuleId }, LONG_TTL_MS), 'INVALID_ID'],
        ['zone id', (s) => s.registerModule({ ...good, zoneId: 'zone:a' as ZoneId }, LONG_TTL_MS), 'INVALID_ID'],
        ['node id', (s) => s.registerModule({ ...good, nodeId: '' as NodeId }, LONG_TTL_MS), 'INVALID_ID'],
        ['heartbeat id', (s) => s.heartbeat('-x' as ModuleId, ZERO_LOAD, LONG_TTL_MS), 'INVALID_ID'],
        ['negative load', (s) => s.heartbeat(good.id, { ...ZERO_LOAD, participants: -1 }, LONG_TTL_MS), 'INVALID_ARGUMENT'],
        ['NaN load', (s) => s.heartbeat(good.id, { ...ZERO_LOAD, cpuPercent: NaN }, LONG_TTL_MS), 'INVALID_ARGUMENT'],
        ['heartbeat ttlMs', (s) => s.heartbeat(good.id, ZERO_LOAD, -5), 'INVALID_ARGUMENT'],
        ['draining', (s) => s.setDraining(good.id, 'yes' as unknown as boolean), 'INVALID_ARGUMENT'],
        ['getModule id', (s) => s.getModule('a/b' as ModuleId), 'INVALID_ID'],
        ['listModules zone', (s) => s.listModules('' as ZoneId), 'INVALID_ID'],
        ['deregister id', (s) => s.deregisterModule('a b' as ModuleId), 'INVALID_ID'],
        ['units 0', (s) => s.reserve({ moduleId: good.id, reservationId: rid('r-1'), units: 0 }), 'INVALID_ARGUMENT'],
        ['units 1.5', (s) => s.reserve({ moduleId: good.id, reservationId: rid('r-1'), units: 1.5 }), 'INVALID_ARGUMENT'],
        [
          'pendingTtlMs 0',
          (s) => s.reserve({ moduleId: good.id, reservationId: rid('r-1'), units: 1, pendingTtlMs: 0 }),
          'INVALID_ARGUMENT',
        ],
        [
          'reservation id',
          (s) => s.reserve({ moduleId: good.id, reservationId: 'r:1' as ReservationId, units: 1 }),
          'INVALID_ID',
        ],
        [
          'reserve meeting id',
          (s) => s.reserve({ moduleId: good.id, reservationId: rid('r-1'), units: 1, meetingId: 'm:1' as MeetingId }),
          'INVALID_ID',
        ],
        [
          'reserve meeting id (not a string)',
          (s) => s.reserve({ moduleId: good.id, reservationId: rid('r-1'), units: 1, meetingId: 7 as unknown as MeetingId }),
          'INVALID_ID',
        ],
        ['confirm id', (s) => s.confirmReservation(good.id, '' as ReservationId), 'INVALID_ID'],
        ['release id', (s) => s.releaseReservation('x y' as ModuleId, rid('r-1')), 'INVALID_ID'],
        ['meeting id (add)', (s) => s.addMeetingModule('m:1' as MeetingId, good.id), 'INVALID_ID'],
        ['meeting id (remove)', (s) => s.removeMeetingModule(MEETING, '' as ModuleId), 'INVALID_ID'],
        ['meeting id (list)', (s) => s.meetingModules('{m}' as MeetingId), 'INVALID_ID'],
        ['meeting id (claim)', (s) => s.claimTop('' as MeetingId, good.id), 'INVALID_ID'],
        ['module id (release top)', (s) => s.releaseTop(MEETING, '.x' as ModuleId), 'INVALID_ID'],
        ['meeting id (get top)', (s) => s.getTop('m 1' as MeetingId), 'INVALID_ID'],
      ];

      it.each(cases)('refuses a bad %s', async (_what, call, code) => {
        await expectCode(call(store), code);
      });

      it('changes nothing when it refuses', async () => {
        await expectCode(store.registerModule({ ...good, capacityUnits: 0 }, LONG_TTL_MS), 'INVALID_ARGUMENT');
        expect(await store.getModule(good.id)).toBeUndefined();
        await register('sfu-1');
        await expectCode(store.reserve({ moduleId: good.id, reservationId: rid('r-1'), units: 0 }), 'INVALID_ARGUMENT');
        expect((await store.getModule(good.id))?.reservedUnits).toBe(0);
        await expectCode(
          store.reserve({ moduleId: good.id, reservationId: rid('r-1'), units: 1, meetingId: '' as MeetingId }),
          'INVALID_ID',
        );
        expect((await store.getModule(good.id))?.reservedUnits).toBe(0);
        expect(await store.meetingModules(MEETING)).toEqual([]);
      });
    });

    describe('lifecycle', () => {
      it('ping() resolves while open', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('close() is idempotent and every later call rejects with UNAVAILABLE', async () => {
        await Promise.all([store.close(), store.close()]);
        await store.close();
        const calls: Array<() => Promise<unknown>> = [
          () => store.registerModule(registration('sfu-1'), LONG_TTL_MS),
          () => store.heartbeat(mid('sfu-1'), ZERO_LOAD, LONG_TTL_MS),
          () => store.setDraining(mid('sfu-1'), true),
          () => store.getModule(mid('sfu-1')),
          () => store.listModules(ZONE_A),
          () => store.deregisterModule(mid('sfu-1')),
          () => store.sweepExpired(),
          () => store.reserve({ moduleId: mid('sfu-1'), reservationId: rid('r-1'), units: 1 }),
          () => store.confirmReservation(mid('sfu-1'), rid('r-1')),
          () => store.releaseReservation(mid('sfu-1'), rid('r-1')),
          () => store.addMeetingModule(MEETING, mid('sfu-1')),
          () => store.removeMeetingModule(MEETING, mid('sfu-1')),
          () => store.meetingModules(MEETING),
          () => store.claimTop(MEETING, mid('sfu-1')),
          () => store.releaseTop(MEETING, mid('sfu-1')),
          () => store.getTop(MEETING),
          () => store.subscribe(() => undefined),
          () => store.ping(),
        ];
        for (const call of calls) await expectCode(call(), 'UNAVAILABLE');
      });
    });
  });
}
