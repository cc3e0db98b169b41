/**
 * Module registration (libs/proto module_registry.proto): the
 * ZoneControllerProxy gRPC service every module of the zone holds a Connect
 * stream to. The stream starts with Register; the ZCP records the module in
 * the cluster state with a TTL, refreshes it on each Heartbeat and removes it
 * on Deregister. A stream that ends without Deregister is a crash: nothing is
 * removed here, the TTL runs out and the sweep (every ZCP runs one) frees
 * the module's reservations. Whatever the ZCP learns goes to the shared state,
 * so any ZCP of the zone serves the module's clients.
 *
 * Commands travel the other way on the same stream: `send` reaches a module
 * connected to this ZCP (every module connects to every ZCP of its zone).
 *
 * Participant events keep the reservations honest: ParticipantArrived
 * confirms the ticket's reservation (it no longer expires with the ticket),
 * ParticipantLeft frees it, and the participants a module re-announces on
 * Register are reserved again if the state lost them (a Redis restart).
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { MeetedgeError, MeetingId, ModuleId, NodeId, ParticipantId, ReservationId, ZoneId, isMeetedgeError, unitsFor, type Quality } from '@meetedge/core';
import { meetingInfoToProto, qualityFromProto, qualityToProto, toGrpcError, v1, type MeetingInfo } from '@meetedge/proto';
import { Counter, Gauge, type Logger, type ServiceMetrics } from '@meetedge/service-kit';
import type { ClusterState, ModuleRegistration, ModuleRole } from '@meetedge/state';

/** How often a module must heartbeat, ms (told in RegisterAck). */
export const HEARTBEAT_INTERVAL_MS = 1000;
/** A module silent for this long is gone, ms (its registry TTL; told in RegisterAck). */
export const MODULE_TTL_MS = 3000;
/** How often each ZCP sweeps expired modules, ms. */
export const SWEEP_INTERVAL_MS = 1000;

/** The largest capacity a module may announce, units (as MEETEDGE_CAPACITY_UNITS allows). */
const MAX_CAPACITY_UNITS = 100_000;
const MEDIA_URL_PROTOCOLS = ['http:', 'https:', 'ws:', 'wss:'];

export interface ModuleRegistryOptions {
  zcpId: string;
  /** The zone this ZCP serves; a module of another zone is refused. */
  zoneId: ZoneId;
  state: ClusterState;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Defaults: HEARTBEAT_INTERVAL_MS, MODULE_TTL_MS, SWEEP_INTERVAL_MS. */
  heartbeatIntervalMs?: number;
  ttlMs?: number;
  sweepIntervalMs?: number;
  /**
   * Called once a module's registration is complete (after RegisterAck and
   * after what it holds was reserved again), so other parts of the ZCP can
   * tell it what it must know (e.g. its meetings' cascade needs).
   */
  onRegistered?: (moduleId: ModuleId) => void;
}

/** A command for a module (a ZcpMessage other than RegisterAck). */
export type ModuleCommand = Exclude<NonNullable<v1.ZcpMessage['kind']>, { $case: 'registerAck' }>;

/** A participant placed on a module, as ExpectParticipant tells it. */
export interface Expected {
  readonly meetingId: MeetingId;
  readonly participantId: ParticipantId;
  readonly reservationId: ReservationId;
  readonly quality: Quality;
  /** When its ticket expires, ms since the epoch. */
  readonly expiresAt: number;
}

/** One participant a module reported (arrived, left or re-announced), checked. */
interface Reported {
  readonly meetingId: MeetingId;
  readonly participantId: ParticipantId;
  readonly reservationId: ReservationId;
}

function reportedFrom(what: string, e: { meetingId: string; participantId: string; reservationId: string }): Reported {
  const field = <T>(name: string, parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      throw new MeetedgeError('INVALID_ARGUMENT', `${what}.${name}: ${(err as Error).message}`);
    }
  };
  return {
    meetingId: field('meeting_id', () => MeetingId(e.meetingId)),
    participantId: field('participant_id', () => ParticipantId(e.participantId)),
    reservationId: field('reservation_id', () => ReservationId(e.reservationId)),
  };
}

export interface DrainResult {
  /** True: the module was connected to this ZCP and was sent Drain. */
  readonly notified: boolean;
}

type ModuleStream = ServerDuplexStream<v1.ModuleMessage, v1.ZcpMessage>;

/** One module's Connect stream on this ZCP. */
interface Connection {
  readonly registration: ModuleRegistration;
  readonly stream: ModuleStream;
  lastSeq: number;
}

const ROLES: Partial<Record<v1.ModuleRole, ModuleRole>> = {
  [v1.ModuleRole.EDGE]: 'edge',
  [v1.ModuleRole.CLOUD]: 'cloud',
};

/**
 * Register → domain registration, or INVALID_ARGUMENT / INVALID_ID naming the
 * field; CONFLICT (gRPC FAILED_PRECONDITION) for a module of another zone.
 */
export function registrationFrom(register: v1.Register, zoneId: ZoneId): ModuleRegistration {
  const field = <T>(name: string, parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      throw new MeetedgeError('INVALID_ARGUMENT', `register.${name}: ${(err as Error).message}`);
    }
  };
  const id = field('module_id', () => ModuleId(register.moduleId));
  const moduleZone = field('zone_id', () => ZoneId(register.zoneId));
  const nodeId = field('node_id', () => NodeId(register.nodeId));
  const role = ROLES[register.role];
  if (!role) throw new MeetedgeError('INVALID_ARGUMENT', `register.role must be EDGE or CLOUD, got ${register.role}`);
  let url: URL | undefined;
  try {
    url = new URL(register.mediaUrl);
  } catch {
    url = undefined;
  }
  if (!url || !MEDIA_URL_PROTOCOLS.includes(url.protocol) || url.hostname === '') {
    throw new MeetedgeError('INVALID_ARGUMENT', `register.media_url must be an http(s) or ws(s) URL, got "${register.mediaUrl}"`);
  }
  const capacity = register.capacityUnits;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY_UNITS) {
    throw new MeetedgeError('INVALID_ARGUMENT', `register.capacity_units must be 1-${MAX_CAPACITY_UNITS}, got ${capacity}`);
  }
  if (!/^\S{1,64}$/.test(register.version)) throw new MeetedgeError('INVALID_ARGUMENT', 'register.version must be 1-64 characters without spaces');
  const cascadeAddress = register.cascadeAddress;
  if (cascadeAddress !== '' && !/^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):\d{1,5}$/.test(cascadeAddress)) {
    throw new MeetedgeError('INVALID_ARGUMENT', `register.cascade_address must be host:port or empty, got "${cascadeAddress.slice(0, 80)}"`);
  }
  const instanceId = register.instanceId;
  if (instanceId !== '' && !/^[A-Za-z0-9_.:-]{1,64}$/.test(instanceId)) {
    throw new MeetedgeError('INVALID_ARGUMENT', 'register.instance_id must be 1-64 letters, digits or _.:-, or empty');
  }
  if (moduleZone !== zoneId) {
    throw new MeetedgeError('CONFLICT', `module ${id} serves zone ${moduleZone}; this ZCP serves zone ${zoneId}`, { moduleZone, zcpZone: zoneId });
  }
  return {
    id,
    zoneId: moduleZone,
    nodeId,
    role,
    mediaUrl: register.mediaUrl,
    capacityUnits: capacity,
    version: register.version,
    ...(cascadeAddress === '' ? {} : { cascadeAddress }),
    ...(instanceId === '' ? {} : { instanceId }),
  };
}

export class ModuleRegistry {
  /** Modules with a registered Connect stream on this ZCP. */
  private readonly connections = new Map<ModuleId, Connection>();
  private readonly streams = new Set<ModuleStream>();
  private readonly heartbeatIntervalMs: number;
  private readonly ttlMs: number;
  private readonly sweepIntervalMs: number;
  private readonly logger: Logger;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private closed = false;
  private readonly counters: {
    registrations: Counter;
    refused: Counter;
    heartbeats: Counter;
    reannounced: Counter;
    sweeps: Counter;
    expired: Counter;
    deregistered: Counter;
    arrived: Counter;
    left: Counter;
    restored: Counter;
    eventsRefused: Counter;
  };

  constructor(private readonly options: ModuleRegistryOptions) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.ttlMs = options.ttlMs ?? MODULE_TTL_MS;
    this.sweepIntervalMs = options.sweepIntervalMs ?? SWEEP_INTERVAL_MS;
    this.logger = options.logger.child({ component: 'module-registry' });
    const registers = [options.metrics.registry];
    const connections = this.connections;
    new Gauge({
      name: 'meetedge_zcp_connected_modules',
      help: 'Modules with a registered Connect stream on this ZCP',
      registers,
      collect() {
        this.set(connections.size);
      },
    });
    this.counters = {
      registrations: new Counter({ name: 'meetedge_zcp_module_registrations_total', help: 'Register messages accepted', registers }),
      refused: new Counter({ name: 'meetedge_zcp_module_registrations_refused_total', help: 'Connect streams refused (bad or foreign Register)', registers }),
      heartbeats: new Counter({ name: 'meetedge_zcp_module_heartbeats_total', help: 'Heartbeats received from modules', registers }),
      reannounced: new Counter({
        name: 'meetedge_zcp_module_reannounce_asked_total',
        help: 'Module streams ended because the cluster state no longer knew the module (swept, or Redis lost its state), so it registers what it holds again',
        registers,
      }),
      sweeps: new Counter({ name: 'meetedge_zcp_module_sweeps_total', help: 'Sweeps of expired modules this ZCP ran', registers }),
      expired: new Counter({ name: 'meetedge_zcp_modules_expired_total', help: 'Modules this ZCP removed because their heartbeats stopped', registers }),
      deregistered: new Counter({ name: 'meetedge_zcp_modules_deregistered_total', help: 'Modules that left cleanly through this ZCP', registers }),
      arrived: new Counter({ name: 'meetedge_zcp_participants_arrived_total', help: 'Participants modules reported arrived (reservations confirmed)', registers }),
      left: new Counter({ name: 'meetedge_zcp_participants_left_total', help: 'Participants modules reported gone (reservations freed)', registers }),
      restored: new Counter({
        name: 'meetedge_zcp_reservations_restored_total',
        help: 'Reservations the state had lost (or freed too early) that a module showed were held, reserved again',
        registers,
      }),
      eventsRefused: new Counter({ name: 'meetedge_zcp_module_events_refused_total', help: 'Malformed participant events from modules, ignored', registers }),
    };
  }

  /** The gRPC implementation to add to a Server with v1.ZoneControllerProxyService. */
  readonly service: v1.ZoneControllerProxyServer = {
    connect: (stream: ModuleStream) => this.connect(stream),
  };

  /** Ids of the modules connected to this ZCP, sorted. */
  connectedModules(): ModuleId[] {
    return [...this.connections.keys()].sort();
  }

  /**
   * Sends a command to a module connected to this ZCP. Returns false when it
   * is not connected here (another ZCP of the zone may hold its stream).
   */
  send(moduleId: ModuleId, command: ModuleCommand): boolean {
    const connection = this.connections.get(moduleId);
    if (!connection) return false;
    connection.stream.write({ kind: command });
    return true;
  }

  /**
   * Tells a module about a participant placed on it: the meeting's info
   * (MeetingServerInfo), then ExpectParticipant. False when the module is not
   * connected to this ZCP; its ticket still admits the participant.
   */
  announce(moduleId: ModuleId, info: MeetingInfo, expected: Expected): boolean {
    const connection = this.connections.get(moduleId);
    if (!connection) return false;
    connection.stream.write({ kind: { $case: 'meetingServerInfo', value: meetingInfoToProto(info) } });
    connection.stream.write({
      kind: {
        $case: 'expectParticipant',
        value: {
          meetingId: expected.meetingId,
          participantId: expected.participantId,
          reservationId: expected.reservationId,
          quality: qualityToProto(expected.quality),
          ticketExpiresAtUnixMs: expected.expiresAt,
        },
      },
    });
    return true;
  }

  /**
   * Marks a module draining in the cluster state (no ZCP places anyone new on
   * it) and sends it Drain if it is connected here. NOT_FOUND when it is not
   * a live module of this zone.
   */
  async drain(moduleId: ModuleId, drain: v1.Drain): Promise<DrainResult> {
    const module = await this.options.state.getModule(moduleId);
    if (!module || module.zoneId !== this.options.zoneId || !(await this.options.state.setDraining(moduleId, true))) {
      throw new MeetedgeError('NOT_FOUND', `no live module ${moduleId} in zone ${this.options.zoneId}`);
    }
    const notified = this.send(moduleId, { $case: 'drain', value: drain });
    this.logger.info({ moduleId, notified, reason: drain.reason }, 'module draining');
    return { notified };
  }

  /** Starts sweeping expired modules every `sweepIntervalMs`. */
  start(): void {
    if (this.sweepTimer || this.closed) return;
    this.sweepTimer = setInterval(() => {
      this.sweeping ??= this.sweep().then(
        () => undefined,
      ).finally(() => (this.sweeping = undefined));
    }, this.sweepIntervalMs);
  }

  /** Removes expired modules (frees their reservations); safe to run on every ZCP at once. */
  async sweep(): Promise<ModuleId[]> {
    try {
      const gone = await this.options.state.sweepExpired();
      this.counters.sweeps.inc();
      for (const moduleId of gone) {
        this.counters.expired.inc();
        this.logger.warn({ moduleId }, 'module expired: heartbeats stopped; its reservations are freed');
      }
      return gone;
    } catch (err) {
      this.logger.warn({ err }, 'sweep of expired modules failed; next one retries');
      return [];
    }
  }

  /** Stops the sweep and ends every stream (modules reconnect to another ZCP). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    await this.sweeping;
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    this.connections.clear();
  }

  private connect(stream: ModuleStream): void {
    this.streams.add(stream);
    let connection: Connection | undefined;
    let ended = false;
    // Messages of one stream are handled one after the other, in order.
    let queue = Promise.resolve();
    const log = () => this.logger.child({ moduleId: connection?.registration.id });
    const finish = (err?: unknown) => {
      if (ended) return;
      ended = true;
      if (err !== undefined) stream.emit('error', toGrpcError(err));
      else stream.end();
    };
    const forget = () => {
      this.streams.delete(stream);
      if (connection && this.connections.get(connection.registration.id) === connection) {
        this.connections.delete(connection.registration.id);
        log().info('module stream closed');
      }
    };

    const handle = async (message: v1.ModuleMessage): Promise<void> => {
      if (ended) return;
      const kind = message.kind;
      if (!connection) {
        if (kind?.$case !== 'register') throw new MeetedgeError('INVALID_ARGUMENT', `the first message must be register, got ${kind?.$case ?? 'nothing'}`);
        connection = await this.register(kind.value, stream);
        return;
      }
      switch (kind?.$case) {
        case 'heartbeat':
          return this.heartbeat(connection, kind.value);
        case 'deregister':
          await this.options.state.deregisterModule(connection.registration.id);
          this.counters.deregistered.inc();
          log().info('module deregistered');
          forget();
          finish();
          return;
        case 'register':
          throw new MeetedgeError('INVALID_ARGUMENT', 'register is sent once per stream');
        case 'participantArrived': {
          const moduleId = connection.registration.id;
          return this.participantEvent(connection, () => this.arrived(moduleId, kind.value));
        }
        case 'participantLeft': {
          const moduleId = connection.registration.id;
          return this.participantEvent(connection, () => this.left(moduleId, kind.value));
        }
        default:
          throw new MeetedgeError('INVALID_ARGUMENT', 'a module message must be heartbeat, participant_arrived, participant_left or deregister');
      }
    };

    stream.on('data', (message: v1.ModuleMessage) => {
      queue = queue
        .then(() => handle(message))
        .catch((err: unknown) => {
          if (!connection) this.counters.refused.inc();
          log().warn({ err }, 'module stream refused');
          forget();
          finish(err);
        });
    });
    stream.on('end', () => {
      // The module half-closed without Deregister: its TTL decides.
      void queue.then(() => {
        forget();
        finish();
      });
    });
    stream.on('error', () => forget());
    stream.on('cancelled', () => {
      ended = true;
      forget();
    });
    stream.on('close', () => forget());
  }

  private async register(register: v1.Register, stream: ModuleStream): Promise<Connection> {
    if (this.closed) throw new MeetedgeError('UNAVAILABLE', 'the ZCP is shutting down');
    const registration = registrationFrom(register, this.options.zoneId);
    await this.options.state.registerModule(registration, this.ttlMs);
    const connection: Connection = { registration, stream, lastSeq: 0 };
    // A second Connect with the same module id replaces the first.
    const previous = this.connections.get(registration.id);
    this.connections.set(registration.id, connection);
    if (previous && previous.stream !== stream) previous.stream.end();
    this.counters.registrations.inc();
    stream.write({
      kind: { $case: 'registerAck', value: { zcpId: this.options.zcpId, heartbeatIntervalMs: this.heartbeatIntervalMs, ttlMs: this.ttlMs } },
    });
    // What the module holds is reserved again where the state lost it (a Redis restart).
    for (const meeting of register.heldMeetings) {
      for (const participant of meeting.participants) {
        await this.participantEvent(connection, async () => {
          const p = reportedFrom('held_participant', { ...participant, meetingId: meeting.meetingId });
          await this.hold(registration.id, p, qualityFromProto(participant.quality, 'held_participant.quality'));
        });
      }
    }
    // A re-registration keeps the draining flag: a module that reconnects learns it again.
    const state = await this.options.state.getModule(registration.id);
    if (state?.draining) stream.write({ kind: { $case: 'drain', value: { deadlineUnixMs: 0, reason: 'draining' } } });
    this.logger.info(
      { moduleId: registration.id, nodeId: registration.nodeId, mediaUrl: registration.mediaUrl, capacityUnits: registration.capacityUnits, version: registration.version },
      'module registered',
    );
    this.options.onRegistered?.(registration.id);
    return connection;
  }

  /**
   * Runs one participant event: a malformed one is counted and ignored (the
   * module's registration stands), a store failure is logged (the module's
   * next Register re-announces what it holds).
   */
  private async participantEvent(connection: Connection, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      const moduleId = connection.registration.id;
      if (isMeetedgeError(err) && err.code === 'INVALID_ARGUMENT') {
        this.counters.eventsRefused.inc();
        this.logger.warn({ moduleId, code: err.code }, `participant event refused: ${err.message}`);
      } else {
        this.logger.warn({ moduleId, err }, 'participant event not recorded: the cluster state failed');
      }
    }
  }

  /** The participant arrived: its reservation is confirmed, or reserved again if the state lost it. */
  private async arrived(moduleId: ModuleId, event: v1.ParticipantArrived): Promise<void> {
    const p = reportedFrom('participant_arrived', event);
    const quality = qualityFromProto(event.quality, 'participant_arrived.quality');
    this.counters.arrived.inc();
    await this.hold(moduleId, p, quality);
  }

  /** Confirms a held reservation; one the state no longer has is reserved again (no TTL) first. */
  private async hold(moduleId: ModuleId, p: Reported, quality: Quality): Promise<void> {
    const { state } = this.options;
    if (await state.confirmReservation(moduleId, p.reservationId)) return;
    const request = { moduleId, reservationId: p.reservationId, units: unitsFor(quality) };
    // The participant is here whatever placement would prefer (and even if the module drains): held, under its meeting.
    const result = await state.reserve({ ...request, meetingId: p.meetingId, held: true });
    if (result.ok) {
      this.counters.restored.inc();
      this.logger.info({ moduleId, meetingId: p.meetingId, reservationId: p.reservationId }, 'reservation the state had lost was restored');
    } else {
      // The module's own ledger still holds the participant; the state shows the module fuller than it knows.
      this.logger.warn({ moduleId, meetingId: p.meetingId, reservationId: p.reservationId, reason: result.reason }, 'held participant could not be reserved again');
    }
  }

  /** The participant left (or never came): its reservation is freed. */
  private async left(moduleId: ModuleId, event: v1.ParticipantLeft): Promise<void> {
    const p = reportedFrom('participant_left', event);
    this.counters.left.inc();
    await this.options.state.releaseReservation(moduleId, p.reservationId);
  }

  private async heartbeat(connection: Connection, heartbeat: v1.Heartbeat): Promise<void> {
    // Seq grows by one per heartbeat on a stream; an older one is stale.
    if (heartbeat.seq <= connection.lastSeq) return;
    connection.lastSeq = heartbeat.seq;
    this.counters.heartbeats.inc();
    const load = {
      participants: heartbeat.participants,
      meetings: heartbeat.meetings,
      cpuPercent: Number.isFinite(heartbeat.cpuPercent) && heartbeat.cpuPercent > 0 ? heartbeat.cpuPercent : 0,
      egressKbps: heartbeat.egressKbps,
    };
    const id = connection.registration.id;
    if (await this.options.state.heartbeat(id, load, this.ttlMs)) return;
    // Swept meanwhile (it was silent too long) or the state lost it (a Redis
    // restart): the stream is alive, so the module is, but what it holds is
    // gone from the state. The stream ends; the module connects again and
    // its Register re-announces its meetings and participants.
    this.counters.reannounced.inc();
    this.logger.warn({ moduleId: id }, 'heartbeat from a module the state no longer knows; asking it to register again');
    throw new MeetedgeError('UNAVAILABLE', 'the cluster state no longer knows this module (swept, or the state was lost): connect again and register what you hold');
  }
}
