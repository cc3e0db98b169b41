/**
 * Composition root of the zone controller proxy: module registration over
 * gRPC (registry/), the join API with placement (join/, placement/), the
 * zone's live modules, the probe, health and metrics (docs/zcp.md).
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { MEETEDGE_VERSION } from '@meetedge/core';
import { v1 } from '@meetedge/proto';
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
import { CascadeNeedsWatcher, CascadeRelay } from './cascade';
import type { ZcpConfig } from './config';
import { Assigner, CachedMeetingInfoSource, GrpcMeetingInfoSource, registerJoinRoutes, type MeetingInfoSource } from './join';
import { ModuleRegistry, type ModuleRegistryOptions } from './registry/module-registry';
import { registerRegistryRoutes } from './registry/routes';

export interface ZcpDeps {
  logger: Logger;
  state: ClusterState;
  metrics?: ServiceMetrics;
  /** Close the store with the ZCP (it opened it); shared stores are closed by their owner. */
  ownsState?: boolean;
  /** Registry timings (tests shorten them); defaults in registry/module-registry.ts. */
  registry?: Pick<ModuleRegistryOptions, 'heartbeatIntervalMs' | 'ttlMs' | 'sweepIntervalMs'>;
  /** Meeting info for joins; default: the cloud zone controller at MEETEDGE_ZONE_CONTROLLER_ADDRESS (closed with the ZCP). */
  meetingInfo?: MeetingInfoSource;
  /** Clock for tokens and tickets, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** The cloud zone controller's address, read at the first join and at each cascade-needs connect; default MEETEDGE_ZONE_CONTROLLER_ADDRESS. */
  zoneControllerAddress?: () => string;
}

export interface ZcpService extends Service {
  /** Modules of the zone registered over gRPC, and the commands sent to them. */
  readonly registry: ModuleRegistry;
  /** The bound ZoneControllerProxy gRPC port (after start). */
  grpcPort(): number;
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

/** How long a ZCP keeps a meeting's info from the cloud zone controller, ms. */
const MEETING_INFO_TTL_MS = 5000;

export function buildApp(config: ZcpConfig, deps: ZcpDeps): ZcpService {
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

  // The cheapest answer a client can time: its zone choice probes every zone's ZCPs (docs/zcp.md).
  http.get(
    '/v1/probe',
    {
      schema: {
        response: { 200: { type: 'object', required: ['zoneId', 'zcpId'], properties: { zoneId: { type: 'string' }, zcpId: { type: 'string' } } } },
      },
    },
    async (_request, reply) => {
      void reply.header('cache-control', 'no-store');
      return { zoneId: config.zoneId, zcpId: config.zcpId };
    },
  );

  const registry = new ModuleRegistry({
    ...deps.registry,
    zcpId: config.zcpId,
    zoneId: config.zoneId,
    state: deps.state,
    logger,
    metrics,
    onRegistered: (moduleId) => cascade.onRegistered(moduleId),
  });
  const zoneControllerAddress = deps.zoneControllerAddress ?? config.zoneControllerAddress;
  // The cloud zone controller's cascade needs, relayed to the zone's modules as SetCascade (docs/zcp.md, "Cascade needs").
  const cascadeNeeds = new CascadeNeedsWatcher({ address: zoneControllerAddress, zoneId: config.zoneId, zcpId: config.zcpId, logger, metrics });
  const cascade = new CascadeRelay({ zoneId: config.zoneId, state: deps.state, modules: registry, needs: cascadeNeeds, logger, metrics });
  const now = deps.now ?? Date.now;
  registerRegistryRoutes(http, registry, { tokenPublicKey: config.tokenPublicKey, now });
  const meetingInfo =
    deps.meetingInfo ??
    new CachedMeetingInfoSource(new GrpcMeetingInfoSource({ address: zoneControllerAddress, zoneId: config.zoneId, zcpId: config.zcpId }), {
      ttlMs: MEETING_INFO_TTL_MS,
    });
  const assigner = new Assigner({
    zoneId: config.zoneId,
    state: deps.state,
    meetingInfo,
    ticketKey: config.ticketPrivateKey,
    ticketTtlMs: config.ticketTtlMs,
    cloudMmrUrl: config.cloudMmrUrl,
    announce: (moduleId, info, expected) => {
      registry.announce(moduleId, info, expected);
      cascade.onPlaced(moduleId, expected.meetingId);
    },
    logger,
    now,
  });
  registerJoinRoutes(http, { assigner, tokenPublicKey: config.tokenPublicKey, now });

  const grpc = new Server();
  grpc.addService(v1.ZoneControllerProxyService, registry.service);
  let grpcPort = 0;

  return {
    name: 'zcp',
    http,
    registry,
    grpcPort: () => grpcPort,
    async start() {
      grpcPort = await new Promise<number>((resolve, reject) => {
        grpc.bindAsync(`${config.httpHost}:${config.grpcPort}`, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
      });
      registry.start();
      cascadeNeeds.start();
      logger.info({ grpcPort }, 'module registry listening');
      await http.listen({ host: config.httpHost, port: config.httpPort });
      return baseUrlOf(http);
    },
    close: once(async () => {
      await cascadeNeeds.close();
      await cascade.close();
      await registry.close();
      await Promise.race([new Promise<void>((resolve) => grpc.tryShutdown(() => resolve())), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      grpc.forceShutdown();
      await http.close();
      if (!deps.meetingInfo) await meetingInfo.close();
      if (deps.ownsState) await deps.state.close();
    }),
  };
}
