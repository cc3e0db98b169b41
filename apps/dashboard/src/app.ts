/**
 * Composition root of the control plane ("cloud" side, docs/control-plane.md):
 * the REST API over the directory of accounts, users and meetings, with its
 * OpenAPI document at /docs. The cloud meeting server and the cloud zone
 * controller join it in later steps of issue [3].
 */
import { createPublicKey } from 'node:crypto';
import swagger from '@fastify/swagger';
import { MEETEDGE_VERSION } from '@meetedge/core';
import type { Directory } from '@meetedge/directory';
import {
  baseUrlOf,
  createHttpServer,
  createServiceMetrics,
  once,
  type Logger,
  type Service,
  type ServiceMetrics,
} from '@meetedge/service-kit';
import { registerApi } from './api/routes';
import type { DashboardConfig } from './config';
import { ControlPlane } from './control-plane';

export interface DashboardDeps {
  logger: Logger;
  directory: Directory;
  /** Close the directory with the service (main.ts opened it). */
  ownsDirectory?: boolean;
  metrics?: ServiceMetrics;
  /** scrypt cost; tests pass a cheap one. */
  passwordParams?: { N: number; r: number; p: number };
  now?: () => number;
}

export interface DashboardService extends Service {
  readonly controlPlane: ControlPlane;
}

export function buildApp(config: DashboardConfig, deps: DashboardDeps): DashboardService {
  const logger = deps.logger.child({ service: 'dashboard' });
  const metrics = deps.metrics ?? createServiceMetrics('dashboard');
  const http = createHttpServer({
    service: 'dashboard',
    version: MEETEDGE_VERSION,
    logger,
    metrics,
    health: { directory: () => deps.directory.ping() },
  });
  const controlPlane = new ControlPlane({
    directory: deps.directory,
    tokenPrivateKey: config.tokenPrivateKey,
    tokenTtlSeconds: config.tokenTtlSeconds,
    signup: config.signup,
    signInLimits: { perUser: config.signInPerUser, perAddress: config.signInPerAddress },
    passwordParams: deps.passwordParams,
    publicUrl: config.publicUrl,
    cloudMmrUrl: config.cloudMmrUrl,
    now: deps.now,
  });

  void http.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'meetedge control plane',
        version: MEETEDGE_VERSION,
        description: 'Accounts, users and meetings of a meetedge deployment. Errors are `{ error: { code, message } }` with the HTTP status of the code.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  void http.register(async (api) =>
    registerApi(api, { controlPlane, tokenPublicKey: createPublicKey(config.tokenPrivateKey), now: deps.now }),
  );
  http.get('/docs', { schema: { hide: true } }, async () => http.swagger());

  return {
    name: 'dashboard',
    http,
    controlPlane,
    async start() {
      await http.listen({ host: config.httpHost, port: config.httpPort });
      return baseUrlOf(http);
    },
    close: once(async () => {
      await http.close();
      if (deps.ownsDirectory) await deps.directory.close();
    }),
  };
}
