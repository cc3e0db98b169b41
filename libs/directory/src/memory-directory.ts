/**
 * `Directory` in process memory, for the all-in-one mode and tests. Every
 * method checks its input, then reads and writes synchronously with no await
 * in between, so each is atomic by construction on Node's single thread, as
 * each Redis write is one Lua script. Records are kept frozen and handed out
 * as copies: a caller can never change what the store holds. Semantics match
 * `RedisDirectory`; the contract suite (`@meetedge/directory/testing`) holds
 * both to it.
 */
import type { AccountId, MeetingId, ModuleId, NodeId, UserId, ZoneId } from '@meetedge/core';
import {
  MAX_MODULES_PER_NODE,
  type Account,
  type Directory,
  type Meeting,
  type MeetingPatch,
  type ModuleAssignment,
  type NewAccount,
  type NewMeeting,
  type NewModuleAssignment,
  type NewNode,
  type NewUser,
  type NewZone,
  type Node,
  type User,
  type UserPatch,
  type Zone,
} from './directory';
import { failures } from './failures';
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

export interface MemoryDirectoryOptions {
  /**
   * The store clock, ms since the epoch: `createdAt`, `updatedAt` and
   * attempt windows. Default `Date.now`; tests pass a manual clock.
   */
  readonly now?: () => number;
}

interface AttemptWindow {
  count: number;
  /** When the window ends (store clock, ms); the window is [start, endsAt). */
  readonly endsAt: number;
}

/** Attempt windows kept before expired ones are dropped; grows with the live ones. */
const ATTEMPT_SWEEP_FLOOR = 1024;

const byId = (a: { id: string }, b: { id: string }): number => compareStrings(a.id, b.id);
/** Where a meeting sorts: its start, or its creation for an instant meeting. */
const meetingStart = (m: Meeting): number => m.startsAt ?? m.createdAt;

export class MemoryDirectory implements Directory {
  private readonly now: () => number;
  private readonly accounts = new Map<AccountId, Account>();
  private readonly users = new Map<UserId, User>();
  /** Lower-cased e-mail → user: the uniqueness index. */
  private readonly userIdsByEmail = new Map<string, UserId>();
  private readonly meetings = new Map<MeetingId, Meeting>();
  private readonly zones = new Map<ZoneId, Zone>();
  private readonly nodes = new Map<NodeId, Node>();
  private readonly modules = new Map<ModuleId, ModuleAssignment>();
  private readonly attempts = new Map<string, AttemptWindow>();
  private nextAttemptSweepAt = ATTEMPT_SWEEP_FLOOR;
  private closed = false;

  constructor(options: MemoryDirectoryOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  // ── Accounts and users ───────────────────────────────────────────────

  async createAccount(account: NewAccount): Promise<Account> {
    this.assertOpen();
    const a = checkNewAccount(account);
    if (this.accounts.has(a.id)) throw failures.idTaken('account', a.id);
    return copy(store(this.accounts, a.id, { id: a.id, name: a.name, createdAt: this.now() }));
  }

  async getAccount(id: AccountId): Promise<Account | undefined> {
    this.assertOpen();
    return copyOf(this.accounts.get(checkAccountId(id)));
  }

  async createUser(user: NewUser): Promise<User> {
    this.assertOpen();
    const u = checkNewUser(user);
    if (!this.accounts.has(u.accountId)) throw failures.parentNotFound('account', u.accountId, u.accountId);
    if (this.users.has(u.id)) throw failures.idTaken('user', u.id);
    if (this.userIdsByEmail.has(u.email)) throw failures.emailTaken();
    this.userIdsByEmail.set(u.email, u.id);
    return copy(
      store(this.users, u.id, {
        id: u.id,
        accountId: u.accountId,
        email: u.email,
        displayName: u.displayName,
        role: u.role,
        passwordHash: u.passwordHash,
        createdAt: this.now(),
      }),
    );
  }

  async getUser(id: UserId): Promise<User | undefined> {
    this.assertOpen();
    return copyOf(this.users.get(checkUserId(id)));
  }

  async getUserByEmail(email: string): Promise<User | undefined> {
    this.assertOpen();
    const key = lookupEmail(email);
    const id = key === undefined ? undefined : this.userIdsByEmail.get(key);
    return id === undefined ? undefined : copyOf(this.users.get(id));
  }

  async listUsers(accountId: AccountId): Promise<User[]> {
    this.assertOpen();
    const account = checkAccountId(accountId);
    return [...this.users.values()]
      .filter((u) => u.accountId === account)
      .sort((a, b) => compareStrings(a.email, b.email))
      .map(copy);
  }

  async updateUser(id: UserId, patch: UserPatch): Promise<User> {
    this.assertOpen();
    const userId = checkUserId(id);
    const changes = checkUserPatch(patch);
    const current = this.users.get(userId);
    if (!current) throw failures.notFound('user', userId);
    return copy(store(this.users, userId, { ...current, ...changes }));
  }

  async deleteUser(id: UserId): Promise<boolean> {
    this.assertOpen();
    const userId = checkUserId(id);
    const current = this.users.get(userId);
    if (!current) return false;
    this.users.delete(userId);
    this.userIdsByEmail.delete(current.email);
    return true;
  }

  // ── Meetings ─────────────────────────────────────────────────────────

  async createMeeting(meeting: NewMeeting): Promise<Meeting> {
    this.assertOpen();
    const m = checkNewMeeting(meeting);
    if (!this.accounts.has(m.accountId)) throw failures.parentNotFound('account', m.accountId, m.accountId);
    if (this.meetings.has(m.id)) throw failures.idTaken('meeting', m.id);
    const now = this.now();
    return copy(store(this.meetings, m.id, { ...m, createdAt: now, updatedAt: now, version: 1 }));
  }

  async getMeeting(id: MeetingId): Promise<Meeting | undefined> {
    this.assertOpen();
    return copyOf(this.meetings.get(checkMeetingId(id)));
  }

  async listMeetings(accountId: AccountId): Promise<Meeting[]> {
    this.assertOpen();
    const account = checkAccountId(accountId);
    return [...this.meetings.values()]
      .filter((m) => m.accountId === account)
      .sort((a, b) => meetingStart(a) - meetingStart(b) || byId(a, b))
      .map(copy);
  }

  async updateMeeting(id: MeetingId, patch: MeetingPatch, expectedVersion?: number): Promise<Meeting> {
    this.assertOpen();
    const meetingId = checkMeetingId(id);
    const { set, unset } = checkMeetingPatch(patch);
    const expected = checkExpectedVersion(expectedVersion);
    const current = this.meetings.get(meetingId);
    if (!current) throw failures.notFound('meeting', meetingId);
    if (expected !== undefined && expected !== current.version) {
      throw failures.versionMismatch(meetingId, expected, current.version);
    }
    const next: { -readonly [K in keyof Meeting]: Meeting[K] } = {
      ...current,
      ...set,
      updatedAt: this.now(),
      version: current.version + 1,
    };
    for (const field of unset) next[field] = undefined;
    return copy(store(this.meetings, meetingId, next));
  }

  async deleteMeeting(id: MeetingId): Promise<boolean> {
    this.assertOpen();
    return this.meetings.delete(checkMeetingId(id));
  }

  // ── Zones, nodes, modules ────────────────────────────────────────────

  async createZone(zone: NewZone): Promise<Zone> {
    this.assertOpen();
    const z = checkNewZone(zone);
    if (!this.accounts.has(z.accountId)) throw failures.parentNotFound('account', z.accountId, z.accountId);
    if (this.zones.has(z.id)) throw failures.idTaken('zone', z.id);
    return copy(store(this.zones, z.id, { id: z.id, accountId: z.accountId, name: z.name, createdAt: this.now() }));
  }

  async getZone(id: ZoneId): Promise<Zone | undefined> {
    this.assertOpen();
    return copyOf(this.zones.get(checkZoneId(id)));
  }

  async listZones(accountId: AccountId): Promise<Zone[]> {
    this.assertOpen();
    const account = checkAccountId(accountId);
    return [...this.zones.values()].filter((z) => z.accountId === account).sort(byId).map(copy);
  }

  async deleteZone(id: ZoneId): Promise<boolean> {
    this.assertOpen();
    const zoneId = checkZoneId(id);
    if (!this.zones.has(zoneId)) return false;
    if ([...this.nodes.values()].some((n) => n.zoneId === zoneId)) throw failures.zoneHasNodes(zoneId);
    return this.zones.delete(zoneId);
  }

  async createNode(node: NewNode): Promise<Node> {
    this.assertOpen();
    const n = checkNewNode(node);
    if (this.zones.get(n.zoneId)?.accountId !== n.accountId) throw failures.parentNotFound('zone', n.zoneId, n.accountId);
    if (this.nodes.has(n.id)) throw failures.idTaken('node', n.id);
    return copy(
      store(this.nodes, n.id, {
        id: n.id,
        accountId: n.accountId,
        zoneId: n.zoneId,
        name: n.name,
        address: n.address,
        createdAt: this.now(),
      }),
    );
  }

  async getNode(id: NodeId): Promise<Node | undefined> {
    this.assertOpen();
    return copyOf(this.nodes.get(checkNodeId(id)));
  }

  async listNodes(zoneId: ZoneId): Promise<Node[]> {
    this.assertOpen();
    const zone = checkZoneId(zoneId);
    return [...this.nodes.values()].filter((n) => n.zoneId === zone).sort(byId).map(copy);
  }

  async deleteNode(id: NodeId): Promise<boolean> {
    this.assertOpen();
    const nodeId = checkNodeId(id);
    if (!this.nodes.has(nodeId)) return false;
    if ([...this.modules.values()].some((m) => m.nodeId === nodeId)) throw failures.nodeHasModules(nodeId);
    return this.nodes.delete(nodeId);
  }

  async assignModule(module: NewModuleAssignment): Promise<ModuleAssignment> {
    this.assertOpen();
    const m = checkNewModule(module);
    const node = this.nodes.get(m.nodeId);
    if (!node || node.accountId !== m.accountId) throw failures.parentNotFound('node', m.nodeId, m.accountId);
    if (this.modules.has(m.id)) throw failures.idTaken('module', m.id);
    const running = [...this.modules.values()].filter((x) => x.nodeId === node.id).length;
    if (running >= MAX_MODULES_PER_NODE) throw failures.nodeFull(node.id);
    return copy(
      store(this.modules, m.id, {
        id: m.id,
        accountId: m.accountId,
        nodeId: node.id,
        zoneId: node.zoneId,
        kind: m.kind,
        url: m.url,
        createdAt: this.now(),
      }),
    );
  }

  async getModule(id: ModuleId): Promise<ModuleAssignment | undefined> {
    this.assertOpen();
    return copyOf(this.modules.get(checkModuleId(id)));
  }

  async listModules(nodeId: NodeId): Promise<ModuleAssignment[]> {
    this.assertOpen();
    const node = checkNodeId(nodeId);
    return [...this.modules.values()].filter((m) => m.nodeId === node).sort(byId).map(copy);
  }

  async listZoneModules(zoneId: ZoneId): Promise<ModuleAssignment[]> {
    this.assertOpen();
    const zone = checkZoneId(zoneId);
    return [...this.modules.values()].filter((m) => m.zoneId === zone).sort(byId).map(copy);
  }

  async removeModule(id: ModuleId): Promise<boolean> {
    this.assertOpen();
    return this.modules.delete(checkModuleId(id));
  }

  // ── Rate limiting ────────────────────────────────────────────────────

  async countAttempt(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    this.assertOpen();
    const attempt = checkAttempt(key, windowMs);
    const now = this.now();
    let window = this.attempts.get(attempt.key);
    if (!window || window.endsAt <= now) {
      this.sweepAttempts(now);
      window = { count: 0, endsAt: now + attempt.windowMs };
      this.attempts.set(attempt.key, window);
    }
    window.count += 1;
    return { count: window.count, resetInMs: window.endsAt - now };
  }

  // ── Lifecycle ────────────────────────────────────────────────────────

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw failures.closed();
  }

  /** Drops ended windows once there are many, so a flood of distinct keys cannot grow the map forever. */
  private sweepAttempts(now: number): void {
    if (this.attempts.size < this.nextAttemptSweepAt) return;
    for (const [key, window] of this.attempts) if (window.endsAt <= now) this.attempts.delete(key);
    this.nextAttemptSweepAt = Math.max(ATTEMPT_SWEEP_FLOOR, this.attempts.size * 2);
  }
}

/** Keeps a frozen record under `id` and returns it. */
function store<K, V extends object>(map: Map<K, V>, id: K, record: V): V {
  const frozen = Object.freeze(record);
  map.set(id, frozen);
  return frozen;
}

/** A caller's own copy of a stored record (records are flat: a shallow copy is a full one). */
function copy<V extends object>(record: V): V {
  return { ...record };
}

function copyOf<V extends object>(record: V | undefined): V | undefined {
  return record && copy(record);
}

