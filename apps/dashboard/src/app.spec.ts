import { createLogger, type Service } from '@meetedge/service-kit';
import { buildApp } from './app';
import { loadDashboardConfig } from './config';

describe('dashboard app', () => {
  let app: Service;

  beforeEach(async () => {
    app = buildApp(loadDashboardConfig({}), { logger: createLogger({ level: 'silent' }) });
    await app.http.ready();
  });

  afterEach(() => app.close());

  it('GET /healthz answers 200', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', service: 'dashboard' });
  });

  it('answers an unknown route with a coded 404', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/v1/nothing' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
  });
});
