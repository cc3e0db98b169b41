/**
 * A walk over every key of a test's Redis (issue [6] item 5): each key must
 * be one of the cluster state's (docs/redis-keys.md, libs/state's
 * KEY_TEMPLATES) or the control plane directory's, and every reference in
 * the cluster state must point at something that exists: no module record
 * of a dead module, no reservation, meeting record or top claim of a module
 * that is gone, no index that disagrees with what it indexes.
 *
 * It reads key by key (not atomically), so call it while nothing joins or
 * leaves, or inside `waitFor` until the state has settled.
 */
import { DEFAULT_KEY_PREFIX, KEY_TEMPLATES, type KeyName } from '@meetedge/state';
import Redis from 'ioredis';

/** The control plane's directory keeps its records beside the cluster state (libs/directory). */
const DIRECTORY_PREFIX = 'me:dir:';

type Parsed = { name: KeyName; ids: Record<string, string> };

const PATTERNS = (Object.entries(KEY_TEMPLATES) as [KeyName, string][])
  .filter(([name]) => name !== 'events')
  .map(([name, template]) => {
    const holes: string[] = [];
    const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_all, hole: string) => {
      holes.push(hole);
      return '([^:{}]+)';
    });
    return { name, holes, regex: new RegExp(`^${source}$`) };
  });

function parse(key: string): Parsed | undefined {
  const rest = key.slice(DEFAULT_KEY_PREFIX.length);
  for (const p of PATTERNS) {
    const match = p.regex.exec(rest);
    if (match) return { name: p.name, ids: Object.fromEntries(p.holes.map((hole, i) => [hole, match[i + 1] ?? ''])) };
  }
  return undefined;
}

/** Every problem found, one line each; empty when the state is whole. */
export async function findOrphans(redisUrl: string): Promise<string[]> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  await client.connect();
  try {
    return await walk(client);
  } finally {
    client.disconnect();
  }
}

async function walk(r: Redis): Promise<string[]> {
  const problems: string[] = [];
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');

  const [seconds, micros] = await r.time();
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  const byName = new Map<KeyName, Parsed[]>();
  for (const key of keys) {
    if (key.startsWith(DIRECTORY_PREFIX)) continue;
    const parsed = key.startsWith(DEFAULT_KEY_PREFIX) ? parse(key) : undefined;
    if (!parsed) {
      problems.push(`unknown key ${key}`);
      continue;
    }
    byName.set(parsed.name, [...(byName.get(parsed.name) ?? []), parsed]);
  }
  const k = (name: KeyName, ids: Record<string, string> = {}) =>
    DEFAULT_KEY_PREFIX + KEY_TEMPLATES[name].replace(/\{(\w+)\}/g, (_all, hole: string) => ids[hole] ?? '');
  const of = (name: KeyName) => byName.get(name) ?? [];

  // Modules: every record is live (a dead one must have been swept), and its indexes agree.
  const modules = new Map<string, Record<string, string>>();
  for (const { ids } of of('module')) modules.set(ids['moduleId'] ?? '', await r.hgetall(k('module', ids)));
  for (const [id, hash] of modules) {
    if (!(Number(hash['expiresAt']) > now)) problems.push(`module ${id} is past its expiry and still registered`);
    if ((await r.zscore(k('moduleExpiry'), id)) === null) problems.push(`module ${id} is not in ${KEY_TEMPLATES.moduleExpiry}`);
    if (!(await r.sismember(k('zoneModules', { zoneId: hash['zoneId'] ?? '' }), id))) problems.push(`module ${id} is not in its zone's set`);
  }
  const live = (id: string, what: string) => {
    if (!modules.has(id)) problems.push(`${what} points at module ${id}, which is not registered`);
    return modules.has(id);
  };
  for (const id of await r.zrange(k('moduleExpiry'), '0', '-1')) live(id, KEY_TEMPLATES.moduleExpiry);
  for (const { ids } of of('zoneModules')) {
    for (const id of await r.smembers(k('zoneModules', ids))) {
      if (live(id, `zone ${ids['zoneId']}`) && modules.get(id)?.['zoneId'] !== ids['zoneId']) problems.push(`zone ${ids['zoneId']} lists module ${id} of another zone`);
    }
  }

  // Reservations: held by a registered module, units summing to its reservedUnits, meetings counted right.
  for (const name of ['moduleReservations', 'reservationMeetings', 'meetingReservations', 'moduleMeetings', 'moduleTops'] as const) {
    for (const { ids } of of(name)) live(ids['moduleId'] ?? '', `${name} of ${ids['moduleId']}`);
  }
  for (const [id, hash] of modules) {
    const reservations = await r.hgetall(k('moduleReservations', { moduleId: id }));
    const units = Object.values(reservations).reduce((sum, u) => sum + Number(u), 0);
    if (units !== Number(hash['reservedUnits'] ?? 0)) problems.push(`module ${id}: reservedUnits ${hash['reservedUnits']} but its reservations hold ${units}`);
    const reservationMeetings = await r.hgetall(k('reservationMeetings', { moduleId: id }));
    const counted = new Map<string, number>();
    for (const [rid, meeting] of Object.entries(reservationMeetings)) {
      if (!(rid in reservations)) problems.push(`module ${id}: reservation ${rid} has a meeting but is not held`);
      counted.set(meeting, (counted.get(meeting) ?? 0) + 1);
    }
    const meetingCounts = await r.hgetall(k('meetingReservations', { moduleId: id }));
    for (const meeting of new Set([...counted.keys(), ...Object.keys(meetingCounts)])) {
      if (Number(meetingCounts[meeting] ?? 0) !== (counted.get(meeting) ?? 0)) problems.push(`module ${id}: meeting ${meeting} counted ${meetingCounts[meeting] ?? 0}, reservations say ${counted.get(meeting) ?? 0}`);
    }
    for (const meeting of await r.smembers(k('moduleMeetings', { moduleId: id }))) {
      if (!(await r.sismember(k('meetingModules', { meetingId: meeting }), id))) problems.push(`module ${id} carries meeting ${meeting}, which does not list it`);
    }
    for (const meeting of await r.smembers(k('moduleTops', { moduleId: id }))) {
      if ((await r.get(k('meetingTop', { meetingId: meeting }))) !== id) problems.push(`module ${id} lists top of ${meeting}, which another holds (or nobody)`);
    }
  }
  for (const member of await r.zrange(k('pendingReservations'), '0', '-1')) {
    const [id = '', rid = ''] = member.split(':');
    if (live(id, `pending reservation ${member}`) && (await r.hexists(k('moduleReservations', { moduleId: id }), rid)) === 0) {
      problems.push(`pending reservation ${member} is not held`);
    }
  }

  // Meetings: every module carrying one is registered and agrees; every top claim is held by a registered module that lists it.
  for (const { ids } of of('meetingModules')) {
    for (const id of await r.smembers(k('meetingModules', ids))) {
      if (live(id, `meeting ${ids['meetingId']}`) && !(await r.sismember(k('moduleMeetings', { moduleId: id }), ids['meetingId'] ?? ''))) {
        problems.push(`meeting ${ids['meetingId']} lists module ${id}, which does not carry it`);
      }
    }
  }
  for (const { ids } of of('meetingTop')) {
    const holder = (await r.get(k('meetingTop', ids))) ?? '';
    if (live(holder, `top of ${ids['meetingId']}`) && !(await r.sismember(k('moduleTops', { moduleId: holder }), ids['meetingId'] ?? ''))) {
      problems.push(`top of ${ids['meetingId']} is ${holder}, which does not list it`);
    }
  }
  // meeting:{id}:topEpoch points at nothing: a fencing counter that outlives holders by design (7-day TTL).
  return problems;
}
