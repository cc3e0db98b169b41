/**
 * Input checks shared by both `Directory` implementations, so both refuse
 * exactly the same inputs with the same codes (INVALID_ID for id syntax,
 * INVALID_ARGUMENT for everything else). The API's schemas are the strict
 * door; these are the store's backstop, loose enough never to refuse what the
 * API accepts and tight enough that every value round-trips through Redis.
 *
 * Each check returns a fresh, normalized value (e-mail lower-cased, unknown
 * fields dropped), so a store keeps no reference to its caller's objects.
 * Messages never include free text or secrets (names, password hashes),
 * only field names and enum values.
 */
import {
  AccountId,
  MEETING_MODES,
  MeetedgeError,
  MeetingId,
  ModuleId,
  NodeId,
  QUALITIES,
  UserId,
  ZoneId,
  type MeetingMode,
  type Quality,
} from '@meetedge/core';
import {
  MODULE_KINDS,
  ROLES,
  type Meeting,
  type ModuleKind,
  type NewAccount,
  type NewMeeting,
  type NewModuleAssignment,
  type NewNode,
  type NewUser,
  type NewZone,
  type Role,
  type User,
} from './directory';

/** Longest name, topic or display name the store keeps (the API allows far less). */
export const MAX_TEXT_LENGTH = 1024;
/** Longest e-mail address (RFC 5321's path limit). */
export const MAX_EMAIL_LENGTH = 254;
/** Longest password hash (a KDF string is about 100 characters). */
export const MAX_PASSWORD_HASH_LENGTH = 1024;
/** Longest host name or address of a node. */
export const MAX_ADDRESS_LENGTH = 253;
/** Longest `countAttempt` key (keys embed an e-mail address or a client address). */
export const MAX_ATTEMPT_KEY_LENGTH = 512;
/** Longest attempt window, ms (2^31 - 1, about 24.8 days, the `setTimeout` limit). */
export const MAX_WINDOW_MS = 2_147_483_647;

export const ON_TOP_LOSS: readonly Meeting['onTopLoss'][] = ['recover', 'collapse'];

/** One e-mail address: something@something, no spaces. Shape only; the API checks the format. */
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;
const PASSCODE_PATTERN = /^[0-9]{1,32}$/;
const ADDRESS_PATTERN = /^\S+$/;

/** The fields of a meeting an update may change; the others are set by the store. */
type MeetingFields = Pick<Meeting, 'topic' | 'mode' | 'e2ee' | 'defaultQuality' | 'passcode' | 'hostId' | 'startsAt' | 'durationMinutes' | 'onTopLoss'>;

/** Fields of a meeting that may be absent; `undefined` in a patch removes them. */
export const CLEARABLE_MEETING_FIELDS = ['passcode', 'startsAt'] as const;
export type ClearableMeetingField = (typeof CLEARABLE_MEETING_FIELDS)[number];

/** A meeting patch, checked: values to set and fields to remove. */
export interface CheckedMeetingPatch {
  readonly set: Partial<MeetingFields>;
  readonly unset: readonly ClearableMeetingField[];
}

function invalid(field: string, message: string): MeetedgeError {
  return new MeetedgeError('INVALID_ARGUMENT', `${field} ${message}`, { field });
}

function checkObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, 'must be an object');
  return value as Record<string, unknown>;
}

function checkText(value: unknown, field: string, max = MAX_TEXT_LENGTH): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw invalid(field, `must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

function checkEnum<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (!allowed.includes(value as T)) {
    throw invalid(field, `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  return value as T;
}

function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(field, 'must be a boolean');
  return value;
}

export function checkPositiveInteger(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > max) {
    throw invalid(field, `must be a positive integer up to ${max}`);
  }
  return value;
}

/** Epoch ms: an integer >= 0 (exact in a double, so exact in Redis and Lua too). */
function checkEpochMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(field, 'must be an integer number of ms since the epoch, >= 0');
  }
  return value;
}

function checkPasscode(value: unknown): string {
  if (typeof value !== 'string' || !PASSCODE_PATTERN.test(value)) throw invalid('passcode', 'must be 1-32 digits');
  return value;
}

/** Lower-cases and checks an e-mail address: the form the store keeps and looks up. */
export function normalizeEmail(value: unknown, field = 'email'): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  const email = value.toLowerCase();
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL_PATTERN.test(email)) {
    throw invalid(field, `must be an e-mail address of at most ${MAX_EMAIL_LENGTH} characters`);
  }
  return email;
}

/**
 * The key an e-mail lookup uses: lower-cased. A string that cannot be an
 * address gives undefined (it finds no one); anything else is INVALID_ARGUMENT.
 */
export function lookupEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') throw invalid('email', 'must be a string');
  const email = value.toLowerCase();
  return email.length <= MAX_EMAIL_LENGTH && EMAIL_PATTERN.test(email) ? email : undefined;
}

export function checkNewAccount(value: unknown): NewAccount {
  const a = checkObject(value, 'account');
  return { id: AccountId(a['id']), name: checkText(a['name'], 'name') };
}

export function checkNewUser(value: unknown): NewUser {
  const u = checkObject(value, 'user');
  return {
    id: UserId(u['id']),
    accountId: AccountId(u['accountId']),
    email: normalizeEmail(u['email']),
    displayName: checkText(u['displayName'], 'displayName'),
    role: checkEnum<Role>(u['role'], ROLES, 'role'),
    passwordHash: checkText(u['passwordHash'], 'passwordHash', MAX_PASSWORD_HASH_LENGTH),
  };
}

/** A user patch: fields given as undefined (or not at all) are left as they are. */
export function checkUserPatch(value: unknown): Partial<Pick<User, 'displayName' | 'role' | 'passwordHash'>> {
  const p = checkObject(value, 'patch');
  return {
    ...(p['displayName'] === undefined ? {} : { displayName: checkText(p['displayName'], 'displayName') }),
    ...(p['role'] === undefined ? {} : { role: checkEnum<Role>(p['role'], ROLES, 'role') }),
    ...(p['passwordHash'] === undefined
      ? {}
      : { passwordHash: checkText(p['passwordHash'], 'passwordHash', MAX_PASSWORD_HASH_LENGTH) }),
  };
}

/** Checks one meeting field that is given (not undefined). */
function checkMeetingField<K extends keyof MeetingFields>(name: K, value: unknown): MeetingFields[K] {
  const checkers: { [F in keyof MeetingFields]: (v: unknown) => MeetingFields[F] } = {
    topic: (v) => checkText(v, 'topic'),
    mode: (v) => checkEnum<MeetingMode>(v, MEETING_MODES, 'mode'),
    e2ee: (v) => checkBoolean(v, 'e2ee'),
    defaultQuality: (v) => checkEnum<Quality>(v, QUALITIES, 'defaultQuality'),
    passcode: checkPasscode,
    hostId: (v) => UserId(v),
    startsAt: (v) => checkEpochMs(v, 'startsAt'),
    durationMinutes: (v) => checkPositiveInteger(v, 'durationMinutes'),
    onTopLoss: (v) => checkEnum(v, ON_TOP_LOSS, 'onTopLoss'),
  };
  return checkers[name](value);
}

export function checkNewMeeting(value: unknown): NewMeeting {
  const m = checkObject(value, 'meeting');
  return {
    id: MeetingId(m['id']),
    accountId: AccountId(m['accountId']),
    topic: checkMeetingField('topic', m['topic']),
    mode: checkMeetingField('mode', m['mode']),
    e2ee: checkMeetingField('e2ee', m['e2ee']),
    defaultQuality: checkMeetingField('defaultQuality', m['defaultQuality']),
    passcode: m['passcode'] === undefined ? undefined : checkMeetingField('passcode', m['passcode']),
    hostId: checkMeetingField('hostId', m['hostId']),
    startsAt: m['startsAt'] === undefined ? undefined : checkMeetingField('startsAt', m['startsAt']),
    durationMinutes: checkMeetingField('durationMinutes', m['durationMinutes']),
    onTopLoss: checkMeetingField('onTopLoss', m['onTopLoss']),
  };
}

const PATCHABLE_MEETING_FIELDS: readonly (keyof MeetingFields)[] = [
  'topic',
  'mode',
  'e2ee',
  'defaultQuality',
  'passcode',
  'hostId',
  'startsAt',
  'durationMinutes',
  'onTopLoss',
];

/**
 * A meeting patch: a clearable field (`passcode`, `startsAt`) present with
 * the value undefined is removed; any other field given as undefined, or
 * not given, is left as it is. Unknown fields are dropped.
 */
export function checkMeetingPatch(value: unknown): CheckedMeetingPatch {
  const p = checkObject(value, 'patch');
  const set: Partial<Record<keyof MeetingFields, unknown>> = {};
  const unset: ClearableMeetingField[] = [];
  for (const name of PATCHABLE_MEETING_FIELDS) {
    if (!Object.prototype.hasOwnProperty.call(p, name)) continue;
    const given = p[name];
    if (given !== undefined) set[name] = checkMeetingField(name, given);
    else if ((CLEARABLE_MEETING_FIELDS as readonly string[]).includes(name)) unset.push(name as ClearableMeetingField);
  }
  return { set: set as Partial<MeetingFields>, unset };
}

export function checkExpectedVersion(value: unknown): number | undefined {
  return value === undefined ? undefined : checkPositiveInteger(value, 'expectedVersion');
}

export function checkNewZone(value: unknown): NewZone {
  const z = checkObject(value, 'zone');
  return { id: ZoneId(z['id']), accountId: AccountId(z['accountId']), name: checkText(z['name'], 'name') };
}

export function checkNewNode(value: unknown): NewNode {
  const n = checkObject(value, 'node');
  const address = checkText(n['address'], 'address', MAX_ADDRESS_LENGTH);
  if (!ADDRESS_PATTERN.test(address)) throw invalid('address', 'must be an IP address or host name without spaces');
  return {
    id: NodeId(n['id']),
    accountId: AccountId(n['accountId']),
    zoneId: ZoneId(n['zoneId']),
    name: checkText(n['name'], 'name'),
    address,
  };
}

export function checkNewModule(value: unknown): NewModuleAssignment {
  const m = checkObject(value, 'module');
  return {
    id: ModuleId(m['id']),
    accountId: AccountId(m['accountId']),
    nodeId: NodeId(m['nodeId']),
    kind: checkEnum<ModuleKind>(m['kind'], MODULE_KINDS, 'kind'),
    ...(m['url'] === undefined ? {} : { url: checkModuleUrl(m['url']) }),
  };
}

const MODULE_URL_PROTOCOLS = ['http:', 'https:', 'ws:', 'wss:'];

/** An absolute http(s) or ws(s) URL of at most 512 characters. */
function checkModuleUrl(value: unknown): string {
  const text = checkText(value, 'url', 512);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MeetedgeError('INVALID_ARGUMENT', `url must be an absolute URL, got ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (!MODULE_URL_PROTOCOLS.includes(url.protocol)) throw new MeetedgeError('INVALID_ARGUMENT', 'url must be http, https, ws or wss');
  return text;
}

export function checkAttempt(key: unknown, windowMs: unknown): { key: string; windowMs: number } {
  return {
    key: checkText(key, 'key', MAX_ATTEMPT_KEY_LENGTH),
    windowMs: checkPositiveInteger(windowMs, 'windowMs', MAX_WINDOW_MS),
  };
}

export { AccountId as checkAccountId, MeetingId as checkMeetingId, ModuleId as checkModuleId, NodeId as checkNodeId, UserId as checkUserId, ZoneId as checkZoneId };

/** Orders ids and e-mail addresses the same way everywhere (code units, not locale), as Redis sorts members. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
