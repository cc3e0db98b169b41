import { ModuleId, NodeId, ZoneId } from '@meetedge/core';
import { waitFor } from '@meetedge/test-kit';
import type { ClusterEvent } from './cluster-state';
import { MemoryClusterState } from './memory-cluster-state';
import { describeClusterStateContract, ManualClock, memoryClusterStateFactory } from './testing';

describeClusterStateContract('MemoryClusterState', memoryClusterStateFactory());

describe('MemoryClusterState', () => {
  const registration = {
    id: ModuleId('sfu-1'),
    zoneId: ZoneId('zone-a'),
    nodeId: NodeId('node-1'),
    role: 'edge' as const,
    mediaUrl: 'wss://sfu-1.corp.example/v1/media',
    capacityUnits: 400,
    version: '1.0.0',
  };

  it('keeps time with the injected clock', async () => {
    const clock = new ManualClock(5_000);
    const store = new MemoryClusterState({ now: clock.now });
    await store.registerModule(registration, 1000);
    expect(await store.getModule(registration.id)).toMatchObject({ registeredAt: 5_000, expiresAt: 6_000 });
    clock.advance(999);
    expect(await store.getModule(registration.id)).toBeDefined();
    clock.advance(1);
    expect(await store.getModule(registration.id)).toBeUndefined();
    await store.close();
  });

  it('delivers events after the operation, not inside it, and reports listener errors to the logger', async () => {
    const warnings: Array<[object, string]> = [];
    const store = new MemoryClusterState({ logger: { warn: (obj, msg) => warnings.push([obj, msg]) } });
    const seen: ClusterEvent[] = [];
    await store.subscribe((event) => {
      seen.push(event);
      throw new Error('listener bug');
    });
    await store.registerModule(registration, 60_000);
    const removal = store.deregisterModule(registration.id);
    expect(seen).toEqual([]);
    await removal;
    await waitFor(() => warnings.length === 1);
    expect(seen).toEqual([{ type: 'module-gone', moduleId: 'sfu-1', zoneId: 'zone-a', reason: 'deregistered' }]);
    expect(warnings[0]?.[1]).toBe('cluster event listener threw');
    await store.close();
  });

  it('hands out snapshots: changing a returned module changes nothing in the store', async () => {
    const store = new MemoryClusterState();
    await store.registerModule(registration, 60_000);
    const state = await store.getModule(registration.id);
    expect(Object.isFrozen(state)).toBe(true);
    (state?.load as { participants: number }).participants = 99;
    expect((await store.getModule(registration.id))?.load.participants).toBe(0);
    await store.close();
  });
});
