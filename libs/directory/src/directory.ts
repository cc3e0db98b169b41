/**
 * The control plane's durable records (issue [3]): accounts (a company), their
 * users, meetings, zones (a location), nodes (a server in a zone) and the
 * modules assigned to each node. The dashboard is its only writer; Redis
 * holds it in production (AOF on), memory in the all-in-one mode and tests.
 *
 * Every record belongs to one account and every read that lists records is
 * scoped by account: nothing of one account is reachable from another except
 * by id, and the API checks the id's account before it answers.
 *
 * Errors are MeetedgeErrors: ALREADY_EXISTS for a duplicate (an id, an
 * e-mail address already used, a module id already assigned), NOT_FOUND for a
 * missing parent or record, CONFLICT for what the records' state forbids (a
 * node that already runs its 4 modules, a zone that still has nodes, an update
 * whose expected version is not the record's). Secrets are stored as given (a password hash, never a password)
 * and never logged by the store. Malformed input is refused before anything
 * is read: INVALID_ID for an id, INVALID_ARGUMENT for any other field. Lists
 * without a stated order are ordered by id. After `close()` every call
 * rejects with UNAVAILABLE, as it does while Redis cannot be reached.
 */
import type { AccountId, MeetingId, MeetingMode, ModuleId, NodeId, Quality, UserId, ZoneId } from '@meetedge/core';

/** Most modules one node may run (the seeds: up to 4 per server). */
export const MAX_MODULES_PER_NODE = 4;

export type Role = 'admin' | 'member';
export const ROLES: readonly Role[] = ['admin', 'member'];

export type ModuleKind = 'sfu' | 'zcp';
export const MODULE_KINDS: readonly ModuleKind[] = ['sfu', 'zcp'];

export interface Account {
  readonly id: AccountId;
  readonly name: string;
  /** Epoch ms. */
  readonly createdAt: number;
}

export interface User {
  readonly id: UserId;
  readonly accountId: AccountId;
  /** Lower-cased; unique across every account (users sign in with it). */
  readonly email: string;
  readonly displayName: string;
  readonly role: Role;
  /** A KDF string (e.g. `scrypt$…`), never a password. Never returned by the API. */
  readonly passwordHash: string;
  readonly createdAt: number;
}

export interface Meeting {
  readonly id: MeetingId;
  readonly accountId: AccountId;
  readonly topic: string;
  readonly mode: MeetingMode;
  readonly e2ee: boolean;
  readonly defaultQuality: Quality;
  /** Digits a guest must give to join a cloud-hybrid meeting; undefined: none. */
  readonly passcode: string | undefined;
  readonly hostId: UserId;
  /** Scheduled start, epoch ms; undefined for an instant meeting. */
  readonly startsAt: number | undefined;
  readonly durationMinutes: number;
  /** What an internal-only meeting does when its top module dies (issue [6]). */
  readonly onTopLoss: 'recover' | 'collapse';
  readonly createdAt: number;
  readonly updatedAt: number;
  /** 1 on creation, +1 per update: the optimistic-concurrency token. */
  readonly version: number;
}

export interface Zone {
  readonly id: ZoneId;
  readonly accountId: AccountId;
  readonly name: string;
  readonly createdAt: number;
}

export interface Node {
  readonly id: NodeId;
  readonly accountId: AccountId;
  readonly zoneId: ZoneId;
  readonly name: string;
  /** Where the node is reached (an IP address or host name), for operators. */
  readonly address: string;
  readonly createdAt: number;
}

export interface ModuleAssignment {
  readonly id: ModuleId;
  readonly accountId: AccountId;
  readonly nodeId: NodeId;
  readonly zoneId: ZoneId;
  readonly kind: ModuleKind;
  /**
   * Where it is reached: a ZCP's join API base URL (http/https), what clients
   * are given to ask for a module; a module's media-session URL (ws/wss).
   * Undefined while not known.
   */
  readonly url: string | undefined;
  readonly createdAt: number;
}

export type NewAccount = Pick<Account, 'id' | 'name'>;
export type NewUser = Pick<User, 'id' | 'accountId' | 'email' | 'displayName' | 'role' | 'passwordHash'>;
export type NewMeeting = Omit<Meeting, 'createdAt' | 'updatedAt' | 'version'>;
export type MeetingPatch = Partial<Pick<Meeting, 'topic' | 'mode' | 'e2ee' | 'defaultQuality' | 'passcode' | 'hostId' | 'startsAt' | 'durationMinutes' | 'onTopLoss'>>;
export type UserPatch = Partial<Pick<User, 'displayName' | 'role' | 'passwordHash'>>;
export type NewZone = Pick<Zone, 'id' | 'accountId' | 'name'>;
export type NewNode = Pick<Node, 'id' | 'accountId' | 'zoneId' | 'name' | 'address'>;
export type NewModuleAssignment = Pick<ModuleAssignment, 'id' | 'accountId' | 'nodeId' | 'kind'> & { readonly url?: string };

export interface Directory {
  // ── Accounts and users ───────────────────────────────────────────────
  /** ALREADY_EXISTS if the id exists. */
  createAccount(account: NewAccount): Promise<Account>;
  getAccount(id: AccountId): Promise<Account | undefined>;
  /** NOT_FOUND without the account; ALREADY_EXISTS if the id or the (lower-cased) e-mail exists. Atomic. */
  createUser(user: NewUser): Promise<User>;
  getUser(id: UserId): Promise<User | undefined>;
  /** By e-mail, case-insensitive. */
  getUserByEmail(email: string): Promise<User | undefined>;
  /** The account's users, ordered by e-mail. */
  listUsers(accountId: AccountId): Promise<User[]>;
  /** NOT_FOUND if missing. Fields given as undefined are left as they are. */
  updateUser(id: UserId, patch: UserPatch): Promise<User>;
  /** Frees the e-mail address. False if it did not exist. */
  deleteUser(id: UserId): Promise<boolean>;

  // ── Meetings ─────────────────────────────────────────────────────────
  /** NOT_FOUND without the account; ALREADY_EXISTS if the id exists. */
  createMeeting(meeting: NewMeeting): Promise<Meeting>;
  getMeeting(id: MeetingId): Promise<Meeting | undefined>;
  /** The account's meetings, ordered by start (`startsAt`, or `createdAt` for an instant one), then id. */
  listMeetings(accountId: AccountId): Promise<Meeting[]>;
  /**
   * Applies `patch` (`passcode: undefined` removes it, `startsAt: undefined`
   * makes the meeting instant; any other field given as undefined is left as
   * it is) and adds 1 to the version. NOT_FOUND if missing; CONFLICT if
   * `expectedVersion` is given and is not the record's. Atomic (compare and set).
   */
  updateMeeting(id: MeetingId, patch: MeetingPatch, expectedVersion?: number): Promise<Meeting>;
  deleteMeeting(id: MeetingId): Promise<boolean>;

  // ── Zones, nodes, modules ────────────────────────────────────────────
  /** NOT_FOUND without the account; ALREADY_EXISTS if the id exists. */
  createZone(zone: NewZone): Promise<Zone>;
  getZone(id: ZoneId): Promise<Zone | undefined>;
  listZones(accountId: AccountId): Promise<Zone[]>;
  /** CONFLICT while the zone has nodes. */
  deleteZone(id: ZoneId): Promise<boolean>;
  /** NOT_FOUND without the zone (of the same account); ALREADY_EXISTS if the id exists. */
  createNode(node: NewNode): Promise<Node>;
  getNode(id: NodeId): Promise<Node | undefined>;
  listNodes(zoneId: ZoneId): Promise<Node[]>;
  /** CONFLICT while the node has modules. */
  deleteNode(id: NodeId): Promise<boolean>;
  /**
   * NOT_FOUND without the node (of the same account); ALREADY_EXISTS if the
   * module id is assigned anywhere; CONFLICT when the node already runs
   * MAX_MODULES_PER_NODE modules.
   * Atomic: concurrent assignments never put a 5th module on a node.
   */
  assignModule(module: NewModuleAssignment): Promise<ModuleAssignment>;
  getModule(id: ModuleId): Promise<ModuleAssignment | undefined>;
  listModules(nodeId: NodeId): Promise<ModuleAssignment[]>;
  /** Every module of a zone (what a zone's ZCPs and modules are). */
  listZoneModules(zoneId: ZoneId): Promise<ModuleAssignment[]>;
  removeModule(id: ModuleId): Promise<boolean>;

  // ── Rate limiting ────────────────────────────────────────────────────
  /**
   * Counts one attempt under `key` in a fixed window of `windowMs` (started by
   * the first attempt) and returns the count including this one and the ms
   * until the window ends. The window is [first attempt, first attempt +
   * windowMs): a later call's `windowMs` does not change a running window, and
   * the first attempt after it ends starts a new one at 1. Shared by every
   * dashboard process; atomic.
   */
  countAttempt(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;

  /** Resolves when the store answers (a health check); UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  /** Idempotent. Closes what the store opened. */
  close(): Promise<void>;
}
