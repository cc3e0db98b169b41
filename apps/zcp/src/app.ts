/**
 * Composition root of the zone controller proxy. Module registration over
 * gRPC, placement and the join API arrive with issue [4]; today the ZCP
 * serves its zone's live modules from the cluster state, health and metrics.
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
import type { ClusterState } from '@meetedge/state';
import type { ZcpConfig } from './config';

export interface ZcpDeps {
  logger: Logger;
  state: ClusterState;
  metrics?: ServiceMetrics;
  /** Close the store with the ZCP (it opened it); shared stores are closed by their owner. */
  ownsState?: boolean;
}

const moduleSchema = {
  type: 'object',
  required: ['id', 'nodeId', 'role', 'mediaUrl', 'capacityUnits', 'reservedUnits', 'draining', 'load', 'version'],
  properties: {
    id: { type: 'string' },
    nodeId: { type: 'string' },
    role: { type: 'string' },
    mediaUrl: { type: 'string' },
    capacityUnits: { type: 'integer' },
    reservedUnits: { type: 'integer' },
    draining: { type: 'boolean' },
    version: { type: 'string' },
    load: {
      type: 'object',
      properties: {
        participants: { type: 'number' },
        meetings: { type: 'number' },
        cpuPercent: { type: 'number' },
        egressKbps: { type: 'number' },
      },
    },
  },
} as const;

export function buildApp(config: ZcpConfig, deps: ZcpDeps): Service {
  const logger = deps.logger.child({ service: 'zcp', zcpId: config.zcpId, zoneId: config.zoneId });
  const metrics = deps.metrics ?? createServiceMetrics('zcp');
  const http = createHttpServer({
    service: 'zcp',
    version: MEETEDGE_VERSION,
    logger,
    metrics,
    health: { state: () => deps.state.ping() },
  });

  http.get(
    '/v1/zone/modules',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            required: ['zoneId', 'modules'],
            properties: { zoneId: { type: 'string' }, modules: { type: 'array', items: moduleSchema } },
          },
        },
      },
    },
    async () => ({ zoneId: config.zoneId, modules: await deps.state.listModules(config.zoneId) }),
  );

  return {
    name: 'zcp',
    http,
    async start() {
      await http.listen({ host: config.httpHost, port: config.httpPort });
      return baseUrlOf(http);
    },
    close: once(async () => {
      await http.close();
      if (deps.ownsState) await deps.state.close();
    }),
  };
}
