import { ModuleId, NodeId, ZoneId } from '@meetedge/core';
import { createLogger } from '@meetedge/service-kit';
import { loadAllInOneConfig } from './config';
import { buildSystem } from './system';

describe('all-in-one system', () => {
  it('builds the control plane, a zone with two ZCPs and two modules, and the cloud MMR on one store', async () => {
    const system = buildSystem(loadAllInOneConfig({}), createLogger({ level: 'silent' }));
    try {
      expect(system.services.map((s) => s.name)).toEqual(['dashboard', 'zcp-1', 'zcp-2', 'sfu-1', 'sfu-2', 'cloud-mmr']);
      for (const service of system.services) {
        const res = await service.http.inject({ method: 'GET', url: '/healthz' });
        expect([service.name, res.statusCode]).toEqual([service.name, 200]);
      }
      // One store: a module registered in it is what the ZCP lists.
      await system.state.registerModule(
        {
          id: ModuleId('sfu-1'),
          zoneId: ZoneId('local'),
          nodeId: NodeId('node-1'),
          role: 'edge',
          mediaUrl: 'ws://127.0.0.1:8100/v1/media',
          capacityUnits: 400,
          version: '0.1.0',
        },
        10_000,
      );
      const [, zcp, , , , cloudMmr] = system.services;
      const listed = await zcp?.http.inject({ method: 'GET', url: '/v1/zone/modules' });
      expect(listed?.json().modules.map((m: { id: string }) => m.id)).toEqual(['sfu-1']);
      const mmr = await cloudMmr?.http.inject({ method: 'GET', url: '/v1/module' });
      expect(mmr?.json()).toMatchObject({ role: 'cloud', mediaPort: 8802 });
    } finally {
      for (const service of system.services.reverse()) await service.close();
      await system.state.close();
    }
  });
});
