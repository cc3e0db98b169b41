// CascadeNeedsWatcher against a loopback ZoneController whose streams the test controls.
import { MeetingId, ZcpId, ZoneId } from '@meetedge/core';
import { v1 } from '@meetedge/proto';
import { createLogger, createServiceMetrics, type ServiceMetrics } from '@meetedge/service-kit';
import { sleep, waitFor } from '@meetedge/test-kit';
import type { CascadeNeedChange } from './need';
import { CascadeNeedsWatcher, type CascadeNeedsWatcherOptions } from './needs-watcher';
import { FakeZoneController, needed } from './test-support';

const logger = createLogger({ level: 'silent' });

/** A metric's value (the sum over its labels). */
async function metric(metrics: ServiceMetrics, name: string): Promise<number> {
  const values = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

describe('CascadeNeedsWatcher', () => {
  let fake: FakeZoneController;
  let metrics: ServiceMetrics;
  let watcher: CascadeNeedsWatcher | undefined;
  let changes: CascadeNeedChange[];

  beforeEach(async () => {
    fake = await FakeZoneController.start();
    metrics = createServiceMetrics('zcp', false);
    changes = [];
  });

  afterEach(async () => {
    await watcher?.close();
    watcher = undefined;
    await fake.close();
  });

  function watch(options: Partial<CascadeNeedsWatcherOptions> = {}): CascadeNeedsWatcher {
    const w = new CascadeNeedsWatcher({ address: fake.address, zoneId: ZoneId('hq'), zcpId: ZcpId('zcp-1'), logger, metrics, initialBackoffMs: 20, maxBackoffMs: 40, ...options });
    w.watch((change) => changes.push(change));
    w.start();
    watcher = w;
    return w;
  }
  const current = (w: CascadeNeedsWatcher) => [...w.current().keys()].sort();
  const synced = () => waitFor(() => fake.streams() === 1 && fake.requests.length > 0, { description: 'a stream open' });

  it('replays the current needs at connect, then follows changes', async () => {
    fake.need('m-1');
    fake.need('m-2', { reason: v1.CascadeReason.OTHER_MODULE });
    const w = watch();
    await waitFor(() => w.current().size === 2, { description: 'replay' });
    expect(fake.requests).toEqual([{ zoneId: 'hq', zcpId: 'zcp-1' }]);
    expect(w.current().get(MeetingId('m-2'))).toEqual({ meetingId: 'm-2', targetServerId: 'cloud-mmr-1', targetAddress: '127.0.0.1:9701', reason: 'other-module' });
    fake.need('m-3');
    fake.end('m-1');
    await waitFor(() => changes.length === 4, { description: 'two changes' });
    expect(changes.map((c) => [c.type, c.type === 'needed' ? c.need.meetingId : c.meetingId])).toEqual([
      ['needed', 'm-1'],
      ['needed', 'm-2'],
      ['needed', 'm-3'],
      ['ended', 'm-1'],
    ]);
    expect(current(w)).toEqual(['m-2', 'm-3']);
    expect(await metric(metrics, 'meetedge_zcp_cascade_needs')).toBe(2);
  });

  it('tells a changed target again, and nothing for the same need told twice', async () => {
    fake.need('m-1');
    const w = watch();
    await waitFor(() => w.current().size === 1);
    fake.need('m-1');
    fake.need('m-1', { targetAddress: '127.0.0.1:9702' });
    await waitFor(() => changes.length === 2, { description: 'the new target' });
    expect(changes[1]).toMatchObject({ type: 'needed', need: { targetAddress: '127.0.0.1:9702' } });
  });

  it('reopens a dropped stream; a need the new replay leaves out ends at synced, not before', async () => {
    fake.need('m-1');
    fake.need('m-2');
    const w = watch();
    await waitFor(() => w.current().size === 2);
    fake.holdReplay = true;
    fake.forget('m-2');
    fake.drop();
    await waitFor(() => fake.requests.length === 2 && fake.streams() === 1, { description: 'the second stream' });
    await sleep(50);
    expect(current(w)).toEqual(['m-1', 'm-2']);
    fake.release();
    await waitFor(() => w.current().size === 1, { description: 'm-2 ended' });
    expect(current(w)).toEqual(['m-1']);
    // m-1 was replayed unchanged: nobody hears of it again.
    expect(changes.slice(2)).toEqual([{ type: 'ended', meetingId: 'm-2' }]);
    expect(await metric(metrics, 'meetedge_zcp_cascade_watch_reconnects_total')).toBe(1);
  });

  it('treats a seq gap as a broken stream: the event is not applied and the stream is reopened', async () => {
    const w = watch();
    await synced();
    fake.sendRaw({ $case: 'needed', value: needed('m-9') }, 1);
    await waitFor(() => fake.requests.length === 2, { description: 'a reconnect' });
    expect(w.current().size).toBe(0);
    expect(changes).toEqual([]);
    expect(await metric(metrics, 'meetedge_zcp_cascade_watch_reconnects_total')).toBe(1);
  });

  it('ignores and counts malformed events, and keeps the stream', async () => {
    const w = watch();
    await synced();
    const bad: v1.CascadeNeedEvent['kind'][] = [
      { $case: 'needed', value: needed('not an id') },
      { $case: 'needed', value: needed('m-1', { targetServerId: '' }) },
      { $case: 'needed', value: needed('m-1', { targetAddress: '' }) },
      { $case: 'needed', value: needed('m-1', { targetAddress: 'no-port' }) },
      { $case: 'ended', value: { meetingId: '' } },
      undefined,
      { $case: 'synced', value: { replayed: 0 } },
    ];
    for (const kind of bad) fake.sendRaw(kind);
    fake.need('m-2');
    await waitFor(() => w.current().size === 1, { description: 'the good need' });
    expect(current(w)).toEqual(['m-2']);
    expect(await metric(metrics, 'meetedge_zcp_cascade_events_malformed_total')).toBe(bad.length);
    expect(fake.requests).toHaveLength(1);
  });

  it('backs off exponentially while the controller is unreachable, reading the address at each try', async () => {
    const tries: number[] = [];
    const w = watch({
      address: () => {
        tries.push(Date.now());
        return tries.length < 6 ? '127.0.0.1:1' : fake.address;
      },
    });
    fake.need('m-1');
    await waitFor(() => w.current().size === 1, { description: 'connected at the sixth try' });
    const pauses = tries.slice(1).map((t, i) => t - (tries[i] ?? t));
    // 20, 40, then capped at 40 (setTimeout may fire a millisecond early).
    const least = [20, 40, 40, 40, 40];
    expect(pauses.map((p, i) => p >= (least[i] ?? 0) - 2)).toEqual([true, true, true, true, true]);
    expect(Math.max(...pauses)).toBeLessThan(150);
    expect(await metric(metrics, 'meetedge_zcp_cascade_watch_reconnects_total')).toBe(5);
  });

  it('close() ends the stream and every reconnect, and keeps a throwing listener from the others', async () => {
    const w = watch();
    w.watch(() => {
      throw new Error('listener bug');
    });
    w.watch((change) => changes.push(change));
    fake.need('m-1');
    await waitFor(() => changes.length === 2, { description: 'both good listeners' });
    await w.close();
    await w.close();
    await waitFor(() => fake.streams() === 0, { description: 'stream ended' });
    await sleep(100);
    expect(fake.requests).toHaveLength(1);
  });
});
