/**
 * Composition root of the SFU/iMMR module: `buildApp(config, deps)` wires the
 * module's parts; main.ts (own process) and the all-in-one process both call
 * it. Clients open their media session on `GET /v1/media` (WebSocket,
 * docs/protocol.md); media flows over werift connections whose forwarding
 * decisions come from @meetedge/media.
 */
import websocket from '@fastify/websocket';
import { MEETEDGE_VERSION } from '@meetedge/core';
import {
  Gauge,
  baseUrlOf,
  createHttpServer,
  createServiceMetrics,
  once,
  type Logger,
  type Service,
  type ServiceMetrics,
} from '@meetedge/service-kit';
import { MAX_CLIENT_MESSAGE_BYTES } from '@meetedge/signaling';
import type { ClusterState } from '@meetedge/state';
import type { SfuConfig } from './config';
import { MediaServer, type ModuleMediaStats } from './media/media-server';
import { zeroCounters, type MediaCounters } from './media/stats';
import { DEFAULT_UDP_RECV_BUFFER_SIZE, UdpMux, createPeerConnection, type UdpMuxStats } from './webrtc';

export interface SfuDeps {
  /** Root or parent logger; the module binds its own context to a child. */
  logger: Logger;
  state: ClusterState;
  metrics?: ServiceMetrics;
  /** Closed with the module when the module created it (own process); shared stores are closed by their owner. */
  ownsState?: boolean;
  /** Clock for ticket expiry and media timing, ms since the epoch. Default Date.now. */
  now?: () => number;
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

const COUNTER_FIELDS = Object.keys(zeroCounters()) as (keyof MediaCounters)[];

/** Module media stats as Prometheus metrics, read at scrape time. */
function registerMediaMetrics(metrics: ServiceMetrics, media: MediaServer, mux: () => UdpMux | undefined): void {
  const udp = (read: (s: UdpMuxStats) => number) => () => {
    const m = mux();
    return m ? read(m.stats()) : 0;
  };
  const stat = (read: (s: ModuleMediaStats) => number) => () => read(media.stats());
  const gauges: { name: string; help: string; read: () => number }[] = [
    { name: 'meetedge_sfu_meetings', help: 'Meetings with a participant on this module', read: stat((s) => s.meetings) },
    { name: 'meetedge_sfu_participants', help: 'Participants with a media session on this module', read: stat((s) => s.participants) },
    { name: 'meetedge_sfu_tracks', help: 'Published tracks on this module', read: stat((s) => s.tracks) },
    { name: 'meetedge_sfu_used_units', help: 'Capacity units held (SD = 1, HD = 2)', read: stat((s) => s.usedUnits) },
    { name: 'meetedge_sfu_capacity_units', help: 'Capacity of this module in units', read: stat((s) => s.capacityUnits) },
    { name: 'meetedge_sfu_sessions_refused_total', help: 'Media sessions closed for a protocol error', read: stat((s) => s.sessionsRefused) },
    ...COUNTER_FIELDS.map((field) => ({
      name: `meetedge_sfu_${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`,
      help: `Media ${field} since start (all meetings)`,
      read: stat((s) => s[field]),
    })),
    { name: 'meetedge_sfu_udp_datagrams_in_total', help: 'Datagrams received on the media port', read: udp((s) => s.datagramsIn) },
    { name: 'meetedge_sfu_udp_datagrams_out_total', help: 'Datagrams sent from the media port', read: udp((s) => s.datagramsOut) },
    {
      name: 'meetedge_sfu_udp_dropped_total',
      help: 'Datagrams on the media port that belonged to no connection (stray or garbage), dropped',
      read: udp((s) => s.droppedUnknownSource + s.droppedUnknownUfrag + s.handlerErrors),
    },
  ];
  for (const g of gauges) {
    new Gauge({
      name: g.name,
      help: g.help,
      registers: [metrics.registry],
      collect() {
        this.set(g.read());
      },
    });
  }
}

export function buildApp(config: SfuConfig, deps: SfuDeps): Service {
  const name = config.role === 'cloud' ? 'cloud-mmr' : 'sfu';
  const logger = deps.logger.child({ service: name, moduleId: config.moduleId, zoneId: config.zoneId, role: config.role });
  const metrics = deps.metrics ?? createServiceMetrics(name);
  // The one UDP port every media connection of the module shares; bound at start.
  let mux: UdpMux | undefined;
  const media = new MediaServer({
    moduleId: config.moduleId,
    capacityUnits: config.capacityUnits,
    ticketKey: config.ticketPublicKey,
    audioSlots: config.audioSlots,
    joinTimeoutMs: config.joinTimeoutMs,
    keepaliveMs: config.keepaliveMs,
    maxPublishBps: config.maxPublishKbps * 1000,
    createPeer: () => {
      if (!mux) throw new Error('media port is not open');
      return createPeerConnection({ announcedIp: config.announcedIp, udpMux: mux });
    },
    logger: logger.child({ component: 'media' }),
    now: deps.now,
  });
  registerMediaMetrics(metrics, media, () => mux);
  const http = createHttpServer({
    service: name,
    version: MEETEDGE_VERSION,
    logger,
    metrics,
    health: { state: () => deps.state.ping() },
  });

  // Frames above maxPayload are cut by ws itself (close 1009); between the
  // protocol's limit and this, the session answers with a coded error.
  void http.register(websocket, { options: { maxPayload: 4 * MAX_CLIENT_MESSAGE_BYTES } });
  void http.register(async (scope) => {
    scope.get('/v1/media', { websocket: true }, (socket, request) => {
      media.accept(socket, request.ip);
    });
  });

  http.get('/v1/module', { schema: { response: { 200: moduleInfoSchema } } }, async () => ({
    id: config.moduleId,
    zoneId: config.zoneId,
    nodeId: config.nodeId,
    role: config.role,
    mediaPort: mux?.port ?? config.mediaPort,
    capacityUnits: config.capacityUnits,
    version: MEETEDGE_VERSION,
  }));

  http.get('/v1/stats', async () => ({ module: media.stats(), udp: mux?.stats(), meetings: media.meetingStats() }));

  return {
    name,
    http,
    async start() {
      mux = await UdpMux.open({
        listenIp: config.mediaListenIp,
        port: config.mediaPort,
        recvBufferSize: DEFAULT_UDP_RECV_BUFFER_SIZE,
        sendBufferSize: DEFAULT_UDP_RECV_BUFFER_SIZE,
      });
      logger.info({ port: mux.port, announcedIp: config.announcedIp }, 'media port open');
      await http.listen({ host: config.httpHost, port: config.httpPort });
      return baseUrlOf(http);
    },
    close: once(async () => {
      await media.close();
      await http.close();
      await mux?.close();
      if (deps.ownsState) await deps.state.close();
    }),
  };
}
