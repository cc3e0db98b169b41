/**
 * The control plane's rules, apart from HTTP (the routes in api/ are thin):
 * sign-in with rate limits, access tokens, accounts and their users, meetings.
 * Every method that acts for someone takes the verified claims of their token
 * and checks them against the record's account first: a record of another
 * account is NOT_FOUND (its existence is not revealed), a member doing an
 * admin's job is FORBIDDEN.
 */
import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import {
  AccountId,
  MeetedgeError,
  MeetingId,
  ModuleId,
  NodeId,
  UserId,
  ZoneId,
  signAccessToken,
  type AccessClaims,
  type GuestClaims,
  type Id,
  type MeetingMode,
  type MemberClaims,
  type Quality,
} from '@meetedge/core';
import type { Account, Directory, Meeting, MeetingPatch, ModuleAssignment, ModuleKind, Node, Role, User, Zone } from '@meetedge/directory';
import { SCRYPT_PARAMS, hashPassword, verifyPassword } from './auth/passwords';

export interface ControlPlaneOptions {
  directory: Directory;
  /** Ed25519 key that signs access tokens; its public half is what ZCPs and modules verify with. */
  tokenPrivateKey: KeyObject;
  tokenTtlSeconds: number;
  /** `open`: anyone may create an account (with its first admin); `closed`: only the operator (seeding). */
  signup: 'open' | 'closed';
  /** Sign-in attempts allowed per e-mail address per 15 minutes, and per client address per minute. */
  signInLimits: { perUser: number; perAddress: number };
  /** scrypt cost (tests use a cheap one). */
  passwordParams?: { N: number; r: number; p: number };
  /** The control plane's URL as clients reach it (its meeting server's WebSocket hangs off it). */
  publicUrl: string;
  /** The cloud MMR's media-session URL: where cloud-hybrid participants go when no zone takes them. */
  cloudMmrUrl: string;
  now?: () => number;
}

/** What a client needs to join a meeting (POST /v1/meetings/:id/join). */
export interface JoinInfo {
  meetingId: MeetingId;
  topic: string;
  mode: MeetingMode;
  e2ee: boolean;
  defaultQuality: Quality;
  /** Cloud-hybrid: the cloud meeting server's WebSocket (roster, chat, host actions). Internal-only: none (signaling stays on the modules). */
  signalingUrl?: string;
  /** Cloud-hybrid: the cloud MMR, the last resort for media. */
  cloudMmrUrl?: string;
  /** Zones this participant may use, each with the URLs of its ZCPs; none for guests. */
  zones: { id: ZoneId; name: string; zcpUrls: string[] }[];
  /** A guest's token, good for this meeting only. */
  accessToken?: string;
  expiresAt?: number;
}

/** A user as the API shows it: never the password hash. */
export type PublicUser = Omit<User, 'passwordHash'>;

export function publicUser(user: User): PublicUser {
  const { passwordHash: _hidden, ...rest } = user;
  return rest;
}

export interface SignedIn {
  accessToken: string;
  expiresAt: number;
  user: PublicUser;
}

export interface MeetingInput {
  topic: string;
  mode: MeetingMode;
  e2ee?: boolean;
  defaultQuality?: Quality;
  passcode?: string;
  hostId?: string;
  startsAt?: number;
  durationMinutes?: number;
  onTopLoss?: 'recover' | 'collapse';
}

const SIGN_IN_USER_WINDOW_MS = 15 * 60_000;
/** Guest passcode attempts allowed per meeting and client address per minute. */
const GUEST_ATTEMPTS_PER_MINUTE = 10;
const SIGN_IN_ADDRESS_WINDOW_MS = 60_000;
/** Same answer for an unknown e-mail and a wrong password: sign-in does not reveal who has an account. */
const BAD_CREDENTIALS = 'wrong e-mail address or password';

/** A new random id with a readable prefix, e.g. `u-3fj…`. */
function newId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}`;
}

export class ControlPlane {
  private readonly directory: Directory;
  private readonly now: () => number;
  private readonly passwordParams: { N: number; r: number; p: number };
  /** A hash to verify against when the e-mail is unknown, so both cases take as long. */
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly options: ControlPlaneOptions) {
    this.directory = options.directory;
    this.now = options.now ?? Date.now;
    this.passwordParams = options.passwordParams ?? SCRYPT_PARAMS;
  }

  // ── Sign-in and tokens ───────────────────────────────────────────────

  async signIn(email: string, password: string, clientAddress: string): Promise<SignedIn> {
    const normalized = email.trim().toLowerCase();
    const limits = this.options.signInLimits;
    // Both limits count every attempt, so a guesser cannot probe one address from many
    // places (per user) nor many users from one place (per address).
    const byAddress = await this.directory.countAttempt(`signin:addr:${clientAddress}`, SIGN_IN_ADDRESS_WINDOW_MS);
    const byUser = await this.directory.countAttempt(`signin:user:${normalized}`, SIGN_IN_USER_WINDOW_MS);
    const limited = [byAddress.count > limits.perAddress ? byAddress : undefined, byUser.count > limits.perUser ? byUser : undefined].filter(
      (x): x is { count: number; resetInMs: number } => x !== undefined,
    );
    if (limited.length > 0) {
      const retryAfterS = Math.ceil(Math.max(...limited.map((l) => l.resetInMs)) / 1000);
      throw new MeetedgeError('RATE_LIMITED', `too many sign-in attempts; try again in ${retryAfterS} s`, { retryAfterSeconds: retryAfterS });
    }
    const user = await this.directory.getUserByEmail(normalized);
    this.dummyHash ??= hashPassword(randomUUID(), this.passwordParams);
    const valid = await verifyPassword(password, user?.passwordHash ?? (await this.dummyHash));
    if (!user || !valid) throw new MeetedgeError('UNAUTHENTICATED', BAD_CREDENTIALS);
    return this.issue(user);
  }

  private issue(user: User): SignedIn {
    const issuedAt = Math.floor(this.now() / 1000);
    const claims: AccessClaims = {
      kind: 'member',
      tokenId: randomUUID(),
      userId: user.id,
      accountId: user.accountId,
      role: user.role,
      displayName: user.displayName,
      issuedAt,
      expiresAt: issuedAt + this.options.tokenTtlSeconds,
    };
    return { accessToken: signAccessToken(claims, this.options.tokenPrivateKey), expiresAt: claims.expiresAt * 1000, user: publicUser(user) };
  }

  // ── Accounts and users ───────────────────────────────────────────────

  /**
   * A new account with its first admin, signed in. Refused when sign-up is
   * closed, unless `asOperator` (the operator's seeding, never a request).
   */
  async createAccount(
    input: { name: string; admin: { email: string; displayName: string; password: string } },
    asOperator = false,
  ): Promise<{ account: Account } & SignedIn> {
    if (this.options.signup !== 'open' && !asOperator) {
      throw new MeetedgeError('FORBIDDEN', 'sign-up is closed on this control plane; ask its operator for an account');
    }
    const account = await this.directory.createAccount({ id: AccountId(newId('a')), name: input.name });
    const admin = await this.newUser(account.id, { ...input.admin, role: 'admin' });
    return { account, ...this.issue(admin) };
  }

  async account(claims: MemberClaims): Promise<Account> {
    const account = await this.directory.getAccount(claims.accountId);
    if (!account) throw new MeetedgeError('NOT_FOUND', 'your account no longer exists');
    return account;
  }

  private async newUser(accountId: AccountId, input: { email: string; displayName: string; password: string; role: Role }): Promise<User> {
    return this.directory.createUser({
      id: UserId(newId('u')),
      accountId,
      email: input.email.trim().toLowerCase(),
      displayName: input.displayName,
      role: input.role,
      passwordHash: await hashPassword(input.password, this.passwordParams),
    });
  }

  async addUser(claims: MemberClaims, input: { email: string; displayName: string; password: string; role: Role }): Promise<PublicUser> {
    requireAdmin(claims, 'add users');
    return publicUser(await this.newUser(claims.accountId, input));
  }

  async listUsers(claims: MemberClaims): Promise<PublicUser[]> {
    return (await this.directory.listUsers(claims.accountId)).map(publicUser);
  }

  async user(claims: MemberClaims, id: string): Promise<PublicUser> {
    return publicUser(await this.userOfAccount(claims, id));
  }

  /** Admins change anyone's name and role; a member changes their own name and password. */
  async updateUser(claims: MemberClaims, id: string, patch: { displayName?: string; role?: Role; password?: string }): Promise<PublicUser> {
    const user = await this.userOfAccount(claims, id);
    const self = user.id === claims.userId;
    if (!self) requireAdmin(claims, "change another user's details");
    if (patch.role !== undefined) {
      requireAdmin(claims, 'change roles');
      if (self && patch.role !== 'admin') await this.keepAnAdmin(claims.accountId, user.id);
    }
    if (patch.password !== undefined && !self) throw new MeetedgeError('FORBIDDEN', "only its owner sets a user's password");
    const updated = await this.directory.updateUser(user.id, {
      ...(patch.displayName !== undefined ? { displayName: patch.displayName } : {}),
      ...(patch.role !== undefined ? { role: patch.role } : {}),
      ...(patch.password !== undefined ? { passwordHash: await hashPassword(patch.password, this.passwordParams) } : {}),
    });
    return publicUser(updated);
  }

  async deleteUser(claims: MemberClaims, id: string): Promise<void> {
    requireAdmin(claims, 'remove users');
    const user = await this.userOfAccount(claims, id);
    if (user.role === 'admin') await this.keepAnAdmin(claims.accountId, user.id);
    await this.directory.deleteUser(user.id);
  }

  /** An account never loses its last admin. */
  private async keepAnAdmin(accountId: AccountId, leaving: UserId): Promise<void> {
    const admins = (await this.directory.listUsers(accountId)).filter((u) => u.role === 'admin' && u.id !== leaving);
    if (admins.length === 0) throw new MeetedgeError('CONFLICT', 'an account keeps at least one admin');
  }

  private async userOfAccount(claims: MemberClaims, id: string): Promise<User> {
    const user = await this.directory.getUser(UserId(id));
    if (!user || user.accountId !== claims.accountId) throw new MeetedgeError('NOT_FOUND', `no user ${id} in your account`);
    return user;
  }

  // ── Meetings ─────────────────────────────────────────────────────────

  async scheduleMeeting(claims: MemberClaims, input: MeetingInput): Promise<Meeting> {
    const hostId = input.hostId !== undefined ? (await this.userOfAccount(claims, input.hostId)).id : claims.userId;
    return this.directory.createMeeting({
      id: MeetingId(newId('m')),
      accountId: claims.accountId,
      topic: input.topic,
      mode: input.mode,
      e2ee: input.e2ee ?? false,
      defaultQuality: input.defaultQuality ?? 'SD',
      passcode: input.passcode,
      hostId,
      startsAt: input.startsAt,
      durationMinutes: input.durationMinutes ?? 60,
      onTopLoss: input.onTopLoss ?? 'recover',
    });
  }

  async listMeetings(claims: MemberClaims): Promise<Meeting[]> {
    return this.directory.listMeetings(claims.accountId);
  }

  async meeting(claims: MemberClaims, id: string): Promise<Meeting> {
    const meeting = await this.directory.getMeeting(MeetingId(id));
    if (!meeting || meeting.accountId !== claims.accountId) throw new MeetedgeError('NOT_FOUND', `no meeting ${id} in your account`);
    return meeting;
  }

  /** The host or an admin edits; `expectedVersion` guards against overwriting someone else's edit. */
  async updateMeeting(
    claims: MemberClaims,
    id: string,
    input: Partial<Omit<MeetingInput, 'passcode'>> & { passcode?: string | null },
    expectedVersion?: number,
  ): Promise<Meeting> {
    const meeting = await this.meeting(claims, id);
    requireHostOrAdmin(claims, meeting, 'edit');
    const patch: { -readonly [K in keyof MeetingPatch]: MeetingPatch[K] } = {};
    if (input.topic !== undefined) patch.topic = input.topic;
    if (input.mode !== undefined) patch.mode = input.mode;
    if (input.e2ee !== undefined) patch.e2ee = input.e2ee;
    if (input.defaultQuality !== undefined) patch.defaultQuality = input.defaultQuality;
    if (input.passcode !== undefined) patch.passcode = input.passcode ?? undefined;
    if (input.hostId !== undefined) patch.hostId = (await this.userOfAccount(claims, input.hostId)).id;
    if (input.startsAt !== undefined) patch.startsAt = input.startsAt;
    if (input.durationMinutes !== undefined) patch.durationMinutes = input.durationMinutes;
    if (input.onTopLoss !== undefined) patch.onTopLoss = input.onTopLoss;
    return this.directory.updateMeeting(meeting.id, patch, expectedVersion);
  }

  async deleteMeeting(claims: MemberClaims, id: string): Promise<void> {
    const meeting = await this.meeting(claims, id);
    requireHostOrAdmin(claims, meeting, 'delete');
    await this.directory.deleteMeeting(meeting.id);
  }

  // ── Zones, nodes, modules ────────────────────────────────────────────

  /**
   * A new zone. `id` (optional, e.g. "hq") is what the zone's ZCPs and modules
   * are configured with (MEETEDGE_ZONE_ID); without it one is made up.
   */
  async createZone(claims: MemberClaims, input: { name: string; id?: string }): Promise<Zone> {
    requireAdmin(claims, 'add zones');
    return this.directory.createZone({ id: ZoneId(input.id ?? newId('z')), accountId: claims.accountId, name: input.name });
  }

  async listZones(claims: MemberClaims): Promise<Zone[]> {
    return this.directory.listZones(claims.accountId);
  }

  async zone(claims: MemberClaims, id: string): Promise<Zone> {
    const zone = await this.directory.getZone(ZoneId(id));
    if (!zone || zone.accountId !== claims.accountId) throw new MeetedgeError('NOT_FOUND', `no zone ${id} in your account`);
    return zone;
  }

  async deleteZone(claims: MemberClaims, id: string): Promise<void> {
    requireAdmin(claims, 'remove zones');
    await this.directory.deleteZone((await this.zone(claims, id)).id);
  }

  async createNode(claims: MemberClaims, zoneId: string, input: { name: string; address: string }): Promise<Node> {
    requireAdmin(claims, 'add nodes');
    const zone = await this.zone(claims, zoneId);
    return this.directory.createNode({ id: NodeId(newId('n')), accountId: claims.accountId, zoneId: zone.id, name: input.name, address: input.address });
  }

  async listNodes(claims: MemberClaims, zoneId: string): Promise<Node[]> {
    return this.directory.listNodes((await this.zone(claims, zoneId)).id);
  }

  async node(claims: MemberClaims, id: string): Promise<Node> {
    const node = await this.directory.getNode(NodeId(id));
    if (!node || node.accountId !== claims.accountId) throw new MeetedgeError('NOT_FOUND', `no node ${id} in your account`);
    return node;
  }

  async deleteNode(claims: MemberClaims, id: string): Promise<void> {
    requireAdmin(claims, 'remove nodes');
    await this.directory.deleteNode((await this.node(claims, id)).id);
  }

  /** A module on a node: at most 4 per node (the directory refuses a 5th atomically). Its id is the module's MEETEDGE_MODULE_ID / MEETEDGE_ZCP_ID. */
  async assignModule(claims: MemberClaims, nodeId: string, input: { id: string; kind: ModuleKind; url?: string }): Promise<ModuleAssignment> {
    requireAdmin(claims, 'assign modules');
    const node = await this.node(claims, nodeId);
    return this.directory.assignModule({ id: ModuleId(input.id), accountId: claims.accountId, nodeId: node.id, kind: input.kind, ...(input.url ? { url: input.url } : {}) });
  }

  async listModules(claims: MemberClaims, nodeId: string): Promise<ModuleAssignment[]> {
    return this.directory.listModules((await this.node(claims, nodeId)).id);
  }

  async removeModule(claims: MemberClaims, id: string): Promise<void> {
    requireAdmin(claims, 'remove modules');
    const module = await this.directory.getModule(ModuleId(id));
    if (!module || module.accountId !== claims.accountId) throw new MeetedgeError('NOT_FOUND', `no module ${id} in your account`);
    await this.directory.removeModule(module.id);
  }

  // ── Joining ──────────────────────────────────────────────────────────

  /**
   * A member of the meeting's account asks to join: the meeting's mode and
   * flags, the cloud side for a cloud-hybrid meeting, and the account's zones
   * with their ZCPs (where the client asks for a module).
   */
  async join(claims: MemberClaims, id: string): Promise<JoinInfo> {
    const meeting = await this.meeting(claims, id);
    return { ...this.joinBase(meeting), zones: await this.zonesOf(claims.accountId) };
  }

  /**
   * Someone outside the account joins a cloud-hybrid meeting with its
   * passcode and a name: a guest token for this meeting, the cloud MMR and
   * the cloud meeting server, no zones. Internal-only meetings refuse guests.
   */
  async guestJoin(id: string, input: { displayName: string; passcode?: string }, clientAddress: string): Promise<JoinInfo> {
    const attempts = await this.directory.countAttempt(`guest:${id}:${clientAddress}`, 60_000);
    if (attempts.count > GUEST_ATTEMPTS_PER_MINUTE) {
      const retryAfterS = Math.ceil(attempts.resetInMs / 1000);
      throw new MeetedgeError('RATE_LIMITED', `too many attempts to join this meeting; try again in ${retryAfterS} s`, { retryAfterSeconds: retryAfterS });
    }
    const meeting = await this.directory.getMeeting(MeetingId(id));
    if (!meeting) throw new MeetedgeError('NOT_FOUND', `no meeting ${id}`);
    if (meeting.mode === 'internal-only') {
      throw new MeetedgeError('FORBIDDEN', 'this meeting is internal-only: sign in with an account of its organization to join');
    }
    if (meeting.passcode !== undefined && input.passcode !== meeting.passcode) {
      throw new MeetedgeError('UNAUTHENTICATED', input.passcode === undefined ? 'this meeting needs a passcode' : 'wrong passcode');
    }
    const issuedAt = Math.floor(this.now() / 1000);
    const claims: GuestClaims & AccessClaims = {
      kind: 'guest',
      tokenId: randomUUID(),
      guestId: newId('g') as Id<'GuestId'>,
      meetingId: meeting.id,
      accountId: meeting.accountId,
      displayName: input.displayName,
      issuedAt,
      expiresAt: issuedAt + this.options.tokenTtlSeconds,
    };
    return {
      ...this.joinBase(meeting),
      zones: [],
      accessToken: signAccessToken(claims, this.options.tokenPrivateKey),
      expiresAt: claims.expiresAt * 1000,
    };
  }

  private joinBase(meeting: Meeting): Omit<JoinInfo, 'zones'> {
    const base = { meetingId: meeting.id, topic: meeting.topic, mode: meeting.mode, e2ee: meeting.e2ee, defaultQuality: meeting.defaultQuality };
    if (meeting.mode === 'internal-only') return base;
    const signaling = new URL(`/v1/meetings/${meeting.id}/signal`, this.options.publicUrl);
    signaling.protocol = signaling.protocol === 'https:' ? 'wss:' : 'ws:';
    return { ...base, signalingUrl: signaling.toString(), cloudMmrUrl: this.options.cloudMmrUrl };
  }

  /** The account's zones that have at least one ZCP with a URL. */
  private async zonesOf(accountId: AccountId): Promise<JoinInfo['zones']> {
    const zones = await this.directory.listZones(accountId);
    const out: JoinInfo['zones'] = [];
    for (const zone of zones) {
      const zcpUrls = (await this.directory.listZoneModules(zone.id)).filter((m) => m.kind === 'zcp' && m.url !== undefined).map((m) => m.url as string);
      if (zcpUrls.length > 0) out.push({ id: zone.id, name: zone.name, zcpUrls });
    }
    return out;
  }
}

function requireAdmin(claims: MemberClaims, what: string): void {
  if (claims.role !== 'admin') throw new MeetedgeError('FORBIDDEN', `only an admin of the account may ${what}`);
}

function requireHostOrAdmin(claims: MemberClaims, meeting: Meeting, what: string): void {
  if (claims.role !== 'admin' && meeting.hostId !== claims.userId) {
    throw new MeetedgeError('FORBIDDEN', `only the meeting's host or an admin may ${what} it`);
  }
}
