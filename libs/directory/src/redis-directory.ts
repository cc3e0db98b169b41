/**
 * `Directory` on Redis, for real deployments: every dashboard process shares
 * one Redis (or a Sentinel-managed primary; not Redis Cluster, see
 * docs/redis-keys.md). One hash per record (redis/codec.ts says how fields
 * are written), index sets per account, zone and node, and one Lua script
 * (redis/scripts.ts) per write, so every check-then-write the interface calls
 * atomic is one step for Redis. These are durable records: the Redis must
 * run with AOF (`appendonly yes`).
 */
import Redis, { type RedisOptions } from 'ioredis';
import { MeetedgeError, type AccountId, type MeetingId, type ModuleId, type NodeId, type UserId, type ZoneId } from '@meetedge/core';
import { asArray, quitConnection, toStoreError, type LuaScript } from '@meetedge/redis-kit';
import type {
  Account,
  Directory,
  Meeting,
  MeetingPatch,
  ModuleAssignment,
  NewAccount,
  NewMeeting,
  NewModuleAssignment,
  NewNode,
  NewUser,
  NewZone,
  Node,
  User,
  UserPatch,
  Zone,
} from './directory';
import { failures } from './failures';
import type { DirectoryLogger } from './logger';
import {
  ACCOUNT_SCHEMA,
  MEETING_SCHEMA,
  MODULE_SCHEMA,
  NODE_SCHEMA,
  USER_SCHEMA,
  ZONE_SCHEMA,
  decodeRecord,
  decodeWritten,
  encodeFields,
  type Schema,
} from './redis/codec';
import { DIRECTORY_KEY_PREFIX, directoryKeys, type DirectoryKeys } from './redis/keys';
import { SCRIPTS } from './redis/scripts';
import {
  checkAccountId,
  checkAttempt,
  checkExpectedVersion,
  checkMeetingId,
  checkMeetingPatch,
  checkModuleId,
  checkNewAccount,
  checkNewMeeting,
  checkNewModule,
  checkNewNode,
  checkNewUser,
  checkNewZone,
  checkNodeId,
  checkUserId,
  checkUserPatch,
  checkZoneId,
  compareStrings,
  lookupEmail,
} from './validate';

interface CommonOptions {
  /** Prefix of every key. Default `me:dir:`; tests use one per fixture for isolation. */
  readonly keyPrefix?: string;
  /** Where connection trouble is reported. Default: nowhere. Records and secrets are never logged. */
  readonly logger?: DirectoryLogger;
}

export type RedisDirectoryOptions = CommonOptions &
  (
    | {
        /** `redis://[user:password@]host:port[/db]` (or `rediss://`). The directory owns this connection. */
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
         * An existing connection (e.g. one built for Sentinel, or the one the
         * cluster state uses). The caller owns it: `close()` leaves it open.
         */
        readonly client: Redis;
        readonly url?: undefined;
      }
  );

/** Reply errors that mean "Redis cannot serve right now", not "the script is wrong". */

/** What a failed write script's reason becomes; the argument is the script's extra value. */
type Refusals = Readonly<Record<string, (extra: unknown) => MeetedgeError>>;

const byId = (a: { id: string }, b: { id: string }): number => compareStrings(a.id, b.id);

export class RedisDirectory implements Directory {
  private readonly client: Redis;
  private readonly ownsClient: boolean;
  private readonly keys: DirectoryKeys;
  private readonly logger: DirectoryLogger | undefined;
  private closing: Promise<void> | undefined;
  /** Whether the last connection error was logged already; reset once ready again. */
  private connectionErrorLogged = false;

  constructor(options: RedisDirectoryOptions) {
    const prefix = options.keyPrefix ?? DIRECTORY_KEY_PREFIX;
    if (typeof prefix !== 'string') throw new MeetedgeError('INVALID_ARGUMENT', 'keyPrefix must be a string');
    this.keys = directoryKeys(prefix);
    this.logger = options.logger;
    if (options.client) {
      // ioredis would prefix plain commands but not the keys the scripts build from ids.
      if (options.client.options.keyPrefix) {
        throw new MeetedgeError('INVALID_ARGUMENT', 'pass a client without keyPrefix; use the keyPrefix option of RedisDirectory');
      }
      this.client = options.client;
      this.ownsClient = false;
    } else {
      if (typeof options.url !== 'string' || options.url === '') {
        throw new MeetedgeError('INVALID_ARGUMENT', 'url must be a redis:// or rediss:// URL');
      }
      const redisOptions: RedisOptions = {
        // Fail a command after one reconnect attempt instead of queueing it
        // for long: the dashboard answers 503 and its caller retries.
        maxRetriesPerRequest: 1,
        commandTimeout: options.commandTimeoutMs ?? 5000,
        retryStrategy: (times) => Math.min(times * 100, 2000),
        // close() on a connection that is down waits this long for its socket; keep shutdown quick.
        disconnectTimeout: 200,
      };
      this.client = new Redis(options.url, redisOptions);
      this.ownsClient = true;
    }
    this.watchConnection();
  }

  // ── Accounts and users ───────────────────────────────────────────────

  async createAccount(account: NewAccount): Promise<Account> {
    this.assertOpen();
    const a = checkNewAccount(account);
    const reply = await this.write(SCRIPTS.createAccount, [a.id, ...encodeFields(ACCOUNT_SCHEMA, a)], {
      id_taken: () => failures.idTaken('account', a.id),
    });
    return decodeWritten(ACCOUNT_SCHEMA, reply, 'account');
  }

  getAccount(id: AccountId): Promise<Account | undefined> {
    return this.read(ACCOUNT_SCHEMA, 'account', () => this.keys.account(checkAccountId(id)));
  }

  async createUser(user: NewUser): Promise<User> {
    this.assertOpen();
    const u = checkNewUser(user);
    const reply = await this.write(SCRIPTS.createUser, [u.id, u.accountId, u.email, ...encodeFields(USER_SCHEMA, u)], {
      no_account: () => failures.parentNotFound('account', u.accountId, u.accountId),
      id_taken: () => failures.idTaken('user', u.id),
      email_taken: () => failures.emailTaken(),
    });
    return decodeWritten(USER_SCHEMA, reply, 'user');
  }

  getUser(id: UserId): Promise<User | undefined> {
    return this.read(USER_SCHEMA, 'user', () => this.keys.user(checkUserId(id)));
  }

  async getUserByEmail(email: string): Promise<User | undefined> {
    this.assertOpen();
    const key = lookupEmail(email);
    if (key === undefined) return undefined;
    return decodeRecord(USER_SCHEMA, await this.run(SCRIPTS.userByEmail, [key]), 'user');
  }

  async listUsers(accountId: AccountId): Promise<User[]> {
    const users = await this.list(SCRIPTS.listUsers, checkAccountId(accountId), USER_SCHEMA, 'user');
    return users.sort((a, b) => compareStrings(a.email, b.email));
  }

  async updateUser(id: UserId, patch: UserPatch): Promise<User> {
    this.assertOpen();
    const userId = checkUserId(id);
    const changes = checkUserPatch(patch);
    const reply = await this.write(SCRIPTS.updateUser, [userId, ...encodeFields(USER_SCHEMA, changes)], {
      not_found: () => failures.notFound('user', userId),
    });
    return decodeWritten(USER_SCHEMA, reply, 'user');
  }

  async deleteUser(id: UserId): Promise<boolean> {
    this.assertOpen();
    return (await this.write(SCRIPTS.deleteUser, [checkUserId(id)], {})) === 1;
  }

  // ── Meetings ─────────────────────────────────────────────────────────

  async createMeeting(meeting: NewMeeting): Promise<Meeting> {
    this.assertOpen();
    const m = checkNewMeeting(meeting);
    const reply = await this.write(SCRIPTS.createMeeting, [m.id, m.accountId, ...encodeFields(MEETING_SCHEMA, m)], {
      no_account: () => failures.parentNotFound('account', m.accountId, m.accountId),
      id_taken: () => failures.idTaken('meeting', m.id),
    });
    return decodeWritten(MEETING_SCHEMA, reply, 'meeting');
  }

  getMeeting(id: MeetingId): Promise<Meeting | undefined> {
    return this.read(MEETING_SCHEMA, 'meeting', () => this.keys.meeting(checkMeetingId(id)));
  }

  /** In the sorted set's order: by start (or creation), then id. */
  async listMeetings(accountId: AccountId): Promise<Meeting[]> {
    return this.list(SCRIPTS.listMeetings, checkAccountId(accountId), MEETING_SCHEMA, 'meeting');
  }

  async updateMeeting(id: MeetingId, patch: MeetingPatch, expectedVersion?: number): Promise<Meeting> {
    this.assertOpen();
    const meetingId = checkMeetingId(id);
    const { set, unset } = checkMeetingPatch(patch);
    const expected = checkExpectedVersion(expectedVersion);
    const pairs = encodeFields(MEETING_SCHEMA, set);
    const args = [meetingId, expected === undefined ? '' : String(expected), String(pairs.length), ...pairs, ...unset];
    const reply = await this.write(SCRIPTS.updateMeeting, args, {
      not_found: () => failures.notFound('meeting', meetingId),
      version: (current) => failures.versionMismatch(meetingId, expected ?? 0, Number(current)),
    });
    return decodeWritten(MEETING_SCHEMA, reply, 'meeting');
  }

  async deleteMeeting(id: MeetingId): Promise<boolean> {
    this.assertOpen();
    return (await this.write(SCRIPTS.deleteMeeting, [checkMeetingId(id)], {})) === 1;
  }

  // ── Zones, nodes, modules ────────────────────────────────────────────

  async createZone(zone: NewZone): Promise<Zone> {
    this.assertOpen();
    const z = checkNewZone(zone);
    const reply = await this.write(SCRIPTS.createZone, [z.id, z.accountId, ...encodeFields(ZONE_SCHEMA, z)], {
      no_account: () => failures.parentNotFound('account', z.accountId, z.accountId),
      id_taken: () => failures.idTaken('zone', z.id),
    });
    return decodeWritten(ZONE_SCHEMA, reply, 'zone');
  }

  getZone(id: ZoneId): Promise<Zone | undefined> {
    return this.read(ZONE_SCHEMA, 'zone', () => this.keys.zone(checkZoneId(id)));
  }

  async listZones(accountId: AccountId): Promise<Zone[]> {
    return (await this.list(SCRIPTS.listZones, checkAccountId(accountId), ZONE_SCHEMA, 'zone')).sort(byId);
  }

  async deleteZone(id: ZoneId): Promise<boolean> {
    this.assertOpen();
    const zoneId = checkZoneId(id);
    return (await this.write(SCRIPTS.deleteZone, [zoneId], { has_nodes: () => failures.zoneHasNodes(zoneId) })) === 1;
  }

  async createNode(node: NewNode): Promise<Node> {
    this.assertOpen();
    const n = checkNewNode(node);
    const reply = await this.write(SCRIPTS.createNode, [n.id, n.accountId, n.zoneId, ...encodeFields(NODE_SCHEMA, n)], {
      no_zone: () => failures.parentNotFound('zone', n.zoneId, n.accountId),
      id_taken: () => failures.idTaken('node', n.id),
    });
    return decodeWritten(NODE_SCHEMA, reply, 'node');
  }

  getNode(id: NodeId): Promise<Node | undefined> {
    return this.read(NODE_SCHEMA, 'node', () => this.keys.node(checkNodeId(id)));
  }

  async listNodes(zoneId: ZoneId): Promise<Node[]> {
    return (await this.list(SCRIPTS.listNodes, checkZoneId(zoneId), NODE_SCHEMA, 'node')).sort(byId);
  }

  async deleteNode(id: NodeId): Promise<boolean> {
    this.assertOpen();
    const nodeId = checkNodeId(id);
    return (await this.write(SCRIPTS.deleteNode, [nodeId], { has_modules: () => failures.nodeHasModules(nodeId) })) === 1;
  }

  async assignModule(module: NewModuleAssignment): Promise<ModuleAssignment> {
    this.assertOpen();
    const m = checkNewModule(module);
    const reply = await this.write(SCRIPTS.assignModule, [m.id, m.accountId, m.nodeId, ...encodeFields(MODULE_SCHEMA, m)], {
      no_node: () => failures.parentNotFound('node', m.nodeId, m.accountId),
      id_taken: () => failures.idTaken('module', m.id),
      node_full: () => failures.nodeFull(m.nodeId),
    });
    return decodeWritten(MODULE_SCHEMA, reply, 'module');
  }

  getModule(id: ModuleId): Promise<ModuleAssignment | undefined> {
    return this.read(MODULE_SCHEMA, 'module', () => this.keys.module(checkModuleId(id)));
  }

  async listModules(nodeId: NodeId): Promise<ModuleAssignment[]> {
    return (await this.list(SCRIPTS.listModules, checkNodeId(nodeId), MODULE_SCHEMA, 'module')).sort(byId);
  }

  async listZoneModules(zoneId: ZoneId): Promise<ModuleAssignment[]> {
    return (await this.list(SCRIPTS.listZoneModules, checkZoneId(zoneId), MODULE_SCHEMA, 'module')).sort(byId);
  }

  async removeModule(id: ModuleId): Promise<boolean> {
    this.assertOpen();
    return (await this.write(SCRIPTS.removeModule, [checkModuleId(id)], {})) === 1;
  }

  // ── Rate limiting ────────────────────────────────────────────────────

  async countAttempt(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    this.assertOpen();
    const attempt = checkAttempt(key, windowMs);
    const [count, resetInMs] = asArray(await this.run(SCRIPTS.countAttempt, [attempt.key, attempt.windowMs]));
    if (typeof count !== 'number' || typeof resetInMs !== 'number') {
      throw new MeetedgeError('INTERNAL', 'countAttempt script answered something else than two integers');
    }
    return { count, resetInMs };
  }

  // ── Lifecycle ────────────────────────────────────────────────────────

  async ping(): Promise<void> {
    this.assertOpen();
    await this.command(() => this.client.ping());
  }

  /** Idempotent. Closes the connection the directory opened; a client passed in stays open. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.ownsClient) await quitConnection(this.client);
      else this.unwatchConnection();
    })();
    return this.closing;
  }

  // ── Internals ────────────────────────────────────────────────────────

  private assertOpen(): void {
    if (this.closing) throw failures.closed();
  }

  private run(script: LuaScript, args: readonly (string | number)[]): Promise<unknown> {
    return this.command(() => script.run(this.client, [], [this.keys.prefix, ...args]));
  }

  /** Runs a write script: answers its value on `ok`, throws the coded error of a `fail` reason. */
  private async write(script: LuaScript, args: readonly (string | number)[], refusals: Refusals): Promise<unknown> {
    const [status, value, extra] = asArray(await this.run(script, args));
    if (status === 'ok') return value;
    const refusal = status === 'fail' && typeof value === 'string' ? refusals[value] : undefined;
    if (refusal) throw refusal(extra);
    throw new MeetedgeError('INTERNAL', `${script.name} script answered ${String(status)} ${String(value)}`);
  }

  /** One record by key (HGETALL); undefined when the hash does not exist. */
  private async read<T>(schema: Schema<T>, what: string, key: () => string): Promise<T | undefined> {
    this.assertOpen();
    const name = key();
    return decodeRecord(schema, await this.command(() => this.client.hgetall(name)), what);
  }

  /** The records a list script answers, in its order. */
  private async list<T>(script: LuaScript, id: string, schema: Schema<T>, what: string): Promise<T[]> {
    this.assertOpen();
    return asArray(await this.run(script, [id])).map((hash) => decodeWritten(schema, hash, what));
  }

  /** Runs a Redis call, turning failures into coded errors. */
  private async command<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  private readonly onConnectionError = (err: unknown): void => {
    if (this.closing || this.connectionErrorLogged) return;
    this.connectionErrorLogged = true;
    this.logger?.warn({ err, purpose: 'directory' }, 'redis connection error; retrying');
  };

  private readonly onConnectionReady = (): void => {
    this.connectionErrorLogged = false;
  };

  /** Logs the first error of each outage (ioredis retries and emits one per attempt). */
  private watchConnection(): void {
    this.client.on('error', this.onConnectionError);
    this.client.on('ready', this.onConnectionReady);
  }

  /** A client passed in outlives the directory: leave no listener on it. */
  private unwatchConnection(): void {
    this.client.off('error', this.onConnectionError);
    this.client.off('ready', this.onConnectionReady);
  }
}

