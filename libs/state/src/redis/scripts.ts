/**
 * The Lua scripts behind `RedisClusterState`. Every operation that reads and
 * then writes runs as one script, so it is atomic against every other process
 * sharing the Redis (docs/redis-keys.md, "Scripts", says why each needs it).
 *
 * Calling convention, the same for all scripts:
 * - KEYS = the fixed keys of `FIXED_KEYS` (module expiry zset, pending
 *   reservations zset);
 * - ARGV[1] = the key prefix; keys built from ids are derived from it inside
 *   the script (`K_*` functions generated from keys.ts). That is why only a
 *   single Redis (or Sentinel) is supported, not Redis Cluster.
 * - "now" is Redis server time (`TIME`), never a caller's clock, so ZCPs with
 *   skewed clocks agree on who is live. Timestamps are integer ms.
 */
import { LuaScript } from '@meetedge/redis-kit';
import { luaKeyFunctions } from './keys';

const PRELUDE = `
local P = ARGV[1]
local EXPIRY = KEYS[1]
local PENDING = KEYS[2]
${luaKeyFunctions()}

-- Redis server time in integer ms: the one clock every process agrees on.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Integer to decimal string; a bare Lua number could be sent as 1.7e+12.
local function int(n)
  return string.format('%.0f', n)
end

local function is_live(module_id, now)
  local expires = redis.call('HGET', K_module(module_id), 'expiresAt')
  return expires ~= false and tonumber(expires) > now
end

local function publish(event)
  redis.call('PUBLISH', K_events(), cjson.encode(event))
end

-- Orders ids by bytes, as compareIds does on the TypeScript side (Lua's '<'
-- on strings follows the server's collation locale).
local function id_less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- Frees a held reservation: its units, its pending deadline and its share of
-- its meeting's record; the module leaves the meeting when that was its last
-- reservation for it. Returns false when the reservation was not held.
local function free_reservation(module_id, rid)
  local rk = K_moduleReservations(module_id)
  local units = redis.call('HGET', rk, rid)
  if not units then return false end
  redis.call('HDEL', rk, rid)
  redis.call('ZREM', PENDING, module_id .. ':' .. rid)
  local mk = K_module(module_id)
  if redis.call('EXISTS', mk) == 1 then redis.call('HINCRBY', mk, 'reservedUnits', -tonumber(units)) end
  local rmk = K_reservationMeetings(module_id)
  local meeting = redis.call('HGET', rmk, rid)
  if meeting then
    redis.call('HDEL', rmk, rid)
    local cmk = K_meetingReservations(module_id)
    if redis.call('HINCRBY', cmk, meeting, -1) <= 0 then
      redis.call('HDEL', cmk, meeting)
      redis.call('SREM', K_meetingModules(meeting), module_id)
      redis.call('SREM', K_moduleMeetings(module_id), meeting)
    end
  end
  return true
end

-- Removes a module and everything that hangs off it, publishing what
-- changed. Returns false when there was no module hash (only a stale index).
local function remove_module(id, reason)
  local mk = K_module(id)
  local zone = redis.call('HGET', mk, 'zoneId')
  redis.call('ZREM', EXPIRY, id)
  if not zone then return false end
  redis.call('DEL', mk)
  redis.call('SREM', K_zoneModules(zone), id)

  local rk = K_moduleReservations(id)
  for _, rid in ipairs(redis.call('HKEYS', rk)) do
    redis.call('ZREM', PENDING, id .. ':' .. rid)
  end
  redis.call('DEL', rk, K_reservationMeetings(id), K_meetingReservations(id))

  local mmk = K_moduleMeetings(id)
  for _, meeting in ipairs(redis.call('SMEMBERS', mmk)) do
    redis.call('SREM', K_meetingModules(meeting), id)
  end
  redis.call('DEL', mmk)

  local tk = K_moduleTops(id)
  for _, meeting in ipairs(redis.call('SMEMBERS', tk)) do
    local top = K_meetingTop(meeting)
    if redis.call('GET', top) == id then
      redis.call('DEL', top)
      publish({ type = 'top-released', meetingId = meeting, moduleId = id, reason = 'module-gone' })
    end
  end
  redis.call('DEL', tk)

  publish({ type = 'module-gone', moduleId = id, zoneId = zone, reason = reason })
  return true
end
`;

/** ARGV: id, zoneId, nodeId, role, mediaUrl, capacityUnits, version, ttlMs, cascadeAddress ('' for none), instanceId ('' for none). */
const REGISTER = `
local id, zone = ARGV[2], ARGV[3]
local now = now_ms()
local mk = K_module(id)
local previous_instance = redis.call('HGET', mk, 'instanceId')
if previous_instance and ARGV[11] ~= '' and previous_instance ~= ARGV[11] then
  -- A new run of the module's process: nothing of the previous run stays.
  remove_module(id, 'restarted')
end
local previous_zone = redis.call('HGET', mk, 'zoneId')
if previous_zone then
  -- A re-registration keeps load, reservations, draining, meetings and tops.
  if previous_zone ~= zone then redis.call('SREM', K_zoneModules(previous_zone), id) end
else
  redis.call('HSET', mk, 'participants', '0', 'meetings', '0', 'cpuPercent', '0', 'egressKbps', '0',
    'reservedUnits', '0', 'draining', '0')
end
local expires = int(now + tonumber(ARGV[9]))
redis.call('HSET', mk, 'id', id, 'zoneId', zone, 'nodeId', ARGV[4], 'role', ARGV[5], 'mediaUrl', ARGV[6],
  'capacityUnits', ARGV[7], 'version', ARGV[8], 'registeredAt', int(now), 'heartbeatAt', int(now), 'expiresAt', expires)
if ARGV[10] ~= '' then redis.call('HSET', mk, 'cascadeAddress', ARGV[10]) else redis.call('HDEL', mk, 'cascadeAddress') end
if ARGV[11] ~= '' then redis.call('HSET', mk, 'instanceId', ARGV[11]) else redis.call('HDEL', mk, 'instanceId') end
redis.call('ZADD', EXPIRY, expires, id)
redis.call('SADD', K_zoneModules(zone), id)
return 1
`;

/** ARGV: id, participants, meetings, cpuPercent, egressKbps, ttlMs. Returns 1, or 0 when not registered. */
const HEARTBEAT = `
local id = ARGV[2]
local mk = K_module(id)
if redis.call('EXISTS', mk) == 0 then return 0 end
local now = now_ms()
local expires = int(now + tonumber(ARGV[7]))
redis.call('HSET', mk, 'participants', ARGV[3], 'meetings', ARGV[4], 'cpuPercent', ARGV[5], 'egressKbps', ARGV[6],
  'heartbeatAt', int(now), 'expiresAt', expires)
redis.call('ZADD', EXPIRY, expires, id)
return 1
`;

/** ARGV: id, '0' | '1'. Returns 1, or 0 when not registered. */
const SET_DRAINING = `
local mk = K_module(ARGV[2])
if redis.call('EXISTS', mk) == 0 then return 0 end
redis.call('HSET', mk, 'draining', ARGV[3])
return 1
`;

/** ARGV: id. Returns the module hash as a flat list, or nil when not live. */
const GET_MODULE = `
if not is_live(ARGV[2], now_ms()) then return nil end
return redis.call('HGETALL', K_module(ARGV[2]))
`;

/** ARGV: zoneId. Returns the live modules of the zone, each a flat list. */
const LIST_ZONE = `
local now = now_ms()
local result = {}
for _, id in ipairs(redis.call('SMEMBERS', K_zoneModules(ARGV[2]))) do
  if is_live(id, now) then table.insert(result, redis.call('HGETALL', K_module(id))) end
end
return result
`;

/** ARGV: id. Returns 1, or 0 when not registered. */
const DEREGISTER = `
if remove_module(ARGV[2], 'deregistered') then return 1 end
return 0
`;

/**
 * ARGV: batch size. Removes up to that many expired modules and frees up to
 * that many overdue pending reservations (each as a release does, meeting
 * record included). Returns { removed ids, more (0|1) }.
 * Atomic, so of several concurrent sweepers exactly one removes (and reports)
 * each module.
 */
const SWEEP = `
local limit = tonumber(ARGV[2])
local now = now_ms()
local removed = {}
local due = redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(due) do
  local expires = redis.call('HGET', K_module(id), 'expiresAt')
  if expires and tonumber(expires) > now then
    redis.call('ZADD', EXPIRY, expires, id) -- stale score; the hash is the truth
  elseif remove_module(id, 'expired') then
    table.insert(removed, id)
  end
end
local overdue = redis.call('ZRANGEBYSCORE', PENDING, '-inf', now, 'LIMIT', 0, limit)
for _, member in ipairs(overdue) do
  redis.call('ZREM', PENDING, member)
  local sep = string.find(member, ':', 1, true)
  free_reservation(string.sub(member, 1, sep - 1), string.sub(member, sep + 1))
end
local more = 0
if #due == limit or #overdue == limit then more = 1 end
return { removed, more }
`;

/**
 * ARGV: moduleId, reservationId, units, pendingTtlMs ('' = none), meetingId ('' = none), held ('1' | '').
 * A held reserve (the participant is already on the module) skips the
 * meeting affinity and the draining refusal, never the capacity.
 * Returns { 'ok' | 'full' | 'draining' | 'gone', reservedUnits, capacityUnits }
 * or { 'elsewhere', reservedUnits, capacityUnits, moduleId of the meeting }.
 * Check and increment in one step: reservedUnits never passes capacityUnits,
 * and with a meeting, no second module of a zone gets it while one has room.
 */
const RESERVE = `
local module_id, rid, units, ttl, meeting, held = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7] == '1'
local now = now_ms()
local mk = K_module(module_id)
local h = redis.call('HMGET', mk, 'expiresAt', 'capacityUnits', 'reservedUnits', 'draining', 'zoneId', 'role')
if not h[1] or tonumber(h[1]) <= now then return { 'gone', 0, 0 } end
local capacity, reserved = tonumber(h[2]), tonumber(h[3])
local rk = K_moduleReservations(module_id)
if redis.call('HEXISTS', rk, rid) == 1 then return { 'ok', reserved, capacity } end
if meeting ~= '' and not held then
  local mmk = K_meetingModules(meeting)
  if redis.call('SISMEMBER', mmk, module_id) == 0 then
    -- Another module of the meeting (same zone and role) with room wins: most free units, then lowest id.
    local best, best_free = false, -1
    for _, other in ipairs(redis.call('SMEMBERS', mmk)) do
      local o = redis.call('HMGET', K_module(other), 'expiresAt', 'capacityUnits', 'reservedUnits', 'draining', 'zoneId', 'role')
      if o[1] and tonumber(o[1]) > now and o[4] ~= '1' and o[5] == h[5] and o[6] == h[6] then
        local free = tonumber(o[2]) - tonumber(o[3])
        if free >= units and (free > best_free or (free == best_free and id_less(other, best))) then
          best, best_free = other, free
        end
      end
    end
    if best then return { 'elsewhere', reserved, capacity, best } end
  end
end
if h[4] == '1' and not held then return { 'draining', reserved, capacity } end
if reserved + units > capacity then return { 'full', reserved, capacity } end
redis.call('HSET', rk, rid, units)
reserved = redis.call('HINCRBY', mk, 'reservedUnits', units)
if ttl ~= '' then redis.call('ZADD', PENDING, int(now + tonumber(ttl)), module_id .. ':' .. rid) end
if meeting ~= '' then
  redis.call('HSET', K_reservationMeetings(module_id), rid, meeting)
  redis.call('HINCRBY', K_meetingReservations(module_id), meeting, 1)
  redis.call('SADD', K_meetingModules(meeting), module_id)
  redis.call('SADD', K_moduleMeetings(module_id), meeting)
end
return { 'ok', reserved, capacity }
`;

/** ARGV: moduleId, reservationId. Returns 1, or 0 when not held. */
const CONFIRM = `
if redis.call('HEXISTS', K_moduleReservations(ARGV[2]), ARGV[3]) == 0 then return 0 end
redis.call('ZREM', PENDING, ARGV[2] .. ':' .. ARGV[3])
return 1
`;

/**
 * ARGV: moduleId, reservationId. Returns 1, or 0 when not held. The module
 * leaves the reservation's meeting when it was its last reservation for it.
 */
const RELEASE = `
if free_reservation(ARGV[2], ARGV[3]) then return 1 end
return 0
`;

/** ARGV: meetingId, moduleId. Returns 1, or 0 when the module is not live. */
const ADD_MEETING_MODULE = `
local meeting, module_id = ARGV[2], ARGV[3]
if not is_live(module_id, now_ms()) then return 0 end
redis.call('SADD', K_meetingModules(meeting), module_id)
redis.call('SADD', K_moduleMeetings(module_id), meeting)
return 1
`;

/** ARGV: meetingId, moduleId. Both directions of the index in one step. */
const REMOVE_MEETING_MODULE = `
redis.call('SREM', K_meetingModules(ARGV[2]), ARGV[3])
redis.call('SREM', K_moduleMeetings(ARGV[3]), ARGV[2])
return 1
`;

/** ARGV: meetingId. Returns the live module ids carrying it (unordered). */
const MEETING_MODULES = `
local now = now_ms()
local result = {}
for _, id in ipairs(redis.call('SMEMBERS', K_meetingModules(ARGV[2]))) do
  if is_live(id, now) then table.insert(result, id) end
end
return result
`;

/** ARGV: meetingId. Returns { moduleId, count, ... } for the live modules carrying it. */
const MEETING_LOAD = `
local now = now_ms()
local meeting = ARGV[2]
local result = {}
for _, id in ipairs(redis.call('SMEMBERS', K_meetingModules(meeting))) do
  if is_live(id, now) then
    table.insert(result, id)
    table.insert(result, tonumber(redis.call('HGET', K_meetingReservations(id), meeting) or '0'))
  end
end
return result
`;

/**
 * ARGV: meetingId, moduleId. Returns { 'not_found' } when the claimant is not
 * live, else { 'won' | 'lost', holder }. SET NX: the first claimant wins.
 */
const CLAIM_TOP = `
local meeting, module_id = ARGV[2], ARGV[3]
if not is_live(module_id, now_ms()) then return { 'not_found' } end
local top = K_meetingTop(meeting)
local epoch_key = K_meetingTopEpoch(meeting)
if redis.call('SET', top, module_id, 'NX') then
  redis.call('SADD', K_moduleTops(module_id), meeting)
  local epoch = redis.call('INCR', epoch_key)
  redis.call('PEXPIRE', epoch_key, 604800000)
  return { 'won', module_id, epoch }
end
local holder = redis.call('GET', top)
local epoch = tonumber(redis.call('GET', epoch_key) or '0')
if holder == module_id then return { 'won', holder, epoch } end
return { 'lost', holder, epoch }
`;

/** ARGV: meetingId, moduleId. Compare-and-delete; returns 1 when it released. */
const RELEASE_TOP = `
local meeting, module_id = ARGV[2], ARGV[3]
local top = K_meetingTop(meeting)
if redis.call('GET', top) ~= module_id then return 0 end
redis.call('DEL', top)
redis.call('SREM', K_moduleTops(module_id), meeting)
publish({ type = 'top-released', meetingId = meeting, moduleId = module_id, reason = 'released' })
return 1
`;

/**
 * ARGV: meetingId, holder, silentMs. Releases the claim when the holder still
 * holds it and has not heartbeated for silentMs, or is not registered (a
 * module registered before heartbeatAt existed keeps it: the sweep frees it).
 * Returns 1 when it released.
 */
const RELEASE_SILENT_TOP = `
local meeting, holder, silent = ARGV[2], ARGV[3], tonumber(ARGV[4])
local top = K_meetingTop(meeting)
if redis.call('GET', top) ~= holder then return 0 end
local mk = K_module(holder)
if redis.call('EXISTS', mk) == 1 then
  local beat = redis.call('HGET', mk, 'heartbeatAt')
  if beat == false or now_ms() - tonumber(beat) < silent then return 0 end
end
redis.call('DEL', top)
redis.call('SREM', K_moduleTops(holder), meeting)
publish({ type = 'top-released', meetingId = meeting, moduleId = holder, reason = 'holder-silent' })
return 1
`;

/** A script with the prelude (keys, clock, replies) before its body. */
function script(name: string, body: string): LuaScript {
  return new LuaScript(name, `${PRELUDE}\n${body}`);
}

export const SCRIPTS = {
  register: script('register', REGISTER),
  heartbeat: script('heartbeat', HEARTBEAT),
  setDraining: script('setDraining', SET_DRAINING),
  getModule: script('getModule', GET_MODULE),
  listZone: script('listZone', LIST_ZONE),
  deregister: script('deregister', DEREGISTER),
  sweep: script('sweep', SWEEP),
  reserve: script('reserve', RESERVE),
  confirm: script('confirm', CONFIRM),
  release: script('release', RELEASE),
  addMeetingModule: script('addMeetingModule', ADD_MEETING_MODULE),
  removeMeetingModule: script('removeMeetingModule', REMOVE_MEETING_MODULE),
  meetingModules: script('meetingModules', MEETING_MODULES),
  meetingLoad: script('meetingLoad', MEETING_LOAD),
  claimTop: script('claimTop', CLAIM_TOP),
  releaseTop: script('releaseTop', RELEASE_TOP),
  releaseSilentTop: script('releaseSilentTop', RELEASE_SILENT_TOP),
} as const;
