/**
 * The module's side of registration (libs/proto module_registry.proto): one
 * Connect stream to every ZCP of the zone. Each stream starts with Register,
 * then carries a Heartbeat with the module's load every interval the ZCP asks
 * for. A stream that drops is opened again with exponential backoff; a clean
 * close sends Deregister on every stream so the ZCPs remove the module at
 * once instead of waiting for its TTL. Commands from the ZCPs (Drain,
 * ExpectParticipant, MeetingServerInfo, SetCascade) are handed to
 * `onCommand`.
 *
 * Participant events (arrived, left) go to one ZCP only, since every ZCP
 * writes them to the same cluster state: the first with a registered
 * stream. While none is registered they wait in a bounded queue, sent in
 * order once one is; and each Register re-announces every participant the
 * module holds, so a ZCP (or a restarted Redis) that missed an arrival learns
 * it again.
 */
import { credentials, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import { v1 } from '@meetedge/proto';
import type { Logger } from '@meetedge/service-kit';

/** Load the module reports on each heartbeat (Heartbeat without seq and clock). */
export type ModuleLoadReport = Omit<v1.Heartbeat, 'seq' | 'sentAtUnixMs'>;

/** A command a ZCP sent (any ZcpMessage but RegisterAck). */
export type ZcpCommand = Exclude<NonNullable<v1.ZcpMessage['kind']>, { $case: 'registerAck' }>;

/** A participant event for the ZCPs. */
export type ParticipantEvent = Extract<NonNullable<v1.ModuleMessage['kind']>, { $case: 'participantArrived' | 'participantLeft' }>;

/** Events kept while no ZCP is registered; past this the oldest are dropped (each Register re-announces arrivals). */
export const MAX_QUEUED_EVENTS = 10_000;

export interface ZcpRegistrarOptions {
  /** `host:port` of every ZCP of the zone. */
  addresses: readonly string[];
  /** What the module announces; read on every (re)connect. */
  register: () => v1.Register;
  /** The module's load now; read on every heartbeat. */
  load: () => ModuleLoadReport;
  /** A command from a ZCP; errors it throws are logged. */
  onCommand: (command: ZcpCommand, zcpAddress: string) => void;
  /** Called when a stream's Register was acknowledged (queued events are then sent on it). */
  onRegistered?: (link: ZcpLink) => void;
  logger: Logger;
  /** Backoff before reconnecting a dropped stream, ms: doubles from `min` up to `max`. Default 250 / 5 000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How long close() waits for each ZCP to end the stream after Deregister, ms. Default 1 000. */
  deregisterTimeoutMs?: number;
}

/** One ZCP's Connect stream, opened again whenever it drops until the registrar closes. */
export class ZcpLink {
  private call: ClientDuplexStream<v1.ModuleMessage, v1.ZcpMessage> | undefined;
  private readonly client: v1.ZoneControllerProxyClient;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private seq = 0;
  private closed = false;
  /** Resolves when the current stream has ended (its status arrived). */
  private ended: Promise<void> = Promise.resolve();
  /** The ZCP acknowledged Register on the current stream. */
  registered = false;
  readonly logger: Logger;

  constructor(
    readonly address: string,
    private readonly options: ZcpRegistrarOptions,
  ) {
    this.client = new v1.ZoneControllerProxyClient(address, credentials.createInsecure());
    this.backoffMs = options.reconnectMinMs ?? 250;
    this.logger = options.logger.child({ zcpAddress: address });
  }

  open(): void {
    if (this.closed) return;
    this.seq = 0;
    this.registered = false;
    const call = this.client.connect();
    this.call = call;
    let resolveEnded!: () => void;
    this.ended = new Promise((resolve) => (resolveEnded = resolve));
    call.on('data', (message: v1.ZcpMessage) => this.onMessage(message));
    // The status event says how the stream ended; 'error' repeats it.
    call.on('error', () => undefined);
    call.on('status', (status: StatusObject) => {
      resolveEnded();
      if (this.call !== call) return;
      this.call = undefined;
      this.stopHeartbeats();
      if (this.closed) return;
      const wasRegistered = this.registered;
      this.registered = false;
      this.logger.warn({ code: status.code, details: status.details, wasRegistered }, 'ZCP stream ended; reconnecting');
      this.scheduleReconnect();
    });
    call.write({ kind: { $case: 'register', value: this.options.register() } });
  }

  /** Sends a participant event on the current stream; false when the stream is not registered. */
  send(event: ParticipantEvent): boolean {
    const call = this.call;
    if (!call || !this.registered) return false;
    call.write({ kind: event });
    return true;
  }

  /** Sends Deregister, waits for the ZCP to end the stream (or the timeout), then stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.stopHeartbeats();
    const call = this.call;
    if (call && this.registered) {
      call.write({ kind: { $case: 'deregister', value: {} } });
      call.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.deregisterTimeoutMs ?? 1000)))]);
      clearTimeout(timer);
    }
    call?.cancel();
    this.client.close();
  }

  private onMessage(message: v1.ZcpMessage): void {
    const kind = message.kind;
    if (!kind) return;
    if (kind.$case === 'registerAck') {
      this.registered = true;
      this.backoffMs = this.options.reconnectMinMs ?? 250;
      this.logger.info({ zcpId: kind.value.zcpId, heartbeatIntervalMs: kind.value.heartbeatIntervalMs, ttlMs: kind.value.ttlMs }, 'registered with ZCP');
      this.startHeartbeats(kind.value.heartbeatIntervalMs);
      this.options.onRegistered?.(this);
      return;
    }
    try {
      this.options.onCommand(kind, this.address);
    } catch (err) {
      this.logger.error({ err, command: kind.$case }, 'ZCP command failed');
    }
  }

  private startHeartbeats(intervalMs: number): void {
    this.stopHeartbeats();
    const beat = () => {
      const call = this.call;
      if (!call) return;
      call.write({ kind: { $case: 'heartbeat', value: { ...this.options.load(), seq: ++this.seq, sentAtUnixMs: Date.now() } } });
    };
    beat();
    // A ZCP asking for nonsense still gets a sane rhythm.
    this.heartbeatTimer = setInterval(beat, Math.min(Math.max(intervalMs || 1000, 100), 10_000));
  }

  private stopHeartbeats(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private scheduleReconnect(): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.reconnectMaxMs ?? 5000);
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }
}

export class ZcpRegistrar {
  private readonly links: ZcpLink[];
  private readonly queue: ParticipantEvent[] = [];
  private started = false;
  /** Events dropped because the queue was full while no ZCP was registered. */
  droppedEvents = 0;

  constructor(private readonly options: ZcpRegistrarOptions) {
    this.links = options.addresses.map(
      (address) =>
        new ZcpLink(address, {
          ...options,
          onRegistered: (link) => {
            this.flush(link);
            options.onRegistered?.(link);
          },
        }),
    );
  }

  /** Sends a participant event to one registered ZCP, or queues it until one registers. */
  report(event: ParticipantEvent): void {
    if (this.queue.length === 0 && this.links.some((link) => link.send(event))) return;
    this.queue.push(event);
    if (this.queue.length > MAX_QUEUED_EVENTS) {
      this.queue.shift();
      if (this.droppedEvents++ === 0) this.options.logger.warn({ max: MAX_QUEUED_EVENTS }, 'no ZCP registered: dropping the oldest participant events');
    }
  }

  /** Events waiting for a registered ZCP. */
  get queuedEvents(): number {
    return this.queue.length;
  }

  private flush(link: ZcpLink): void {
    while (this.queue.length > 0 && link.send(this.queue[0] as ParticipantEvent)) this.queue.shift();
  }

  /** Opens a stream to every ZCP; registration happens in the background (and again after each drop). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const link of this.links) link.open();
  }

  /** Addresses of the ZCPs that acknowledged Register on their current stream. */
  registeredWith(): string[] {
    return this.links.filter((l) => l.registered).map((l) => l.address);
  }

  /** Deregisters from every ZCP (in parallel) and closes the streams. Idempotent. */
  async close(): Promise<void> {
    await Promise.all(this.links.map((l) => l.close()));
  }
}
