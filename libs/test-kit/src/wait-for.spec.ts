import { waitFor } from './wait-for';

describe('waitFor()', () => {
  it('resolves with the first truthy value, polling until then', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('accepts async predicates and treats a throw as not yet', async () => {
    let calls = 0;
    const value = await waitFor(
      async () => {
        calls++;
        if (calls < 2) throw new Error('not yet');
        return 'ready';
      },
      { intervalMs: 1 },
    );
    expect(value).toBe('ready');
  });

  it('rejects after the timeout, naming the condition and keeping the last error', async () => {
    const started = Date.now();
    const error = await waitFor(
      () => {
        throw new Error('still broken');
      },
      { timeoutMs: 50, intervalMs: 5, description: 'the thing' },
    ).catch((err: unknown) => err);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('waitFor: the thing not met within 50 ms');
    expect(((error as Error).cause as Error).message).toBe('still broken');
  });
});
