/**
 * Every Redis key `RedisDirectory` uses, in one place (docs/redis-keys.md,
 * "Directory", is the operator's view of the same list).
 *
 * Each name is a template relative to the key prefix (default `me:dir:`).
 * `{accountId}` and the other id placeholders are filled with ids, which
 * never contain ':' or braces (core's id syntax); `{email}` and `{key}` come
 * last in their templates, so whatever they contain the names stay
 * unambiguous. The same templates generate the Lua key builders
 * (`luaKeyFunctions`), so the TypeScript side and the scripts cannot disagree
 * on a name.
 */

/** Prefix of every directory key unless the options say otherwise. */
export const DIRECTORY_KEY_PREFIX = 'me:dir:';

export const DIRECTORY_KEY_TEMPLATES = {
  /** Hash, one per account: id, name, createdAt. */
  account: 'account:{accountId}',
  /** Set of the account's userIds (`listUsers` sorts them by e-mail). */
  accountUsers: 'account:{accountId}:users',
  /** Sorted set of the account's meetingIds, score `startsAt` (or `createdAt` for an instant meeting): `listMeetings` order. */
  accountMeetings: 'account:{accountId}:meetings',
  /** Set of the account's zoneIds. */
  accountZones: 'account:{accountId}:zones',
  /** Hash, one per user: id, accountId, email (lower-cased), displayName, role, passwordHash, createdAt. */
  user: 'user:{userId}',
  /** String, the userId owning a lower-cased e-mail address: the uniqueness index and the sign-in lookup. */
  email: 'email:{email}',
  /**
   * Hash, one per meeting: id, accountId, topic, mode, e2ee, defaultQuality,
   * passcode (absent: none), hostId, startsAt (absent: instant),
   * durationMinutes, onTopLoss, createdAt, updatedAt, version.
   */
  meeting: 'meeting:{meetingId}',
  /** Hash, one per zone: id, accountId, name, createdAt. */
  zone: 'zone:{zoneId}',
  /** Set of the zone's nodeIds; `deleteZone` refuses while it has members. */
  zoneNodes: 'zone:{zoneId}:nodes',
  /** Set of the moduleIds assigned to the zone's nodes (`listZoneModules`). */
  zoneModules: 'zone:{zoneId}:modules',
  /** Hash, one per node: id, accountId, zoneId, name, address, createdAt. */
  node: 'node:{nodeId}',
  /** Set of the node's moduleIds; its size is what `assignModule` holds to MAX_MODULES_PER_NODE. */
  nodeModules: 'node:{nodeId}:modules',
  /** Hash, one per module assignment: id, accountId, nodeId, zoneId, kind, createdAt. */
  module: 'module:{moduleId}',
  /** String, a counter with a Redis TTL: the attempts counted under `key` in the current window. */
  attempts: 'attempts:{key}',
} as const;

export type DirectoryKeyName = keyof typeof DIRECTORY_KEY_TEMPLATES;

/** The full name of `name` under `prefix`, placeholders filled from `ids`. */
export function directoryKeyName(prefix: string, name: DirectoryKeyName, ids: Readonly<Record<string, string>> = {}): string {
  return (
    prefix +
    DIRECTORY_KEY_TEMPLATES[name].replace(/\{(\w+)\}/g, (_match, placeholder: string) => {
      const value = ids[placeholder];
      if (value === undefined) throw new Error(`key ${name} needs ${placeholder}`);
      return value;
    })
  );
}

/** Builders for a given prefix, as the TypeScript side uses them. */
export function directoryKeys(prefix: string) {
  const key =
    (name: DirectoryKeyName, placeholder: string) =>
    (value: string): string =>
      directoryKeyName(prefix, name, { [placeholder]: value });
  return {
    prefix,
    account: key('account', 'accountId'),
    accountUsers: key('accountUsers', 'accountId'),
    accountMeetings: key('accountMeetings', 'accountId'),
    accountZones: key('accountZones', 'accountId'),
    user: key('user', 'userId'),
    email: key('email', 'email'),
    meeting: key('meeting', 'meetingId'),
    zone: key('zone', 'zoneId'),
    zoneNodes: key('zoneNodes', 'zoneId'),
    zoneModules: key('zoneModules', 'zoneId'),
    node: key('node', 'nodeId'),
    nodeModules: key('nodeModules', 'nodeId'),
    module: key('module', 'moduleId'),
    attempts: key('attempts', 'key'),
  };
}

export type DirectoryKeys = ReturnType<typeof directoryKeys>;

/**
 * Lua source defining `K_<name>(...)` for every template, building names from
 * the prefix `P` (ARGV[1]) exactly as `directoryKeyName` does. Keys built
 * from ids inside scripts are not declared in KEYS; that is why a single
 * Redis (or Sentinel) is supported and Redis Cluster is not.
 */
export function luaKeyFunctions(): string {
  return Object.entries(DIRECTORY_KEY_TEMPLATES)
    .map(([name, template]) => {
      const params: string[] = [];
      const parts = template.split(/(\{\w+\})/).filter((part) => part !== '');
      const body = parts.map((part) => {
        const placeholder = /^\{(\w+)\}$/.exec(part);
        if (placeholder?.[1]) {
          params.push(placeholder[1]);
          return placeholder[1];
        }
        return `'${part}'`;
      });
      return `local function K_${name}(${params.join(', ')}) return P .. ${body.join(' .. ')} end`;
    })
    .join('\n');
}
