/**
 * `ClusterState` on Redis, for real deployments where several ZCPs and
 * modules share one Redis (or a Sentinel-managed primary; not Redis Cluster,
 * see docs/redis-keys.md). Every read-modify-write is one Lua script
 * (redis/scripts.ts); liveness uses the Redis server clock; events go over one
 * pub/sub channel as JSON `ClusterEvent`s.
 */
import Redis, { type RedisOptions } from 'ioredis';
import { MeetedgeError, type MeetingId, type ModuleId, type NodeId, type ReservationId, type ZoneId } from '@meetedge/core';
import { asArray, quitConnection, toStoreError, type LuaScript } from '@meetedge/redis-kit';
import type {
  ClusterEvent,
  ClusterEventListener,
  ClusterState,
  ModuleLoad,
  ModuleRole,
  ModuleRegistration,
  ModuleState,
  ReserveRequest,
  ReserveResult,
  TopClaim,
} from './cluster-state';
import type { StateLogger } from './logger';
import { clusterKeys, DEFAULT_KEY_PREFIX, FIXED_KEYS, type ClusterKeys } from './redis/keys';
import { SCRIPTS } from './redis/scripts';
import {
  checkBoolean,
  checkLoad,
  checkMeetingId,
  checkModuleId,
  checkRegistration,
  checkReservationId,
  checkReserveRequest,
  checkSilence,
  checkTtl,
  checkZoneId,
  compareIds,
} from './validate';

interface CommonOptions {
  /** Prefix of every key and of the event channel. Default `meetedge:`; tests use one per test for isolation. */
  readonly keyPrefix?: string;
  /** Where connection trouble and listener errors are reported. Default: nowhere. */
  readonly logger?: StateLogger;
}

export type RedisClusterStateOptions = CommonOptions &
  (
    | {
        /** `redis://[user:password@]host:port[/db]` (or `rediss://`). The store owns this connection. */
        readonly url: string;
        /**
         * A command that gets no answer within this many ms fails with
         * UNAVAILABLE instead of hanging. Default 5 000.
         */
        readonly commandTimeoutMs?: number;
        readonly client?: undefined;
      }
    | {
        /**
         * An existing connection to use for commands (e.g. one built for
         * Sentinel). The caller owns it: `close()` leaves it open. The store
         * opens its own `duplicate()` for SUBSCRIBE.
         */
        readonly client: Redis;
        readonly url?: undefined;
      }
  );

/** Modules removed, and overdue reservations freed, per sweep script call; keeps each script short. */
const SWEEP_BATCH = 100;
/** Reply errors that mean "Redis cannot serve right now", not "the script is wrong". */

export class RedisClusterState implements ClusterState {
  private readonly client: Redis;
  private readonly ownsClient: boolean;
  private readonly keys: ClusterKeys;
  private readonly fixedKeys: readonly string[];
  private readonly logger: StateLogger | undefined;
  private readonly listeners = new Set<{ readonly listener: ClusterEventListener }>();
  private subscriber: Redis | undefined;
  private subscribing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** Whether the last connection error was logged already; reset once ready again. */
  private connectionErrorLogged = false;

  constructor(options: RedisClusterStateOptions) {
    const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    if (typeof prefix !== 'string') throw new MeetedgeError('INVALID_ARGUMENT', 'keyPrefix must be a string');
    this.keys = clusterKeys(prefix);
    this.fixedKeys = FIXED_KEYS.map((name) => this.keys[name]);
    this.logger = options.logger;
    if (options.client) {
      // ioredis would prefix KEYS and plain commands but not the keys the Lua
      // scripts build from ids, nor pub/sub channels: state would split in two.
      if (options.client.options.keyPrefix) {
        throw new MeetedgeError('INVALID_ARGUMENT', 'pass a client without keyPrefix; use the keyPrefix option of RedisClusterState');
      }
      this.client = options.client;
      this.ownsClient = false;
    } else {
      if (typeof options.url !== 'string' || options.url === '') {
        throw new MeetedgeError('INVALID_ARGUMENT', 'url must be a redis:// or rediss:// URL');
      }
      const redisOptions: RedisOptions = {
        // Fail a command after one reconnect attempt instead of queueing it for
        // long: callers (placement, heartbeats) have their own retries.
        maxRetriesPerRequest: 1,
        commandTimeout: options.commandTimeoutMs ?? 5000,
        retryStrategy: (times) => Math.min(times * 100, 2000),
        // close() on a connection that is down waits this long for its socket; keep shutdown quick.
        disconnectTimeout: 200,
      };
      this.client = new Redis(options.url, redisOptions);
      this.ownsClient = true;
    }
    this.watchConnection(this.client, 'commands');
  }

  // ── Module registry and liveness ────────────────────────────────────────

  async registerModule(registration: ModuleRegistration, ttlMs: number): Promise<void> {
    this.assertOpen();
    const reg = checkRegistration(registration);
    const ttl = checkTtl(ttlMs);
    await this.run(SCRIPTS.register, [
      reg.id,
      reg.zoneId,
      reg.nodeId,
      reg.role,
      reg.mediaUrl,
      reg.capacityUnits,
      reg.version,
      ttl,
      reg.cascadeAddress ?? '',
      reg.instanceId ?? '',
    ]);
  }

  async heartbeat(moduleId: ModuleId, load: ModuleLoad, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    const id = checkModuleId(moduleId);
    const l = checkLoad(load);
    const ttl = checkTtl(ttlMs);
    const args = [id, String(l.participants), String(l.meetings), String(l.cpuPercent), String(l.egressKbps), ttl];
    return (await this.run(SCRIPTS.heartbeat, args)) === 1;
  }

  async setDraining(moduleId: ModuleId, draining: boolean): Promise<boolean> {
    this.assertOpen();
    const args = [checkModuleId(moduleId), checkBoolean(draining, 'draining') ? '1' : '0'];
    return (await this.run(SCRIPTS.setDraining, args)) === 1;
  }

  async getModule(moduleId: ModuleId): Promise<ModuleState | undefined> {
    this.assertOpen();
    const reply = await this.run(SCRIPTS.getModule, [checkModuleId(moduleId)]);
    return reply ? parseModule(reply) : undefined;
  }

  async listModules(zoneId: ZoneId): Promise<ModuleState[]> {
    this.assertOpen();
    const reply = await this.run(SCRIPTS.listZone, [checkZoneId(zoneId)]);
    return asArray(reply)
      .map(parseModule)
      .sort((a, b) => compareIds(a.id, b.id));
  }

  async deregisterModule(moduleId: ModuleId): Promise<boolean> {
    this.assertOpen();
    return (await this.run(SCRIPTS.deregister, [checkModuleId(moduleId)])) === 1;
  }

  async sweepExpired(): Promise<ModuleId[]> {
    this.assertOpen();
    const removed: ModuleId[] = [];
    for (;;) {
      const [ids, more] = asArray(await this.run(SCRIPTS.sweep, [SWEEP_BATCH]));
      removed.push(...(asArray(ids) as ModuleId[]));
      if (more !== 1) return removed;
    }
  }

  // ── Capacity reservations ───────────────────────────────────────────────

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    this.assertOpen();
    const req = checkReserveRequest(request);
    const reply = asArray(
      await this.run(SCRIPTS.reserve, [
        req.moduleId,
        req.reservationId,
        req.units,
        req.pendingTtlMs ?? '',
        req.meetingId ?? '',
        req.held === true ? '1' : '',
      ]),
    );
    const [status, reservedUnits, capacityUnits, elsewhere] = reply as [string, number, number, string?];
    if (status === 'ok') return { ok: true, reservedUnits, capacityUnits };
    if (status === 'full' || status === 'draining' || status === 'gone') {
      return { ok: false, reason: status, reservedUnits, capacityUnits };
    }
    if (status === 'elsewhere' && typeof elsewhere === 'string') {
      return { ok: false, reason: status, moduleId: elsewhere as ModuleId, reservedUnits, capacityUnits };
    }
    throw new MeetedgeError('INTERNAL', `reserve script answered ${String(status)}`);
  }

  async confirmReservation(moduleId: ModuleId, reservationId: ReservationId): Promise<boolean> {
    this.assertOpen();
    const args = [checkModuleId(moduleId), checkReservationId(reservationId)];
    return (await this.run(SCRIPTS.confirm, args)) === 1;
  }

  async releaseReservation(moduleId: ModuleId, reservationId: ReservationId): Promise<boolean> {
    this.assertOpen();
    const args = [checkModuleId(moduleId), checkReservationId(reservationId)];
    return (await this.run(SCRIPTS.release, args)) === 1;
  }

  // ── Meeting → modules ───────────────────────────────────────────────────

  async addMeetingModule(meetingId: MeetingId, moduleId: ModuleId): Promise<boolean> {
    this.assertOpen();
    const args = [checkMeetingId(meetingId), checkModuleId(moduleId)];
    return (await this.run(SCRIPTS.addMeetingModule, args)) === 1;
  }

  async removeMeetingModule(meetingId: MeetingId, moduleId: ModuleId): Promise<void> {
    this.assertOpen();
    await this.run(SCRIPTS.removeMeetingModule, [checkMeetingId(meetingId), checkModuleId(moduleId)]);
  }

  async meetingModules(meetingId: MeetingId): Promise<ModuleId[]> {
    this.assertOpen();
    const reply = await this.run(SCRIPTS.meetingModules, [checkMeetingId(meetingId)]);
    return (asArray(reply) as ModuleId[]).sort(compareIds);
  }

  async meetingLoad(meetingId: MeetingId): Promise<{ moduleId: ModuleId; participants: number }[]> {
    this.assertOpen();
    const reply = asArray(await this.run(SCRIPTS.meetingLoad, [checkMeetingId(meetingId)])) as (string | number)[];
    const load: { moduleId: ModuleId; participants: number }[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) load.push({ moduleId: reply[i] as ModuleId, participants: Number(reply[i + 1]) });
    return load.sort((a, b) => compareIds(a.moduleId, b.moduleId));
  }

  // ── Top MMR of a meeting ────────────────────────────────────────────────

  async claimTop(meetingId: MeetingId, moduleId: ModuleId): Promise<TopClaim> {
    this.assertOpen();
    const meeting = checkMeetingId(meetingId);
    const module = checkModuleId(moduleId);
    const [status, holder, epoch] = asArray(await this.run(SCRIPTS.claimTop, [meeting, module])) as [string, ModuleId?, number?];
    if (status === 'not_found') {
      throw new MeetedgeError('NOT_FOUND', `module ${module} is not live; it cannot claim top of ${meeting}`, {
        moduleId: module,
        meetingId: meeting,
      });
    }
    if ((status === 'won' || status === 'lost') && holder && typeof epoch === 'number') {
      return { won: status === 'won', holder, epoch };
    }
    throw new MeetedgeError('INTERNAL', `claimTop script answered ${String(status)}`);
  }

  async releaseTop(meetingId: MeetingId, moduleId: ModuleId): Promise<boolean> {
    this.assertOpen();
    const args = [checkMeetingId(meetingId), checkModuleId(moduleId)];
    return (await this.run(SCRIPTS.releaseTop, args)) === 1;
  }

  async releaseSilentTop(meetingId: MeetingId, holder: ModuleId, silentMs: number): Promise<boolean> {
    this.assertOpen();
    const args = [checkMeetingId(meetingId), checkModuleId(holder), String(checkSilence(silentMs))];
    return (await this.run(SCRIPTS.releaseSilentTop, args)) === 1;
  }

  async getTop(meetingId: MeetingId): Promise<ModuleId | undefined> {
    this.assertOpen();
    const key = this.keys.meetingTop(checkMeetingId(meetingId));
    const holder = await this.command(() => this.client.get(key));
    return holder === null ? undefined : (holder as ModuleId);
  }

  // ── Events and lifecycle ────────────────────────────────────────────────

  async subscribe(listener: ClusterEventListener): Promise<() => Promise<void>> {
    this.assertOpen();
    if (typeof listener !== 'function') throw new MeetedgeError('INVALID_ARGUMENT', 'listener must be a function');
    await this.ensureSubscribed();
    this.assertOpen();
    const entry = { listener };
    this.listeners.add(entry);
    return async () => {
      this.listeners.delete(entry);
    };
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.command(() => this.client.ping());
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.listeners.clear();
      const connections = [this.subscriber, this.ownsClient ? this.client : undefined];
      await Promise.all(connections.map((connection) => (connection ? quitConnection(connection) : undefined)));
    })();
    return this.closing;
  }

  // ── Internals ───────────────────────────────────────────────────────────

  private assertOpen(): void {
    if (this.closing) throw new MeetedgeError('UNAVAILABLE', 'cluster state is closed');
  }

  private run(script: LuaScript, args: readonly (string | number)[]): Promise<unknown> {
    return this.command(() => script.run(this.client, this.fixedKeys, [this.keys.prefix, ...args]));
  }

  /** Runs a Redis call, turning failures into coded errors. */
  private async command<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  /** One SUBSCRIBE on a dedicated connection, shared by every listener of this store. */
  private ensureSubscribed(): Promise<void> {
    this.subscribing ??= (async () => {
      const subscriber = this.client.duplicate();
      this.subscriber = subscriber;
      this.watchConnection(subscriber, 'events');
      subscriber.on('message', (channel: string, message: string) => {
        if (channel === this.keys.events) this.dispatch(message);
      });
      try {
        await subscriber.subscribe(this.keys.events);
        if (this.closing) throw new MeetedgeError('UNAVAILABLE', 'cluster state is closed');
      } catch (err) {
        this.subscribing = undefined;
        this.subscriber = undefined;
        subscriber.disconnect();
        throw toStoreError(err);
      }
    })();
    return this.subscribing;
  }

  private dispatch(message: string): void {
    let event: ClusterEvent;
    try {
      event = parseEvent(message);
    } catch (err) {
      this.logger?.warn({ err, message: message.slice(0, 200) }, 'ignoring malformed cluster event');
      return;
    }
    for (const { listener } of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.logger?.warn({ err, event }, 'cluster event listener threw');
      }
    }
  }

  /** Logs the first error of each outage (ioredis retries and emits one per attempt). */
  private watchConnection(connection: Redis, purpose: string): void {
    connection.on('error', (err: unknown) => {
      if (this.closing || this.connectionErrorLogged) return;
      this.connectionErrorLogged = true;
      this.logger?.warn({ err, purpose }, 'redis connection error; retrying');
    });
    connection.on('ready', () => {
      this.connectionErrorLogged = false;
    });
  }
}

/** A module hash, as the flat [field, value, ...] list HGETALL gives inside a script. */
function parseModule(reply: unknown): ModuleState {
  const flat = asArray(reply) as string[];
  const h = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) h.set(flat[i] as string, flat[i + 1] as string);
  const text = (field: string): string => {
    const value = h.get(field);
    if (value === undefined) throw new MeetedgeError('INTERNAL', `module hash lacks ${field}`);
    return value;
  };
  const num = (field: string): number => Number(text(field));
  return {
    id: text('id') as ModuleId,
    zoneId: text('zoneId') as ZoneId,
    nodeId: text('nodeId') as NodeId,
    role: text('role') as ModuleRole,
    mediaUrl: text('mediaUrl'),
    capacityUnits: num('capacityUnits'),
    version: text('version'),
    ...(h.get('cascadeAddress') ? { cascadeAddress: h.get('cascadeAddress') as string } : {}),
    ...(h.get('instanceId') ? { instanceId: h.get('instanceId') as string } : {}),
    load: {
      participants: num('participants'),
      meetings: num('meetings'),
      cpuPercent: num('cpuPercent'),
      egressKbps: num('egressKbps'),
    },
    reservedUnits: num('reservedUnits'),
    draining: text('draining') === '1',
    registeredAt: num('registeredAt'),
    expiresAt: num('expiresAt'),
  };
}

/** A channel message back into a `ClusterEvent`; anything else throws. */
function parseEvent(message: string): ClusterEvent {
  const raw = JSON.parse(message) as Record<string, unknown>;
  if (raw['type'] === 'module-gone' && (raw['reason'] === 'expired' || raw['reason'] === 'deregistered' || raw['reason'] === 'restarted')) {
    return {
      type: 'module-gone',
      moduleId: checkModuleId(raw['moduleId']),
      zoneId: checkZoneId(raw['zoneId']),
      reason: raw['reason'],
    };
  }
  if (raw['type'] === 'top-released' && (raw['reason'] === 'released' || raw['reason'] === 'module-gone' || raw['reason'] === 'holder-silent')) {
    return {
      type: 'top-released',
      meetingId: checkMeetingId(raw['meetingId']),
      moduleId: checkModuleId(raw['moduleId']),
      reason: raw['reason'],
    };
  }
  throw new Error(`unknown cluster event ${message.slice(0, 100)}`);
}
