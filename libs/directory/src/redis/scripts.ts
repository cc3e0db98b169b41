/**
 * The Lua scripts behind `RedisDirectory`. Every write checks and changes
 * the records and their indexes in one script, so it is atomic against every
 * other dashboard process sharing the Redis (docs/redis-keys.md, "Directory",
 * says what each one guards). Lists are scripts too, so a list is one
 * consistent snapshot of the index and the records it names.
 *
 * Calling convention, the same for all scripts:
 * - no KEYS; ARGV[1] = the key prefix, and every key is built from it inside
 *   the script (`K_*` functions generated from keys.ts). That is why only a
 *   single Redis (or Sentinel) is supported, not Redis Cluster.
 * - record fields arrive already encoded (codec.ts) as field/value pairs at
 *   the end of ARGV; `createdAt`/`updatedAt` are Redis server time (`TIME`),
 *   so every dashboard process stamps records with the same clock.
 * - writes answer `{ 'ok', value }` or `{ 'fail', reason, extra? }`; the
 *   TypeScript side turns each reason into its coded MeetedgeError.
 */
import { LuaScript } from '@meetedge/redis-kit';
import { MAX_MODULES_PER_NODE } from '../directory';
import { luaKeyFunctions } from './keys';

const PRELUDE = `
local P = ARGV[1]
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

local function ok(value) return { 'ok', value } end
local function fail(reason, extra) return { 'fail', reason, extra } end

-- HSET key with the field/value pairs ARGV[first .. last] (nothing when empty).
local function hset_args(key, first, last)
  local args = {}
  for i = first, last do args[#args + 1] = ARGV[i] end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end

-- The hashes of the given ids, skipping any that is gone; order kept.
local function records(ids, key_of)
  local result = {}
  for _, id in ipairs(ids) do
    local h = redis.call('HGETALL', key_of(id))
    if #h > 0 then result[#result + 1] = h end
  end
  return result
end

-- Puts a meeting at its place in its account's list: by start, instant ones by creation.
local function index_meeting(id)
  local h = redis.call('HMGET', K_meeting(id), 'accountId', 'startsAt', 'createdAt')
  redis.call('ZADD', K_accountMeetings(h[1]), h[2] or h[3], id)
end
`;

/** ARGV: id, then the account's field pairs. */
const CREATE_ACCOUNT = `
local k = K_account(ARGV[2])
if redis.call('EXISTS', k) == 1 then return fail('id_taken') end
hset_args(k, 3, #ARGV)
redis.call('HSET', k, 'createdAt', int(now_ms()))
return ok(redis.call('HGETALL', k))
`;

/** ARGV: id, accountId, lower-cased e-mail, then the user's field pairs. Account, id and e-mail checked in one step. */
const CREATE_USER = `
local id, account, email = ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', K_account(account)) == 0 then return fail('no_account') end
local k = K_user(id)
if redis.call('EXISTS', k) == 1 then return fail('id_taken') end
if redis.call('EXISTS', K_email(email)) == 1 then return fail('email_taken') end
hset_args(k, 5, #ARGV)
redis.call('HSET', k, 'createdAt', int(now_ms()))
redis.call('SET', K_email(email), id)
redis.call('SADD', K_accountUsers(account), id)
return ok(redis.call('HGETALL', k))
`;

/** ARGV: lower-cased e-mail. Answers the user's hash, empty when none. */
const USER_BY_EMAIL = `
local id = redis.call('GET', K_email(ARGV[2]))
if not id then return {} end
return redis.call('HGETALL', K_user(id))
`;

/** ARGV: id, then the field pairs to set. */
const UPDATE_USER = `
local k = K_user(ARGV[2])
if redis.call('EXISTS', k) == 0 then return fail('not_found') end
hset_args(k, 3, #ARGV)
return ok(redis.call('HGETALL', k))
`;

/** ARGV: id. Frees the e-mail (only if it still names this user). Answers ok(1), or ok(0) when missing. */
const DELETE_USER = `
local id = ARGV[2]
local k = K_user(id)
local h = redis.call('HMGET', k, 'accountId', 'email')
if not h[1] then return ok(0) end
redis.call('DEL', k)
redis.call('SREM', K_accountUsers(h[1]), id)
if h[2] and redis.call('GET', K_email(h[2])) == id then redis.call('DEL', K_email(h[2])) end
return ok(1)
`;

/** ARGV: accountId. The account's users (unordered). */
const LIST_USERS = `
return records(redis.call('SMEMBERS', K_accountUsers(ARGV[2])), K_user)
`;

/** ARGV: id, accountId, then the meeting's field pairs. Version 1, createdAt = updatedAt = now. */
const CREATE_MEETING = `
local id, account = ARGV[2], ARGV[3]
if redis.call('EXISTS', K_account(account)) == 0 then return fail('no_account') end
local k = K_meeting(id)
if redis.call('EXISTS', k) == 1 then return fail('id_taken') end
hset_args(k, 4, #ARGV)
local now = int(now_ms())
redis.call('HSET', k, 'createdAt', now, 'updatedAt', now, 'version', '1')
index_meeting(id)
return ok(redis.call('HGETALL', k))
`;

/**
 * ARGV: id, expected version ('' = any), n = how many ARGV items the pairs
 * to set take, those pairs, then the names of the fields to remove.
 * Compare-and-set on the version: a stale writer gets fail('version', current).
 */
const UPDATE_MEETING = `
local id, expected, n = ARGV[2], ARGV[3], tonumber(ARGV[4])
local k = K_meeting(id)
local version = redis.call('HGET', k, 'version')
if not version then return fail('not_found') end
if expected ~= '' and tonumber(expected) ~= tonumber(version) then return fail('version', tonumber(version)) end
hset_args(k, 5, 4 + n)
for i = 5 + n, #ARGV do redis.call('HDEL', k, ARGV[i]) end
redis.call('HSET', k, 'updatedAt', int(now_ms()))
redis.call('HINCRBY', k, 'version', 1)
index_meeting(id)
return ok(redis.call('HGETALL', k))
`;

/** ARGV: id. Answers ok(1), or ok(0) when missing. */
const DELETE_MEETING = `
local id = ARGV[2]
local k = K_meeting(id)
local account = redis.call('HGET', k, 'accountId')
if not account then return ok(0) end
redis.call('DEL', k)
redis.call('ZREM', K_accountMeetings(account), id)
return ok(1)
`;

/** ARGV: accountId. The account's meetings by start (score), then id. */
const LIST_MEETINGS = `
return records(redis.call('ZRANGE', K_accountMeetings(ARGV[2]), 0, -1), K_meeting)
`;

/** ARGV: id, accountId, then the zone's field pairs. */
const CREATE_ZONE = `
local id, account = ARGV[2], ARGV[3]
if redis.call('EXISTS', K_account(account)) == 0 then return fail('no_account') end
local k = K_zone(id)
if redis.call('EXISTS', k) == 1 then return fail('id_taken') end
hset_args(k, 4, #ARGV)
redis.call('HSET', k, 'createdAt', int(now_ms()))
redis.call('SADD', K_accountZones(account), id)
return ok(redis.call('HGETALL', k))
`;

/** ARGV: id. Refuses (fail 'has_nodes') while the zone has nodes; ok(1), or ok(0) when missing. */
const DELETE_ZONE = `
local id = ARGV[2]
local k = K_zone(id)
local account = redis.call('HGET', k, 'accountId')
if not account then return ok(0) end
if redis.call('SCARD', K_zoneNodes(id)) > 0 then return fail('has_nodes') end
redis.call('DEL', k, K_zoneModules(id))
redis.call('SREM', K_accountZones(account), id)
return ok(1)
`;

/** ARGV: accountId. The account's zones (unordered). */
const LIST_ZONES = `
return records(redis.call('SMEMBERS', K_accountZones(ARGV[2])), K_zone)
`;

/** ARGV: id, accountId, zoneId, then the node's field pairs. The zone must exist in the same account. */
const CREATE_NODE = `
local id, account, zone = ARGV[2], ARGV[3], ARGV[4]
if redis.call('HGET', K_zone(zone), 'accountId') ~= account then return fail('no_zone') end
local k = K_node(id)
if redis.call('EXISTS', k) == 1 then return fail('id_taken') end
hset_args(k, 5, #ARGV)
redis.call('HSET', k, 'createdAt', int(now_ms()))
redis.call('SADD', K_zoneNodes(zone), id)
return ok(redis.call('HGETALL', k))
`;

/** ARGV: id. Refuses (fail 'has_modules') while the node has modules; ok(1), or ok(0) when missing. */
const DELETE_NODE = `
local id = ARGV[2]
local k = K_node(id)
local zone = redis.call('HGET', k, 'zoneId')
if not zone then return ok(0) end
if redis.call('SCARD', K_nodeModules(id)) > 0 then return fail('has_modules') end
redis.call('DEL', k)
redis.call('SREM', K_zoneNodes(zone), id)
return ok(1)
`;

/** ARGV: zoneId. The zone's nodes (unordered). */
const LIST_NODES = `
return records(redis.call('SMEMBERS', K_zoneNodes(ARGV[2])), K_node)
`;

/**
 * ARGV: id, accountId, nodeId, then the module's field pairs; the zone is
 * the node's. Check-and-add in one step: the node's module set never grows
 * past MAX_MODULES_PER_NODE, however many processes assign at once.
 */
const ASSIGN_MODULE = `
local id, account, node = ARGV[2], ARGV[3], ARGV[4]
local n = redis.call('HMGET', K_node(node), 'accountId', 'zoneId')
if n[1] ~= account then return fail('no_node') end
local k = K_module(id)
if redis.call('EXISTS', k) == 1 then return fail('id_taken') end
if redis.call('SCARD', K_nodeModules(node)) >= ${MAX_MODULES_PER_NODE} then return fail('node_full') end
hset_args(k, 5, #ARGV)
redis.call('HSET', k, 'zoneId', n[2], 'createdAt', int(now_ms()))
redis.call('SADD', K_nodeModules(node), id)
redis.call('SADD', K_zoneModules(n[2]), id)
return ok(redis.call('HGETALL', k))
`;

/** ARGV: id. Answers ok(1), or ok(0) when missing. */
const REMOVE_MODULE = `
local id = ARGV[2]
local k = K_module(id)
local h = redis.call('HMGET', k, 'nodeId', 'zoneId')
if not h[1] then return ok(0) end
redis.call('DEL', k)
redis.call('SREM', K_nodeModules(h[1]), id)
redis.call('SREM', K_zoneModules(h[2]), id)
return ok(1)
`;

/** ARGV: nodeId. The node's modules (unordered). */
const LIST_MODULES = `
return records(redis.call('SMEMBERS', K_nodeModules(ARGV[2])), K_module)
`;

/** ARGV: zoneId. The zone's modules (unordered). */
const LIST_ZONE_MODULES = `
return records(redis.call('SMEMBERS', K_zoneModules(ARGV[2])), K_module)
`;

/**
 * ARGV: key, windowMs. Answers { count, resetInMs }. The first attempt of a
 * window (no key, or one ending this very ms) sets the counter to 1 with a
 * TTL of the window (INCR and PEXPIRE as one step: a counter never lives
 * without its TTL); later ones INCR it, and its PTTL is the time left.
 */
const COUNT_ATTEMPT = `
local k = K_attempts(ARGV[2])
local window = tonumber(ARGV[3])
local ttl = redis.call('PTTL', k)
if ttl <= 0 then
  redis.call('SET', k, '1', 'PX', window)
  return { 1, window }
end
return { redis.call('INCR', k), ttl }
`;

/** A script with the prelude (keys, clock, replies) before its body. */
function script(name: string, body: string): LuaScript {
  return new LuaScript(name, `${PRELUDE}\n${body}`);
}

export const SCRIPTS = {
  createAccount: script('createAccount', CREATE_ACCOUNT),
  createUser: script('createUser', CREATE_USER),
  userByEmail: script('userByEmail', USER_BY_EMAIL),
  updateUser: script('updateUser', UPDATE_USER),
  deleteUser: script('deleteUser', DELETE_USER),
  listUsers: script('listUsers', LIST_USERS),
  createMeeting: script('createMeeting', CREATE_MEETING),
  updateMeeting: script('updateMeeting', UPDATE_MEETING),
  deleteMeeting: script('deleteMeeting', DELETE_MEETING),
  listMeetings: script('listMeetings', LIST_MEETINGS),
  createZone: script('createZone', CREATE_ZONE),
  deleteZone: script('deleteZone', DELETE_ZONE),
  listZones: script('listZones', LIST_ZONES),
  createNode: script('createNode', CREATE_NODE),
  deleteNode: script('deleteNode', DELETE_NODE),
  listNodes: script('listNodes', LIST_NODES),
  assignModule: script('assignModule', ASSIGN_MODULE),
  removeModule: script('removeModule', REMOVE_MODULE),
  listModules: script('listModules', LIST_MODULES),
  listZoneModules: script('listZoneModules', LIST_ZONE_MODULES),
  countAttempt: script('countAttempt', COUNT_ATTEMPT),
} as const;
