/**
 * Fixtures the contract suite runs on, one per implementation, and a manual
 * clock for memory-directory tests that need time to pass without waiting.
 */
import type { Directory } from '../directory';
import { MemoryDirectory } from '../memory-directory';
import { RedisDirectory } from '../redis-directory';

/** Directories sharing one fresh, isolated store, as several dashboard processes share one. */
export interface DirectoryFixture {
  /** `peers` directories over the same records; for Redis each is its own connection. */
  readonly directories: readonly Directory[];
  /** Closes every directory of the fixture (idempotent, like `Directory.close`). */
  close(): Promise<void>;
}

/** Builds a fixture of `peers` directories over a store no other fixture sees. */
export type DirectoryFactory = (options: { readonly peers: number }) => Promise<DirectoryFixture>;

/** A clock tests move by hand; pass `clock.now` as a memory directory's `now`. */
export class ManualClock {
  constructor(private current = 1_700_000_000_000) {}

  readonly now = (): number => this.current;

  advance(ms: number): void {
    this.current += ms;
  }
}

/**
 * Memory fixtures: one `MemoryDirectory` (on the real clock: the suite's
 * attempt windows are real time). Its "peers" are the same instance, because
 * in-memory records are shared by sharing the object.
 */
export function memoryDirectoryFactory(): DirectoryFactory {
  return async ({ peers }) => {
    const directory = new MemoryDirectory();
    return {
      directories: Array.from({ length: peers }, () => directory),
      close: () => directory.close(),
    };
  };
}

let fixtureCount = 0;

/**
 * Redis fixtures on a test Redis at `url`: each gets its own key prefix (so
 * its own records) and `peers` separate `RedisDirectory`s, hence separate
 * connections, as separate dashboard processes would have.
 */
export function redisDirectoryFactory(url: string): DirectoryFactory {
  return async ({ peers }) => {
    const keyPrefix = `test-dir-${process.pid}-${++fixtureCount}:`;
    const directories = Array.from({ length: peers }, () => new RedisDirectory({ url, keyPrefix }));
    const close = async (): Promise<void> => {
      await Promise.all(directories.map((directory) => directory.close()));
    };
    try {
      await Promise.all(directories.map((directory) => directory.ping()));
    } catch (err) {
      await close();
      throw err;
    }
    return {
      directories,
      close,
    };
  };
}
