import type { ClusterState } from './cluster-state';
import type { StateLogger } from './logger';
import { MemoryClusterState } from './memory-cluster-state';
import { RedisClusterState } from './redis-cluster-state';

export interface StateSettings {
  /** `memory`: this process only (all-in-one, tests); `redis`: shared by every process. */
  readonly state: 'memory' | 'redis';
  readonly redisUrl: string;
}

/**
 * Opens the store a service's config names: the one place that chooses an
 * implementation. Resolves once a Redis store answers, so a service never
 * starts on a store it cannot reach.
 */
export async function openClusterState(
  settings: StateSettings,
  logger: StateLogger,
): Promise<ClusterState> {
  if (settings.state === 'memory') return new MemoryClusterState();
  const store = new RedisClusterState({ url: settings.redisUrl, logger });
  try {
    await store.ping();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
