/**
 * Composition root of the SFU/iMMR module: `buildApp(config, deps)` wires the
 * module's parts; main.ts (own process) and the all-in-one process both call
 * it. Media forwarding arrives with issue [2]; today the module serves its
 * identity, health and metrics.
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
import type { SfuConfig } from './config';

export interface SfuDeps {
  /** Root or parent logger; the module binds its own context to a child. */
  logger: Logger;
  state: ClusterState;
  metrics?: ServiceMetrics;
  /** Closed with the module when the module created it (own process); shared stores are closed by their owner. */
  ownsState?: boolean;
}

const moduleInfoSchema = {
  type: 'object',
  required: ['id', 'zoneId', 'nodeId', 'role', 'mediaPort', 'capacityUnits', 'version'],
  properties: {
    id: { type: 'string' },
    zoneId: { type: 'string' },
    nodeId: { type: 'string' },
    role: { type: 'string', enum: ['edge', 'cloud'] },
    mediaPort: { type: 'integer' },
    capacityUnits: { type: 'integer' },
    version: { type: 'string' },
  },
} as const;

export function buildApp(config: SfuConfig, deps: SfuDeps): Service {
  const name = config.role === 'cloud' ? 'cloud-mmr' : 'sfu';
  const logger = deps.logger.child({ service: name, moduleId: config.moduleId, zoneId: config.zoneId, role: config.role });
  const metrics = deps.metrics ?? createServiceMetrics(name);
  const http = createHttpServer({
    service: name,
    version: MEETEDGE_VERSION,
    logger,
    metrics,
    health: { state: () => deps.state.ping() },
  });

  http.get('/v1/module', { schema: { response: { 200: moduleInfoSchema } } }, async () => ({
    id: config.moduleId,
    zoneId: config.zoneId,
    nodeId: config.nodeId,
    role: config.role,
    mediaPort: config.mediaPort,
    capacityUnits: config.capacityUnits,
    version: MEETEDGE_VERSION,
  }));

  return {
    name,
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
