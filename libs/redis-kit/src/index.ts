/**
 * @meetedge/redis-kit — the Redis plumbing the stores share (libs/state's
 * cluster state, libs/directory's records): Lua scripts run by SHA with a
 * source fallback, Redis errors mapped to coded errors, closing a connection.
 */
export { LuaScript, asArray, quitConnection, toStoreError } from './redis-kit';
