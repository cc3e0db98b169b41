export * from './cluster-state';
export { MemoryClusterState, type MemoryClusterStateOptions } from './memory-cluster-state';
export { RedisClusterState, type RedisClusterStateOptions } from './redis-cluster-state';
export type { StateLogger } from './logger';
export { MAX_TTL_MS } from './validate';
export { DEFAULT_KEY_PREFIX, KEY_TEMPLATES, clusterKeys, type ClusterKeys, type KeyName } from './redis/keys';
export { openClusterState, type StateSettings } from './open';
