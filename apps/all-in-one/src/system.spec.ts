import { createLogger } from '@meetedge/service-kit';
import { loadAllInOneConfig } from './config';
import { buildSystem } from './system';

describe('all-in-one system', () => {
  it('builds the control plane, a zone with its ZCP and module, and the cloud MMR on one store', async () => {
    const system = buildSystem(loadAllInOneConfig({}), createLogger({ level: 'silent' }));
    try {
      expect(system.services.map((s) => s.name)).toEqual(['dashboard', 'zcp', 'sfu', 'cloud-mmr']);
      for (const service of system.services) {
        const res = await service.http.inject({ method: 'GET', url: '/healthz' });
        expect([service.name, res.statusCode]).toEqual([service.name, 200]);
      }
      const [, , , cloudMmr] = system.services;
      const mmr = await cloudMmr?.http.inject({ method: 'GET', url: '/v1/module' });
      expect(mmr?.json()).toMatchObject({ role: 'cloud', mediaPort: 8802 });
    } finally {
      for (const service of system.services.reverse()) await service.close();
      await system.state.close();
    }
  });
});
