/**
 * Every Redis key and channel `RedisClusterState` uses, in one place
 * (docs/redis-keys.md is the operator's view of the same list).
 *
 * Each name is a template relative to the key prefix (default `meetedge:`):
 * `{moduleId}` and friends are filled with ids, which never contain ':' or
 * braces (core's id syntax), so every name is unambiguous. The same templates
 * generate the key builders of the Lua scripts (`luaKeyFunctions`), so the
 * TypeScript side and the scripts cannot disagree on a name.
 */

/** Prefix of every key and of the event channel unless the options say otherwise. */
export const DEFAULT_KEY_PREFIX = 'meetedge:';

export const KEY_TEMPLATES = {
  /**
   * Hash, one per registered module (swept or deregistered → deleted):
   * id, zoneId, nodeId, role, mediaUrl, capacityUnits, version, cascadeAddress, instanceId (both optional) (the
   * registration); registeredAt, expiresAt (ms, Redis server clock);
   * participants, meetings, cpuPercent, egressKbps (last heartbeat's load);
   * reservedUnits (sum of the module's reservations); draining ('0' | '1').
   * No Redis TTL: expiry is `expiresAt`, acted on by `sweepExpired`, so the
   * module's reservations, meetings and tops are cleaned up with it.
   */
  module: 'module:{moduleId}',
  /** Sorted set, member moduleId, score expiresAt (ms, Redis server clock): what `sweepExpired` scans. */
  moduleExpiry: 'modules:expiry',
  /** Set of moduleIds registered in a zone (live or expired-not-yet-swept); `listModules` filters by expiry. */
  zoneModules: 'zone:{zoneId}:modules',
  /** Hash reservationId => units (decimal string), the module's reservations, pending or confirmed. */
  moduleReservations: 'module:{moduleId}:reservations',
  /**
   * Sorted set, member `${moduleId}:${reservationId}`, score deadline (ms,
   * Redis server clock): the pending (unconfirmed) reservations that have a
   * TTL. Confirming removes the member; `sweepExpired` frees what is past due.
   */
  pendingReservations: 'reservations:pending',
  /**
   * Hash reservationId => meetingId: the meeting of each of the module's
   * reservations made with a `meetingId` (a subset of `moduleReservations`),
   * so freeing one knows which meeting's count to drop. Deleted with the module.
   */
  reservationMeetings: 'module:{moduleId}:reservationMeetings',
  /**
   * Hash meetingId => count (decimal string, >= 1): how many of the module's
   * reservations are for each meeting. A reserve with `meetingId` adds 1;
   * freeing such a reservation (release, pending TTL swept) takes 1, and at 0
   * the field goes and the module leaves the meeting (both directions of
   * `meetingModules` / `moduleMeetings`). Deleted with the module.
   */
  meetingReservations: 'module:{moduleId}:meetingReservations',
  /**
   * Set of moduleIds carrying a meeting (`meetingModules` filters by expiry):
   * added by `addMeetingModule` and by a reserve with `meetingId`; removed by
   * `removeMeetingModule`, by freeing the module's last reservation for the
   * meeting, and by the module's removal.
   */
  meetingModules: 'meeting:{meetingId}:modules',
  /** Set of meetingIds a module carries: the reverse index that lets removal drop it from each meeting. */
  moduleMeetings: 'module:{moduleId}:meetings',
  /** String, the moduleId holding top MMR of a meeting; no TTL, lives until released or its holder is removed. */
  meetingTop: 'meeting:{meetingId}:top',
  /**
   * String, a counter: the fencing epoch of a meeting's top claim, incremented
   * on every new holder; 7-day TTL refreshed on each new claim, so it
   * outlives any meeting and its holders.
   */
  meetingTopEpoch: 'meeting:{meetingId}:topEpoch',
  /** Set of meetingIds whose top a module holds: the reverse index that lets removal release them. */
  moduleTops: 'module:{moduleId}:tops',
  /** Pub/sub channel (not a key): one JSON `ClusterEvent` per message. */
  events: 'events',
} as const;

export type KeyName = keyof typeof KEY_TEMPLATES;

/** Keys without placeholders; the scripts receive these in KEYS, in this order. */
export const FIXED_KEYS = ['moduleExpiry', 'pendingReservations'] as const satisfies readonly KeyName[];

/** The full name of `name` under `prefix`, placeholders filled from `ids`. */
export function keyName(prefix: string, name: KeyName, ids: Readonly<Record<string, string>> = {}): string {
  return (
    prefix +
    KEY_TEMPLATES[name].replace(/\{(\w+)\}/g, (_match, placeholder: string) => {
      const value = ids[placeholder];
      if (value === undefined) throw new Error(`key ${name} needs ${placeholder}`);
      return value;
    })
  );
}

/** Builders for a given prefix, as the TypeScript side uses them. */
export function clusterKeys(prefix: string) {
  return {
    prefix,
    events: keyName(prefix, 'events'),
    moduleExpiry: keyName(prefix, 'moduleExpiry'),
    pendingReservations: keyName(prefix, 'pendingReservations'),
    module: (moduleId: string) => keyName(prefix, 'module', { moduleId }),
    zoneModules: (zoneId: string) => keyName(prefix, 'zoneModules', { zoneId }),
    moduleReservations: (moduleId: string) => keyName(prefix, 'moduleReservations', { moduleId }),
    reservationMeetings: (moduleId: string) => keyName(prefix, 'reservationMeetings', { moduleId }),
    meetingReservations: (moduleId: string) => keyName(prefix, 'meetingReservations', { moduleId }),
    meetingModules: (meetingId: string) => keyName(prefix, 'meetingModules', { meetingId }),
    moduleMeetings: (moduleId: string) => keyName(prefix, 'moduleMeetings', { moduleId }),
    meetingTop: (meetingId: string) => keyName(prefix, 'meetingTop', { meetingId }),
    meetingTopEpoch: (meetingId: string) => keyName(prefix, 'meetingTopEpoch', { meetingId }),
    moduleTops: (moduleId: string) => keyName(prefix, 'moduleTops', { moduleId }),
  };
}

export type ClusterKeys = ReturnType<typeof clusterKeys>;

/**
 * Lua source defining `K_<name>(...)` for every template, building names from
 * the prefix `P` (ARGV[1]) exactly as `keyName` does. Keys built from ids
 * inside scripts are not declared in KEYS; that is why a single Redis (or
 * Sentinel) is supported and Redis Cluster is not.
 */
export function luaKeyFunctions(): string {
  return Object.entries(KEY_TEMPLATES)
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
