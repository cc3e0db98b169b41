/**
 * Composition root of the control plane ("cloud" side). Accounts, meetings,
 * zones and nodes, the cloud meeting server and the cloud zone controller
 * arrive with issue [3]; today it serves health and metrics.
 */
import { MEETEDGE_VERSION } from '@meetedge/core';
import {
  baseUrlOf,
  createHttpServer,
  createServiceMetrics,
  once,
  type Logger,
  type Service,
  type ServiceMetrics,
} from '@meetedge/service-kit';
import type { DashboardConfig } from './config';

export interface DashboardDeps {
  logger: Logger;
  metrics?: ServiceMetrics;
}

export function buildApp(config: DashboardConfig, deps: DashboardDeps): Service {
  const logger = deps.logger.child({ service: 'dashboard' });
  const metrics = deps.metrics ?? createServiceMetrics('dashboard');
  const http = createHttpServer({ service: 'dashboard', version: MEETEDGE_VERSION, logger, metrics });

  return {
    name: 'dashboard',
    http,
    async start() {
      await http.listen({ host: config.httpHost, port: config.httpPort });
      return baseUrlOf(http);
    },
    close: once(() => http.close()),
  };
}
