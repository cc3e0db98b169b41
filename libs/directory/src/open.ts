import type { Directory } from './directory';
import type { DirectoryLogger } from './logger';
import { MemoryDirectory } from './memory-directory';
import { RedisDirectory } from './redis-directory';

export interface DirectorySettings {
  /** `memory`: this process only (all-in-one, tests; lost on exit); `redis`: shared by every dashboard process, durable with AOF. */
  readonly state: 'memory' | 'redis';
  /** Used when `state` is `redis`. */
  readonly redisUrl: string;
}

/**
 * Opens the directory a service's config names: the one place that chooses
 * an implementation. Resolves once a Redis directory answers, so a service
 * never starts on a store it cannot reach.
 */
export async function openDirectory(settings: DirectorySettings, logger: DirectoryLogger): Promise<Directory> {
  if (settings.state === 'memory') return new MemoryDirectory();
  const directory = new RedisDirectory({ url: settings.redisUrl, logger });
  try {
    await directory.ping();
  } catch (err) {
    await directory.close();
    throw err;
  }
  return directory;
}
