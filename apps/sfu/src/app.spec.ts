import { generateTicketKeys } from '@meetedge/core';
import { createLogger, type Service } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { buildApp, chooseFastPath } from './app';
import { loadSfuConfig } from './config';

describe('sfu app', () => {
  let state: MemoryClusterState;
  let app: Service;

  beforeEach(async () => {
    state = new MemoryClusterState();
    const config = loadSfuConfig({
      MEETEDGE_MODULE_ID: 'sfu-7',
      MEETEDGE_ZONE_ID: 'hq',
      MEETEDGE_NODE_ID: 'node-2',
      MEETEDGE_ROLE: 'cloud',
      MEETEDGE_CAPACITY_UNITS: '200',
      MEETEDGE_TICKET_PUBLIC_KEY: generateTicketKeys().publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    app = buildApp(config, { logger: createLogger({ level: 'silent' }), state, ownsState: true });
    await app.http.ready();
  });

  afterEach(() => app.close());

  it('is named after its role', () => {
    expect(app.name).toBe('cloud-mmr');
  });

  it('GET /v1/module tells who the module is', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/v1/module' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      id: 'sfu-7',
      zoneId: 'hq',
      nodeId: 'node-2',
      role: 'cloud',
      mediaPort: 8801,
      capacityUnits: 200,
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
  });

  it('GET /v1/probe answers at once, uncached, with who answers (zone choice by RTT)', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/v1/probe' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({ moduleId: 'sfu-7', zoneId: 'hq' });
  });

  it('GET /healthz is 200 while the cluster state answers, 503 once it does not', async () => {
    expect((await app.http.inject({ method: 'GET', url: '/healthz' })).json()).toMatchObject({ status: 'ok', service: 'cloud-mmr', checks: { state: 'ok' } });
    await state.close();
    const res = await app.http.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ checks: { state: 'UNAVAILABLE' } });
  });

  it('GET /metrics is labelled with the service and reports media and capacity', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).toContain('service="cloud-mmr"');
    expect(res.body).toMatch(/meetedge_sfu_capacity_units\{service="cloud-mmr"\} 200/);
    expect(res.body).toMatch(/meetedge_sfu_packets_out_total\{service="cloud-mmr"\} 0/);
    expect(res.body).toMatch(/meetedge_sfu_udp_dropped_total\{service="cloud-mmr"\} 0/);
    expect(res.body).toMatch(/meetedge_sfu_tcp_refused_total\{service="cloud-mmr"\} 0/);
  });

  it('close() is idempotent and closes the store it owns', async () => {
    await Promise.all([app.close(), app.close()]);
    await expect(state.ping()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('chooseFastPath', () => {
  const missing = () => ({ error: 'meetedge_fastpath.node is not built' });
  it('auto takes the addon when it loads, and says why not when it does not', () => {
    expect(chooseFastPath('auto').fastPath).toBeDefined();
    expect(chooseFastPath('auto', missing)).toEqual({ why: 'meetedge_fastpath.node is not built' });
  });

  it('on refuses to start without the addon, with a coded error naming why', () => {
    expect(() => chooseFastPath('on', missing)).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: 'MEETEDGE_MEDIA_FAST_PATH=on, but meetedge_fastpath.node is not built' }),
    );
    expect(chooseFastPath('on').fastPath).toBeDefined();
  });

  it('off never loads it', () => {
    const load = jest.fn(missing);
    expect(chooseFastPath('off', load)).toEqual({ why: 'MEETEDGE_MEDIA_FAST_PATH=off' });
    expect(load).not.toHaveBeenCalled();
  });
});
