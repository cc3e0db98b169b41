import { generateTicketKeys } from '@meetedge/core';
import { MemoryDirectory } from '@meetedge/directory';
import { createLogger } from '@meetedge/service-kit';
import { buildApp, type DashboardService } from './app';
import { loadDashboardConfig } from './config';

const pem = generateTicketKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('dashboard app', () => {
  let app: DashboardService;

  beforeEach(async () => {
    app = buildApp(loadDashboardConfig({ MEETEDGE_TOKEN_PRIVATE_KEY: pem }), {
      logger: createLogger({ level: 'silent' }),
      directory: new MemoryDirectory(),
      ownsDirectory: true,
    });
    await app.http.ready();
  });

  afterEach(() => app.close());

  it('GET /healthz answers 200 with the directory checked', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', service: 'dashboard', checks: { directory: 'ok' } });
  });

  it('answers an unknown route with a coded 404', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/v1/nothing' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
  });

  it('refuses to boot without a token signing key, or with one that is not Ed25519', () => {
    expect(() => loadDashboardConfig({})).toThrow(/MEETEDGE_TOKEN_PRIVATE_KEY/);
    expect(() => loadDashboardConfig({ MEETEDGE_TOKEN_PRIVATE_KEY: 'not a key' })).toThrow(/MEETEDGE_TOKEN_PRIVATE_KEY.*Ed25519 private key/);
  });
});
