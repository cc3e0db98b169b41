/**
 * Polling instead of fixed sleeps: tests wait for a condition, not for a
 * guess of how long something takes, so they stay deterministic on a busy
 * machine and fast on an idle one.
 */

export interface WaitForOptions {
  /** Give up after this long, ms. Default 5 000. */
  readonly timeoutMs?: number;
  /** Pause between checks, ms. Default 10. */
  readonly intervalMs?: number;
  /** Names the condition in the timeout error. */
  readonly description?: string;
}

/**
 * Resolves with the first truthy value `predicate` returns (it may be async);
 * rejects once `timeoutMs` has passed without one. A predicate that throws
 * counts as not yet true; its last error is attached to the timeout error.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = options.description ?? 'condition';
      throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms`, lastError ? { cause: lastError } : undefined);
    }
    await sleep(intervalMs);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
