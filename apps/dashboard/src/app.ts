/**
 * Composition root of the control plane ("cloud" side, docs/control-plane.md):
 * the REST API over the directory of accounts, users and meetings, with its
 * OpenAPI document at /docs; the cloud meeting server (meeting-server/: a
 * WebSocket per participant of a cloud-hybrid meeting); and the cloud zone
 * controller (zone-controller/: gRPC for the ZCPs).
 */
import { createPublicKey } from 'node:crypto';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { CascadeNeeds } from '@meetedge/cascade';
import { MEETEDGE_VERSION } from '@meetedge/core';
import type { Directory } from '@meetedge/directory';
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
import { registerApi } from './api/routes';
import type { DashboardConfig } from './config';
import { ControlPlane } from './control-plane';
import { MEETING_SIGNAL_WEBSOCKET_OPTIONS, MeetingServer, registerMeetingServerMetrics, registerMeetingSignal } from './meeting-server';
import { zoneControllerService } from './zone-controller/service';

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
  /** Which zones must link which meetings to the cloud (fed by the meeting server). */
  readonly cascadeNeeds: CascadeNeeds;
  /** The cloud meeting server: its rooms (for stats and tests). */
  readonly meetingServer: MeetingServer;
  /** The cloud zone controller's gRPC port once started (the configured one, or the OS's choice for 0). */
  grpcPort(): number;
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

  // The cloud zone controller (gRPC), for the ZCPs.
  const cascadeNeeds = new CascadeNeeds();
  const grpc = new Server();
  grpc.addService(
    v1.ZoneControllerService,
    zoneControllerService({
      directory: deps.directory,
      needs: cascadeNeeds,
      cloudMmrId: config.cloudMmrId,
      cloudMmrCascadeAddress: config.cloudMmrCascadeAddress,
      publicUrl: config.publicUrl,
      logger: logger.child({ component: 'zone-controller' }),
    }),
  );

  // The cloud meeting server: signaling of cloud-hybrid meetings, a WebSocket per participant.
  const meetingServer = new MeetingServer({
    meetings: deps.directory,
    tokenPublicKey: createPublicKey(config.tokenPrivateKey),
    helloTimeoutMs: config.helloTimeoutMs,
    keepaliveMs: config.keepaliveMs,
    cascadeNeeds,
    logger: logger.child({ component: 'meeting-server' }),
    now: deps.now,
  });
  registerMeetingServerMetrics(metrics.registry, meetingServer);
  void http.register(websocket, MEETING_SIGNAL_WEBSOCKET_OPTIONS);
  void http.register(async (scope) => registerMeetingSignal(scope, meetingServer));

  let grpcPort = 0;

  return {
    name: 'dashboard',
    http,
    controlPlane,
    cascadeNeeds,
    meetingServer,
    grpcPort: () => grpcPort,
    async start() {
      grpcPort = await new Promise<number>((resolve, reject) => {
        grpc.bindAsync(`${config.httpHost}:${config.grpcPort}`, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
      });
      await http.listen({ host: config.httpHost, port: config.httpPort });
      return baseUrlOf(http);
    },
    close: once(async () => {
      await meetingServer.close();
      // Watch streams stay open until their ZCP goes: give calls a moment, then cut them (ZCPs reconnect elsewhere).
      await Promise.race([new Promise<void>((resolve) => grpc.tryShutdown(() => resolve())), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      grpc.forceShutdown();
      await http.close();
      if (deps.ownsDirectory) await deps.directory.close();
    }),
  };
}
