/**
 * Fixtures the contract suite runs on, one per implementation, and the manual
 * clock that lets memory-store tests make time pass without waiting.
 */
import { sleep } from '@meetedge/test-kit';
import type { ClusterState } from '../cluster-state';
import { MemoryClusterState } from '../memory-cluster-state';
import { RedisClusterState } from '../redis-cluster-state';

/**
 * Stores sharing one fresh, isolated state, as several processes (ZCPs,
 * modules) would share it, and a way to make store time pass.
 */
export interface ClusterStateFixture {
  /** `peers` stores over the same state; for Redis each is its own connection. */
  readonly stores: readonly ClusterState[];
  /**
   * A TTL the suite can afford to wait out (with `advance`). Nothing in the
   * suite relies on something with this TTL still being live after a delay;
   * only on it being expired after `advance(shortTtlMs)`.
   */
  readonly shortTtlMs: number;
  /** Makes at least `ms` of store time pass: a manual clock moves, or real time is waited out. */
  advance(ms: number): Promise<void>;
  /** Closes every store of the fixture. */
  close(): Promise<void>;
}

/** Builds a fixture of `peers` stores over a state no other fixture sees. */
export type ClusterStateFactory = (options: { readonly peers: number }) => Promise<ClusterStateFixture>;

/** A clock tests move by hand; pass `clock.now` as a store's `now`. */
export class ManualClock {
  constructor(private current = 1_700_000_000_000) {}

  readonly now = (): number => this.current;

  advance(ms: number): void {
    this.current += ms;
  }
}

/**
 * Memory fixtures: one `MemoryClusterState` on a manual clock. Its "peers"
 * are the same instance, because in-memory state is shared by sharing the
 * object (the all-in-one process does exactly that).
 */
export function memoryClusterStateFactory(): ClusterStateFactory {
  return async ({ peers }) => {
    const clock = new ManualClock();
    const store = new MemoryClusterState({ now: clock.now });
    return {
      stores: Array.from({ length: peers }, () => store),
      shortTtlMs: 1000,
      advance: async (ms) => {
        clock.advance(ms);
      },
      close: () => store.close(),
    };
  };
}

let fixtureCount = 0;

/**
 * Redis fixtures on a test Redis at `url`: each gets its own key prefix (so
 * its own keys and event channel) and `peers` separate `RedisClusterState`s,
 * hence separate connections, as separate ZCPs would have. Expiry uses real
 * short TTLs and waits them out, because liveness runs on the Redis clock.
 */
export function redisClusterStateFactory(url: string, options: { shortTtlMs?: number } = {}): ClusterStateFactory {
  const shortTtlMs = options.shortTtlMs ?? 150;
  return async ({ peers }) => {
    const keyPrefix = `test-${process.pid}-${++fixtureCount}:`;
    const stores = Array.from({ length: peers }, () => new RedisClusterState({ url, keyPrefix }));
    await Promise.all(stores.map((store) => store.ping()));
    return {
      stores,
      shortTtlMs,
      // A little more than asked: timers and the Redis clock are different clocks.
      advance: (ms) => sleep(ms + 25),
      close: async () => {
        await Promise.all(stores.map((store) => store.close()));
      },
    };
  };
}
