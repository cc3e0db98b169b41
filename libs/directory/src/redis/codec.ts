/**
 * How each record is laid out in its Redis hash, field by field, declared
 * once per record type and checked by the compiler against the record's
 * TypeScript type:
 *
 * - a string is stored as is (readable with HGET, no quoting);
 * - a number as its shortest decimal (`String(n)`), which `Number` reads back
 *   to the same double; records hold only integers (epoch ms, minutes,
 *   versions), which Lua's `%.0f` writes the same way;
 * - a boolean as `true` / `false`;
 * - `undefined` (only where the type allows it) as an absent field, so
 *   HDEL is how an update removes a value.
 *
 * Decoding is strict: a missing required field or an unreadable value is an
 * INTERNAL error naming the record and field, never a silently wrong record.
 */
import { MeetedgeError } from '@meetedge/core';
import type { Account, Meeting, ModuleAssignment, Node, User, Zone } from '../directory';

type Kind = 'string' | 'number' | 'boolean' | 'string?' | 'number?';

/** The kind a field of type `V` must be declared with. */
type KindOf<V> = undefined extends V
  ? [NonNullable<V>] extends [number]
    ? 'number?'
    : 'string?'
  : [V] extends [number]
    ? 'number'
    : [V] extends [boolean]
      ? 'boolean'
      : 'string';

/** A field kind for every field of `T`, in the order records are built. */
export type Schema<T> = { readonly [K in keyof T]-?: KindOf<T[K]> };

export const ACCOUNT_SCHEMA: Schema<Account> = { id: 'string', name: 'string', createdAt: 'number' };

export const USER_SCHEMA: Schema<User> = {
  id: 'string',
  accountId: 'string',
  email: 'string',
  displayName: 'string',
  role: 'string',
  passwordHash: 'string',
  createdAt: 'number',
};

export const MEETING_SCHEMA: Schema<Meeting> = {
  id: 'string',
  accountId: 'string',
  topic: 'string',
  mode: 'string',
  e2ee: 'boolean',
  defaultQuality: 'string',
  passcode: 'string?',
  hostId: 'string',
  startsAt: 'number?',
  durationMinutes: 'number',
  onTopLoss: 'string',
  createdAt: 'number',
  updatedAt: 'number',
  version: 'number',
};

export const ZONE_SCHEMA: Schema<Zone> = { id: 'string', accountId: 'string', name: 'string', createdAt: 'number' };

export const NODE_SCHEMA: Schema<Node> = {
  id: 'string',
  accountId: 'string',
  zoneId: 'string',
  name: 'string',
  address: 'string',
  createdAt: 'number',
};

export const MODULE_SCHEMA: Schema<ModuleAssignment> = {
  id: 'string',
  accountId: 'string',
  nodeId: 'string',
  zoneId: 'string',
  kind: 'string',
  url: 'string?',
  createdAt: 'number',
};

function encodeValue(field: string, kind: Kind, value: unknown): string {
  if (kind === 'boolean' && typeof value === 'boolean') return value ? 'true' : 'false';
  if ((kind === 'number' || kind === 'number?') && typeof value === 'number' && Number.isFinite(value)) return String(value);
  if ((kind === 'string' || kind === 'string?') && typeof value === 'string') return value;
  throw new MeetedgeError('INTERNAL', `cannot store ${field}: expected ${kind}, got ${typeof value}`);
}

/**
 * HSET arguments (field, value, field, value, ...) for the fields of `values`
 * that the schema knows and that are not undefined.
 */
export function encodeFields<T>(schema: Schema<T>, values: Partial<T>): string[] {
  const flat: string[] = [];
  for (const [field, kind] of Object.entries(schema) as [string & keyof T, Kind][]) {
    const value = values[field];
    if (value !== undefined) flat.push(field, encodeValue(field, kind, value));
  }
  return flat;
}

/** A hash as HGETALL answers it: the flat [field, value, ...] list of a script, or ioredis' object. */
export function hashOf(reply: unknown): ReadonlyMap<string, string> {
  if (Array.isArray(reply)) {
    const hash = new Map<string, string>();
    for (let i = 0; i + 1 < reply.length; i += 2) hash.set(String(reply[i]), String(reply[i + 1]));
    return hash;
  }
  if (typeof reply === 'object' && reply !== null) return new Map(Object.entries(reply as Record<string, string>));
  throw new MeetedgeError('INTERNAL', `expected a hash from redis, got ${typeof reply}`);
}

function decodeValue(what: string, field: string, kind: Kind, text: string | undefined): unknown {
  if (text === undefined) {
    if (kind === 'string?' || kind === 'number?') return undefined;
    throw new MeetedgeError('INTERNAL', `${what} hash lacks ${field}`);
  }
  if (kind === 'string' || kind === 'string?') return text;
  if (kind === 'boolean') {
    if (text === 'true' || text === 'false') return text === 'true';
  } else {
    const n = Number(text);
    if (text.trim() !== '' && Number.isFinite(n)) return n;
  }
  throw new MeetedgeError('INTERNAL', `${what} hash has an unreadable ${field}`);
}

/** The record a hash holds; undefined for an empty hash (HGETALL of a missing key). */
export function decodeRecord<T>(schema: Schema<T>, reply: unknown, what: string): T | undefined {
  const hash = hashOf(reply);
  if (hash.size === 0) return undefined;
  const record: Record<string, unknown> = {};
  for (const [field, kind] of Object.entries(schema) as [string, Kind][]) {
    record[field] = decodeValue(what, field, kind, hash.get(field));
  }
  return record as T;
}

/** Like `decodeRecord`, for a hash that must exist (a script just wrote it). */
export function decodeWritten<T>(schema: Schema<T>, reply: unknown, what: string): T {
  const record = decodeRecord(schema, reply, what);
  if (!record) throw new MeetedgeError('INTERNAL', `${what} hash is missing after a write`);
  return record;
}
