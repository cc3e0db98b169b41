import { ModuleId, NodeId, ZoneId } from '@meetedge/core';
import { createLogger, type Service } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { buildApp } from './app';
import { loadZcpConfig } from './config';
import { zcpKeyEnv } from './join/test-support';

describe('zcp app', () => {
  let state: MemoryClusterState;
  let app: Service;

  beforeEach(async () => {
    state = new MemoryClusterState();
    const config = loadZcpConfig({ ...zcpKeyEnv(), MEETEDGE_ZCP_ID: 'zcp-1', MEETEDGE_ZONE_ID: 'hq' });
    app = buildApp(config, { logger: createLogger({ level: 'silent' }), state });
    await app.http.ready();
  });

  afterEach(async () => {
    await app.close();
    await state.close();
  });

  const register = (id: string, zone: string) =>
    state.registerModule(
      {
        id: ModuleId(id),
        zoneId: ZoneId(zone),
        nodeId: NodeId('n1'),
        role: 'edge',
        mediaUrl: `wss://${id}.corp/v1/media`,
        capacityUnits: 400,
        version: '0.1.0',
      },
      10_000,
    );

  it('GET /v1/probe answers at once, uncached, with who answers (zone choice by RTT)', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/v1/probe' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({ zoneId: 'hq' });
  });

  it('GET /v1/zone/modules lists the live modules of its own zone only', async () => {
    await register('sfu-b', 'hq');
    await register('sfu-a', 'hq');
    await register('sfu-x', 'branch');
    const res = await app.http.inject({ method: 'GET', url: '/v1/zone/modules' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.zoneId).toBe('hq');
    expect(body.modules.map((m: { id: string }) => m.id)).toEqual(['sfu-a', 'sfu-b']);
    expect(body.modules[0]).toMatchObject({ capacityUnits: 400, reservedUnits: 0, draining: false, mediaUrl: 'wss://sfu-a.corp/v1/media' });
  });

  it('does not close a store it does not own', async () => {
    await app.close();
    await expect(state.ping()).resolves.toBeUndefined();
  });
});
