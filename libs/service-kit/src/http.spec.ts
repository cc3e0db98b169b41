import { Writable } from 'node:stream';
import { MeetedgeError } from '@meetedge/core';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from './http';
import { createLogger } from './logger';
import { createServiceMetrics } from './metrics';

describe('createHttpServer', () => {
  let app: FastifyInstance;
  let logLines: string[];
  let healthy: boolean;
  let hang: boolean;

  beforeEach(async () => {
    logLines = [];
    healthy = true;
    hang = false;
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    app = createHttpServer({
      service: 'test',
      version: '9.9.9',
      logger: createLogger({ level: 'info', destination }),
      metrics: createServiceMetrics('test', false),
      health: {
        store: async () => {
          if (!healthy) throw new MeetedgeError('UNAVAILABLE', 'store down');
          if (hang) await new Promise(() => undefined);
        },
      },
      healthTimeoutMs: 50,
    });
    app.get('/coded', async () => {
      throw new MeetedgeError('CAPACITY_EXCEEDED', 'module sfu-1 has no room for 2 units', { moduleId: 'sfu-1' });
    });
    app.get('/bug', async () => {
      throw new Error('secret internals: password=hunter2');
    });
    app.post(
      '/echo',
      { schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } }, additionalProperties: false } } },
      async (request) => request.body,
    );
    await app.ready();
  });

  afterEach(() => app.close());

  it('GET /healthz answers 200 with each check while dependencies answer', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', service: 'test', version: '9.9.9', checks: { store: 'ok' } });
  });

  it('GET /healthz answers 503 naming the failing check', async () => {
    healthy = false;
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'unavailable', checks: { store: 'UNAVAILABLE' } });
  });

  it('GET /healthz counts a check that does not answer in time as failed', async () => {
    hang = true;
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ checks: { store: 'UNAVAILABLE' } });
  });

  it('GET /livez answers 200 even while a dependency is down', async () => {
    healthy = false;
    const res = await app.inject({ method: 'GET', url: '/livez' });
    expect(res.statusCode).toBe(200);
  });

  it('GET /metrics serves Prometheus text with request counts by route', async () => {
    await app.inject({ method: 'GET', url: '/healthz' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/meetedge_http_requests_total\{method="GET",route="\/healthz",status="200",service="test"\} 1/);
  });

  it('answers a coded error with its status, code and message', async () => {
    const res = await app.inject({ method: 'GET', url: '/coded' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      error: { code: 'CAPACITY_EXCEEDED', message: 'module sfu-1 has no room for 2 units', details: { moduleId: 'sfu-1' } },
    });
  });

  it('hides an unexpected error behind INTERNAL and logs it', async () => {
    const res = await app.inject({ method: 'GET', url: '/bug' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    expect(logLines.join('')).toContain('secret internals');
  });

  it('answers a schema violation with 400 INVALID_ARGUMENT saying what was wrong', async () => {
    const res = await app.inject({ method: 'POST', url: '/echo', payload: { n: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('INVALID_ARGUMENT');
    expect(res.json().error.message).toMatch(/body\/n must be integer/);
  });

  it('answers malformed JSON with 400 INVALID_ARGUMENT', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"n":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('INVALID_ARGUMENT');
  });

  it('answers an unknown route with 404 NOT_FOUND and keeps serving', async () => {
    const res = await app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route GET /nope' } });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('redacts secrets from log lines', async () => {
    app.log.info({ user: { password: 'hunter2', token: 'abc' } }, 'signed in');
    const line = logLines.find((l) => l.includes('signed in'));
    expect(line).toBeDefined();
    expect(line).not.toContain('hunter2');
    expect(line).not.toContain('abc');
    expect(line).toContain('[redacted]');
  });
});
