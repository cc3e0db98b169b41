/**
 * Composition root of the SFU/iMMR module: `buildApp(config, deps)` wires the
 * module's parts; main.ts (own process) and the all-in-one process both call
 * it. Clients open their media session on `GET /v1/media` (WebSocket,
 * docs/protocol.md); media flows over werift connections whose forwarding
 * decisions come from @meetedge/media.
 */
import { randomUUID } from 'node:crypto';
import websocket from '@fastify/websocket';
import { LINK_SCOPES } from '@meetedge/cascade';
import { loadFastPath, type FastPath, type FastPathLoad } from '@meetedge/fastpath';
import { MEETEDGE_VERSION, MeetedgeError, MeetingId, ModuleId, ParticipantId, ReservationId, isMeetedgeError } from '@meetedge/core';
import { meetingInfoFromProto, qualityFromProto, qualityToProto, v1 } from '@meetedge/proto';
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
import { CascadeServer } from './cascade/cascade-server';
import { TopCoordinator } from './cascade/top';
import type { ScopeTraffic } from './media/bandwidth';
import { MediaServer, type Admission, type Expectation, type LeaveReason, type ModuleMediaStats } from './media/media-server';
import { zeroCounters, type MediaCounters } from './media/stats';
import { loadSampler } from './registration/load';
import { ZcpRegistrar, type ParticipantEvent, type ZcpCommand } from './registration/zcp-registrar';
import { ModuleSignal } from './signal/module-signal';
import { DEFAULT_UDP_RECV_BUFFER_SIZE, TcpMux, UdpMux, createPeerConnection, type TcpMuxStats, type UdpMuxStats } from './webrtc';

export interface SfuDeps {
  /** Root or parent logger; the module binds its own context to a child. */
  logger: Logger;
  state: ClusterState;
  metrics?: ServiceMetrics;
  /** Closed with the module when the module created it (own process); shared stores are closed by their owner. */
  ownsState?: boolean;
  /** Clock for ticket expiry and media timing, ms since the epoch. Default Date.now. */
  now?: () => number;
  /**
   * The zone's ZCPs (`host:port`), read at start, when the process knows
   * them only then (the all-in-one starts its ZCPs first). Default:
   * MEETEDGE_ZCP_ADDRESSES.
   */
  zcpAddresses?: () => readonly string[];
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

/** The module's media ports: UDP, and TCP of the same number unless ICE-TCP is off. */
interface MediaPorts {
  udp: UdpMux;
  tcp: TcpMux | undefined;
}

/**
 * Binds the media ports: UDP, then TCP on the same port number. With port 0
 * (tests) the OS picks the UDP port, whose TCP twin may be taken: then both
 * are tried again on another.
 */
async function openMediaPorts(config: SfuConfig, fastPath: FastPath | undefined): Promise<MediaPorts> {
  for (let attempt = 1; ; attempt++) {
    const udp = await UdpMux.open({
      listenIp: config.mediaListenIp,
      port: config.mediaPort,
      recvBufferSize: DEFAULT_UDP_RECV_BUFFER_SIZE,
      sendBufferSize: DEFAULT_UDP_RECV_BUFFER_SIZE,
      fastPath,
    });
    if (!config.iceTcp) return { udp, tcp: undefined };
    try {
      return { udp, tcp: await TcpMux.open({ listenIp: config.mediaListenIp, port: udp.port }) };
    } catch (error) {
      await udp.close();
      const taken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!taken || config.mediaPort !== 0 || attempt >= 10) throw error;
    }
  }
}

/**
 * The native fast path as MEETEDGE_MEDIA_FAST_PATH says: `auto` takes it when
 * it was built, `on` refuses to start without it (a coded INVALID_CONFIG
 * naming why), `off` never takes it.
 */
export function chooseFastPath(setting: SfuConfig['mediaFastPath'], load: () => FastPathLoad = loadFastPath): { fastPath?: FastPath; why: string } {
  if (setting === 'off') return { why: 'MEETEDGE_MEDIA_FAST_PATH=off' };
  const loaded = load();
  if (loaded.fastPath) return { fastPath: loaded.fastPath, why: 'native addon loaded' };
  if (setting === 'on') throw new MeetedgeError('INVALID_CONFIG', `MEETEDGE_MEDIA_FAST_PATH=on, but ${loaded.error}`);
  return { why: loaded.error };
}

/** Module media stats as Prometheus metrics, read at scrape time. */
function registerMediaMetrics(metrics: ServiceMetrics, media: MediaServer, ports: () => MediaPorts | undefined): void {
  const udp = (read: (s: UdpMuxStats) => number) => () => {
    const m = ports()?.udp;
    return m ? read(m.stats()) : 0;
  };
  const tcp = (read: (s: TcpMuxStats, mux: TcpMux) => number) => () => {
    const m = ports()?.tcp;
    return m ? read(m.stats(), m) : 0;
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
    // Bandwidth accounting (docs/cascade.md): north-south links are the ones whose media leaves the company network.
    { name: 'meetedge_sfu_external_streams', help: 'Streams crossing north-south cascade links now (in + out)', read: stat((s) => s.externalStreams) },
    {
      name: 'meetedge_sfu_external_bytes_total',
      help: 'RTP bytes sent and received on north-south cascade links since start',
      read: stat((s) => s.externalBytes),
    },
    {
      name: 'meetedge_sfu_would_have_left_bytes_total',
      help: "RTP bytes this module's participants of cloud-hybrid meetings sent and received: what would have left without the module (0 on the cloud MMR)",
      read: stat((s) => s.wouldHaveLeftBytes),
    },
    {
      name: 'meetedge_sfu_saved_bytes',
      help: 'max(0, would-have-left bytes - external bytes) since start; not a counter, it goes down while links cost more than they save',
      read: stat((s) => s.savedBytes),
    },
    { name: 'meetedge_sfu_client_bytes_in_total', help: 'RTP bytes received from participants (client links)', read: stat((s) => s.client.bytesIn) },
    { name: 'meetedge_sfu_client_bytes_out_total', help: 'RTP bytes sent to participants (client links)', read: stat((s) => s.client.bytesOut) },
    { name: 'meetedge_sfu_udp_datagrams_in_total', help: 'Datagrams received on the media port', read: udp((s) => s.datagramsIn) },
    { name: 'meetedge_sfu_udp_datagrams_out_total', help: 'Datagrams sent from the media port', read: udp((s) => s.datagramsOut) },
    {
      name: 'meetedge_sfu_udp_send_dropped_total',
      help: 'Forwarded datagrams the kernel did not take (send buffer full, destination refused); fast path only',
      read: udp((s) => s.sendDropped),
    },
    { name: 'meetedge_sfu_fast_path', help: '1 when forwarded media goes through the native fast path, 0 on the JavaScript path', read: () => (ports()?.udp.fastPath ? 1 : 0) },
    {
      name: 'meetedge_sfu_udp_dropped_total',
      help: 'Datagrams on the media port that belonged to no connection (stray or garbage), dropped',
      read: udp((s) => s.droppedUnknownSource + s.droppedUnknownUfrag + s.handlerErrors),
    },
    { name: 'meetedge_sfu_tcp_connections', help: 'Open ICE-TCP connections on the media port', read: tcp((_, m) => m.connectionCount) },
    {
      name: 'meetedge_sfu_tcp_connections_total',
      help: 'ICE-TCP connections accepted on the media port',
      read: tcp((s) => s.connectionsAccepted),
    },
    {
      name: 'meetedge_sfu_tcp_refused_total',
      help: 'ICE-TCP connections closed for garbage, an oversized frame, an unknown ufrag, no first frame in time or a limit',
      read: tcp((s) => s.refusedGarbage + s.refusedOversized + s.refusedUnknownUfrag + s.refusedTimeout + s.refusedOverLimit),
    },
    { name: 'meetedge_sfu_tcp_frames_in_total', help: 'ICE-TCP frames received on the media port', read: tcp((s) => s.framesIn) },
    { name: 'meetedge_sfu_tcp_frames_out_total', help: 'ICE-TCP frames sent from the media port', read: tcp((s) => s.framesOut) },
    {
      name: 'meetedge_sfu_tcp_dropped_total',
      help: 'ICE-TCP frames dropped: to a client whose connection was backed up, or that werift failed to handle',
      read: tcp((s) => s.framesDroppedOut + s.handlerErrors),
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
  const byScope: { name: string; help: string; read: (s: ScopeTraffic) => number }[] = [
    { name: 'meetedge_sfu_cascade_links', help: 'Open cascade links by scope (north-south: to or from the cloud MMR; east-west: module to module)', read: (s) => s.links },
    { name: 'meetedge_sfu_cascade_streams', help: 'Streams crossing cascade links now (in + out), by scope', read: (s) => s.streams },
    { name: 'meetedge_sfu_cascade_bytes_in_total', help: 'RTP bytes received on cascade links since start, by scope', read: (s) => s.bytesIn },
    { name: 'meetedge_sfu_cascade_bytes_out_total', help: 'RTP bytes sent on cascade links since start, by scope', read: (s) => s.bytesOut },
  ];
  for (const g of byScope) {
    new Gauge({
      name: g.name,
      help: g.help,
      labelNames: ['scope'] as const,
      registers: [metrics.registry],
      collect() {
        const { cascade } = media.stats();
        for (const scope of LINK_SCOPES) this.set({ scope }, g.read(cascade[scope]));
      },
    });
  }
}

const LEAVE_REASONS: Record<LeaveReason, v1.LeaveReason> = {
  hangup: v1.LeaveReason.HANGUP,
  timeout: v1.LeaveReason.TIMEOUT,
  removed: v1.LeaveReason.REMOVED,
  drain: v1.LeaveReason.DRAIN,
  'ticket-expired': v1.LeaveReason.TICKET_EXPIRED,
};

/** What the participants of a meeting that collapsed with its top are told (onTopLoss: collapse). */
const TOP_LOST = 'the meeting ended because the module holding it failed; it has to be started again';

/** How often announced participants that never came are looked for, ms. */
const EXPECTATION_SWEEP_MS = 1000;

function arrivedEvent(a: Admission): ParticipantEvent {
  return {
    $case: 'participantArrived',
    value: { meetingId: a.meetingId, participantId: a.participantId, reservationId: a.reservationId, quality: qualityToProto(a.quality) },
  };
}

function leftEvent(a: Admission, reason: LeaveReason, meetingEmpty: boolean): ParticipantEvent {
  return {
    $case: 'participantLeft',
    value: { meetingId: a.meetingId, participantId: a.participantId, reservationId: a.reservationId, reason: LEAVE_REASONS[reason], meetingEmpty },
  };
}

/**
 * What the module announces to the ZCPs. Its media URL is the media-session
 * WebSocket on the announced IP (where its ICE candidates point) and the
 * HTTP port it really listens on; `held` re-announces every participant the
 * module holds (empty on a fresh start).
 */
function registerMessage(config: SfuConfig, baseUrl: string | undefined, held: Map<MeetingId, Admission[]>, cascadePort: number, instanceId: string): v1.Register {
  const port = baseUrl ? new URL(baseUrl).port : String(config.httpPort);
  const host = config.announcedIp.includes(':') ? `[${config.announcedIp}]` : config.announcedIp;
  return v1.Register.create({
    moduleId: config.moduleId,
    zoneId: config.zoneId,
    nodeId: config.nodeId,
    role: config.role === 'cloud' ? v1.ModuleRole.CLOUD : v1.ModuleRole.EDGE,
    mediaUrl: `ws://${host}:${port}/v1/media`,
    capacityUnits: config.capacityUnits,
    version: MEETEDGE_VERSION,
    cascadeAddress: cascadePort > 0 ? `${host}:${cascadePort}` : '',
    instanceId,
    heldMeetings: [...held].map(([meetingId, admissions]) => ({
      meetingId,
      participants: admissions.map((a) => ({ participantId: a.participantId, reservationId: a.reservationId, quality: qualityToProto(a.quality) })),
    })),
  });
}

/** ExpectParticipant → domain, or INVALID_ARGUMENT naming the field. */
export function expectationFrom(e: v1.ExpectParticipant): Expectation {
  const field = <T>(name: string, parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      throw new MeetedgeError('INVALID_ARGUMENT', `expect_participant.${name}: ${(err as Error).message}`);
    }
  };
  const expiresAt = Number(e.ticketExpiresAtUnixMs);
  if (!Number.isSafeInteger(expiresAt) || expiresAt <= 0) {
    throw new MeetedgeError('INVALID_ARGUMENT', `expect_participant.ticket_expires_at_unix_ms must be a positive time, got ${String(e.ticketExpiresAtUnixMs)}`);
  }
  return {
    meetingId: field('meeting_id', () => MeetingId(e.meetingId)),
    participantId: field('participant_id', () => ParticipantId(e.participantId)),
    reservationId: field('reservation_id', () => ReservationId(e.reservationId)),
    quality: qualityFromProto(e.quality, 'expect_participant.quality'),
    expiresAt,
  };
}

/** The SFU service: its media side and its cascade endpoint, for the all-in-one and tests. */
export interface SfuService extends Service {
  readonly media: MediaServer;
  readonly cascade: CascadeServer;
  /** Meeting signaling of internal-only meetings (rooms this module tops, relays to other tops). */
  readonly signal: ModuleSignal;
}

/** Acts on a command from a ZCP; a malformed one is refused with a log line naming what was wrong. */
function onZcpCommand(media: MediaServer, cascade: CascadeServer, logger: Logger, command: ZcpCommand, zcpAddress: string): void {
  try {
    switch (command.$case) {
      case 'drain':
        if (media.drainReason === undefined) logger.warn({ zcpAddress, reason: command.value.reason }, 'draining: no new participants');
        media.drain(command.value.reason);
        return;
      case 'meetingServerInfo': {
        const info = meetingInfoFromProto(command.value);
        media.setMeetingInfo(info.meetingId, info);
        return;
      }
      case 'expectParticipant':
        media.expect(expectationFrom(command.value));
        return;
      case 'setCascade': {
        const { meetingId, enabled, targetServerId, targetAddress } = command.value;
        const meeting = MeetingId(meetingId);
        if (!enabled) {
          cascade.closeLinks(meeting, 'not needed any more');
          return;
        }
        const target = { serverId: ModuleId(targetServerId), address: targetAddress };
        cascade.ensureLink(meeting, target).catch((err: unknown) => {
          logger.warn({ zcpAddress, meetingId, target, code: isMeetedgeError(err) ? err.code : undefined }, `cascade link not opened: ${(err as Error).message}`);
        });
        return;
      }
    }
  } catch (err) {
    if (!isMeetedgeError(err)) throw err;
    logger.warn({ zcpAddress, command: command.$case, code: err.code }, `ZCP command refused: ${err.message}`);
  }
}

export function buildApp(config: SfuConfig, deps: SfuDeps): SfuService {
  const name = config.role === 'cloud' ? 'cloud-mmr' : 'sfu';
  const logger = deps.logger.child({ service: name, moduleId: config.moduleId, zoneId: config.zoneId, role: config.role });
  const metrics = deps.metrics ?? createServiceMetrics(name);
  // The one UDP port (and its TCP twin) every media connection of the module shares; bound at start.
  let ports: MediaPorts | undefined;
  /** A werift connection on the module's shared media ports (clients and cascade links alike). */
  const createPeer = (options: { tcp: boolean; shared: boolean } = { tcp: true, shared: true }) => {
    if (!ports) throw new Error('media port is not open');
    return createPeerConnection({ announcedIp: config.announcedIp, udpMux: options.shared ? ports.udp : undefined, tcpMux: options.tcp ? ports.tcp : undefined });
  };
  // Bound below: the media server reports participants to the ZCPs through the registrar.
  let report: ((event: ParticipantEvent) => void) | undefined;
  const media = new MediaServer({
    moduleId: config.moduleId,
    role: config.role,
    capacityUnits: config.capacityUnits,
    ticketKey: config.ticketPublicKey,
    audioSlots: config.audioSlots,
    joinTimeoutMs: config.joinTimeoutMs,
    keepaliveMs: config.keepaliveMs,
    maxPublishBps: config.maxPublishKbps * 1000,
    createPeer: () => createPeer(),
    lifecycle: {
      started: (meeting) => void top.meetingStarted(meeting.meetingId, meeting.mode),
      ended: (meeting) => void top.meetingEnded(meeting.meetingId),
    },
    events: {
      arrived: (admission) => report?.(arrivedEvent(admission)),
      left: (admission, reason, meetingEmpty) => report?.(leftEvent(admission, reason, meetingEmpty)),
    },
    logger: logger.child({ component: 'media' }),
    now: deps.now,
  });
  registerMediaMetrics(metrics, media, () => ports);
  const cascade = new CascadeServer({
    serverId: config.moduleId,
    zoneId: config.zoneId,
    defaultMode: config.role === 'cloud' ? 'cloud-hybrid' : 'internal-only',
    media,
    // Server to server over UDP only (an ICE-TCP candidate would have werift dial the other server's TCP port). The
    // opener of a link uses a socket of its own: links of several meetings between the same two servers would share
    // one remote address on the shared port, which tells connections apart by it.
    createPeer: (role) => createPeer({ tcp: false, shared: role === 'answerer' }),
    logger,
  });
  const top = new TopCoordinator({
    moduleId: config.moduleId,
    state: deps.state,
    cascade,
    logger,
    onTopLoss: (meetingId) => media.meetingInfoOf(meetingId)?.onTopLoss ?? 'recover',
    collapse: (meetingId) => {
      cascade.closeLinks(meetingId, 'the meeting collapsed');
      // Its signaling went with the top (the room was there); the media here ends with the reason.
      void media.endMeeting(meetingId, TOP_LOST);
    },
    demoted: (meetingId) => signal.dropRoom(meetingId),
  });
  // Meeting signaling of internal-only meetings: the top holds the room, the other modules relay to it.
  const signal = new ModuleSignal({
    moduleId: config.moduleId,
    ticketKey: config.ticketPublicKey,
    media,
    top,
    helloTimeoutMs: config.joinTimeoutMs,
    keepaliveMs: config.keepaliveMs,
    logger,
    now: media.now,
  });
  cascade.onSignal = signal.relayHandler;
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
    scope.get<{ Params: { id: string } }>('/v1/meetings/:id/signal', { websocket: true }, (socket, request) => {
      signal.accept(socket, request.params.id, request.ip);
    });
  });

  // The cheapest answer a client can time (zone choice by RTT, docs/zcp.md).
  http.get(
    '/v1/probe',
    { schema: { response: { 200: { type: 'object', required: ['moduleId', 'zoneId'], properties: { moduleId: { type: 'string' }, zoneId: { type: 'string' } } } } } },
    async (_request, reply) => {
      void reply.header('cache-control', 'no-store');
      return { moduleId: config.moduleId, zoneId: config.zoneId };
    },
  );

  http.get('/v1/module', { schema: { response: { 200: moduleInfoSchema } } }, async () => ({
    id: config.moduleId,
    zoneId: config.zoneId,
    nodeId: config.nodeId,
    role: config.role,
    mediaPort: ports?.udp.port ?? config.mediaPort,
    capacityUnits: config.capacityUnits,
    version: MEETEDGE_VERSION,
  }));

  // Registration with every ZCP of the zone (none listed: standalone, nothing registers).
  // This run of the module: a ZCP that sees another one under the same id drops what the previous run held.
  const instanceId = randomUUID();
  let baseUrl: string | undefined;
  let registrar: ZcpRegistrar | undefined;
  const startRegistration = (addresses: readonly string[]): void => {
    if (addresses.length === 0) return;
    const zcps = new ZcpRegistrar({
      addresses,
      logger: logger.child({ component: 'registration' }),
      register: () => registerMessage(config, baseUrl, media.heldMeetings(), cascade.boundPort, instanceId),
      load: loadSampler(() => media.stats()),
      onCommand: (command, zcpAddress) => onZcpCommand(media, cascade, logger, command, zcpAddress),
      // After every registration (a ZCP restarted, or the cluster state lost everything): hold the tops again.
      onRegistered: () => void top.reassert(),
    });
    registrar = zcps;
    report = (event) => zcps.report(event);
    zcps.start();
  };
  let expectations: NodeJS.Timeout | undefined;

  http.get('/v1/stats', async () => ({
    module: media.stats(),
    udp: ports?.udp.stats(),
    tcp: ports?.tcp ? { ...ports.tcp.stats(), connections: ports.tcp.connectionCount } : undefined,
    meetings: media.meetingStats(),
    links: cascade.linkStats(),
    signal: signal.stats(),
  }));

  return {
    name,
    http,
    media,
    cascade,
    signal,
    async start() {
      const fast = chooseFastPath(config.mediaFastPath);
      ports = await openMediaPorts(config, fast.fastPath);
      const cascadePort = await cascade.listen(config.httpHost, config.cascadePort);
      const fastPath = ports.udp.fastPath ? 'native' : 'javascript';
      logger.info({ port: ports.udp.port, iceTcp: ports.tcp !== undefined, announcedIp: config.announcedIp, cascadePort, fastPath }, 'media port open');
      if (!ports.udp.fastPath) logger.warn({ why: fast.why }, 'media fast path off: forwarding on the JavaScript path (docs/fastpath.md)');
      await http.listen({ host: config.httpHost, port: config.httpPort });
      baseUrl = baseUrlOf(http);
      await top.start();
      startRegistration(deps.zcpAddresses?.() ?? config.zcpAddresses);
      expectations = setInterval(() => media.expireExpected(), EXPECTATION_SWEEP_MS);
      expectations.unref();
      return baseUrl;
    },
    close: once(async () => {
      clearInterval(expectations);
      // Deregister first: the ZCPs stop placing anyone here before the sessions close.
      await registrar?.close();
      signal.close();
      await top.close();
      await cascade.close();
      await media.close();
      await http.close();
      await Promise.all([ports?.udp.close(), ports?.tcp?.close()]);
      if (deps.ownsState) await deps.state.close();
    }),
  };
}
