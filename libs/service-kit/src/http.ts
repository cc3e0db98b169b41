/**
 * The HTTP face every meetedge service shares: fastify with the process's
 * pino logger, coded errors translated once (STYLE.md, "Coded errors,
 * translated once"), `GET /healthz` and Prometheus `GET /metrics`.
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { MeetedgeError, toErrorBody, type ErrorBody } from '@meetedge/core';
import type { Logger } from './logger';
import type { ServiceMetrics } from './metrics';

/** A dependency the service needs to do its work; it throws when unhealthy. */
export type HealthCheck = () => Promise<void>;

export interface HttpServerOptions {
  /** Service name, reported by /healthz. */
  service: string;
  version: string;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Named checks run by /healthz (e.g. `state: () => store.ping()`). */
  health?: Record<string, HealthCheck>;
  /** A check that has not answered after this many ms counts as failed. Default 2000. */
  healthTimeoutMs?: number;
  /** Largest request body accepted, bytes. Default 64 KiB: no meetedge request is bigger. */
  bodyLimit?: number;
}

export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

const healthSchema = {
  type: 'object',
  required: ['status', 'service', 'version', 'uptimeSeconds', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    service: { type: 'string' },
    version: { type: 'string' },
    uptimeSeconds: { type: 'number' },
    checks: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

/** Maps a thrown value to the status and body a client sees. */
export function httpErrorOf(err: unknown): { status: number; body: ErrorBody } {
  const fe = err as Partial<FastifyError>;
  if (fe && typeof fe === 'object' && !(err instanceof MeetedgeError)) {
    if (fe.validation) {
      return { status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: fe.message ?? 'invalid request' } } };
    }
    // fastify's own client errors (bad JSON, wrong content type, body too large).
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return {
        status: fe.statusCode,
        body: { error: { code: fe.statusCode === 429 ? 'RATE_LIMITED' : 'INVALID_ARGUMENT', message: fe.message ?? 'bad request' } },
      };
    }
  }
  const { status, body } = toErrorBody(err);
  return { status, body };
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const startedAt = Date.now();
  const app = Fastify({
    // pino's Logger is wider than fastify's base logger type; they are the same object.
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    requestIdHeader: 'x-request-id',
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  });

  app.setErrorHandler((err, request, reply) => {
    const { status, body } = httpErrorOf(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: body.error.code, status }, body.error.message);
    void reply.status(status).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    } satisfies ErrorBody);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    options.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    options.metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  const timeoutMs = options.healthTimeoutMs ?? 2000;

  // Liveness: the process serves HTTP. Never depends on Redis or a peer, so a
  // dependency's blip does not get every pod restarted.
  app.get('/livez', { logLevel: 'warn' }, async () => ({ status: 'ok' }));

  // Readiness: the service and everything it needs answer.
  app.get(
    '/healthz',
    { logLevel: 'warn', schema: { response: { 200: healthSchema, 503: healthSchema } } },
    async (_request, reply) => {
      const checks: Record<string, string> = {};
      let ok = true;
      await Promise.all(
        Object.entries(options.health ?? {}).map(async ([name, check]) => {
          let timer: NodeJS.Timeout | undefined;
          try {
            await Promise.race([
              check(),
              new Promise((_, reject) => {
                timer = setTimeout(() => reject(new MeetedgeError('UNAVAILABLE', `${name} check timed out`)), timeoutMs);
              }),
            ]);
            checks[name] = 'ok';
          } catch (err) {
            ok = false;
            checks[name] = err instanceof MeetedgeError ? err.code : 'failed';
          } finally {
            clearTimeout(timer);
          }
        }),
      );
      return reply.status(ok ? 200 : 503).send({
        status: ok ? 'ok' : 'unavailable',
        service: options.service,
        version: options.version,
        uptimeSeconds: (Date.now() - startedAt) / 1000,
        checks,
      });
    },
  );

  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const text = await options.metrics.registry.metrics();
    return reply.header('content-type', options.metrics.registry.contentType).send(text);
  });

  return app;
}
