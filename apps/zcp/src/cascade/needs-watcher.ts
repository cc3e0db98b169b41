/**
 * Which meetings of this zone need a cascade link now, as the cloud zone
 * controller says on its WatchCascadeNeeds stream (zone_controller.proto).
 * The watcher holds one stream, reopens it with exponential backoff when it
 * ends, fails, or skips a seq, and keeps the current needs between streams:
 * a dropped stream ends no need. Each stream replays every current need and
 * then sends `synced`; a need kept from before that the replay left out has
 * ended then. Listeners hear only real changes, so a reconnect that replays
 * what the watcher already had tells nobody anything.
 */
import { credentials, status as grpcStatus, type ClientReadableStream, type StatusObject } from '@grpc/grpc-js';
import type { MeetingId, ZcpId, ZoneId } from '@meetedge/core';
import { v1 } from '@meetedge/proto';
import { Counter, Gauge, type Logger, type ServiceMetrics } from '@meetedge/service-kit';
import { needEventFromProto, sameNeed, type CascadeNeed, type CascadeNeedChange } from './need';

export type CascadeNeedListener = (change: CascadeNeedChange) => void;

/** What the relay needs of the watcher (a fake stands in for it in tests). */
export interface CascadeNeedsView {
  /** The current needs of the zone, by meeting. */
  current(): ReadonlyMap<MeetingId, CascadeNeed>;
  /** Calls `listener` with every later change; returns the unsubscribe. */
  watch(listener: CascadeNeedListener): () => void;
}

export interface CascadeNeedsWatcherOptions {
  /**
   * The cloud zone controller, "host:port" (MEETEDGE_ZONE_CONTROLLER_ADDRESS);
   * a function is read at every connect (the all-in-one knows the port only
   * once the control plane started).
   */
  readonly address: string | (() => string);
  readonly zoneId: ZoneId;
  readonly zcpId: ZcpId;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** Pause before the first reconnect, ms; it doubles per reconnect. Default 250. */
  readonly initialBackoffMs?: number;
  /** Longest pause between reconnects, ms; a stream synced this long resets it. Default 5 000. */
  readonly maxBackoffMs?: number;
}

/**
 * A stream that hangs without a TCP reset (a controller host gone) is found
 * by HTTP/2 pings: no answer within 10 s of a ping sent after 20 s of quiet
 * fails the call. grpc-js servers accept pings this often.
 */
const CHANNEL_OPTIONS = { 'grpc.keepalive_time_ms': 20_000, 'grpc.keepalive_timeout_ms': 10_000 };

/** One WatchCascadeNeeds call and what arrived on it. */
interface Session {
  readonly client: v1.ZoneControllerClient;
  readonly call: ClientReadableStream<v1.CascadeNeedEvent>;
  lastSeq: number;
  /** Meetings replayed so far; undefined once `synced` arrived. */
  replayed: Set<MeetingId> | undefined;
  /** Number of `needed` events before `synced`. */
  neededBeforeSync: number;
  /** When `synced` arrived, ms since the epoch. */
  syncedAt: number | undefined;
}

export class CascadeNeedsWatcher implements CascadeNeedsView {
  private readonly needs = new Map<MeetingId, CascadeNeed>();
  private readonly listeners = new Set<CascadeNeedListener>();
  private readonly logger: Logger;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly counters: { reconnects: Counter; malformed: Counter };
  private backoffMs: number;
  private session: Session | undefined;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;

  constructor(private readonly options: CascadeNeedsWatcherOptions) {
    this.logger = options.logger.child({ component: 'cascade-needs' });
    this.initialBackoffMs = options.initialBackoffMs ?? 250;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.backoffMs = this.initialBackoffMs;
    const registers = [options.metrics.registry];
    const needs = this.needs;
    new Gauge({
      name: 'meetedge_zcp_cascade_needs',
      help: 'Meetings of the zone that need a cascade link, as this ZCP last heard from the zone controller',
      registers,
      collect() {
        this.set(needs.size);
      },
    });
    this.counters = {
      reconnects: new Counter({ name: 'meetedge_zcp_cascade_watch_reconnects_total', help: 'WatchCascadeNeeds streams reopened (after an end, an error or a seq gap)', registers }),
      malformed: new Counter({ name: 'meetedge_zcp_cascade_events_malformed_total', help: 'Malformed cascade need events from the zone controller, ignored', registers }),
    };
  }

  current(): ReadonlyMap<MeetingId, CascadeNeed> {
    return this.needs;
  }

  watch(listener: CascadeNeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Opens the stream. Idempotent; does nothing once closed. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.connect();
  }

  /** Ends the stream and every reconnect. Idempotent. The needs stay readable. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const session = this.session;
    this.session = undefined;
    session?.call.cancel();
    session?.client.close();
  }

  private connect(): void {
    this.timer = undefined;
    if (this.closed) return;
    const { address, zoneId, zcpId } = this.options;
    let client: v1.ZoneControllerClient;
    try {
      client = new v1.ZoneControllerClient(typeof address === 'string' ? address : address(), credentials.createInsecure(), CHANNEL_OPTIONS);
    } catch (err) {
      this.logger.warn({ err }, 'cannot reach the zone controller at its address');
      this.reconnectLater();
      return;
    }
    const call = client.watchCascadeNeeds({ zoneId, zcpId });
    const session: Session = { client, call, lastSeq: 0, replayed: new Set(), neededBeforeSync: 0, syncedAt: undefined };
    this.session = session;
    call.on('data', (event: v1.CascadeNeedEvent) => {
      if (this.session === session) this.receive(session, event);
    });
    // The status says how the stream ended; 'error' only repeats it.
    call.on('error', () => undefined);
    call.on('status', (s: StatusObject) => {
      const why = s.code === grpcStatus.OK ? 'the zone controller ended it' : `${grpcStatus[s.code]}: ${s.details}`;
      this.drop(session, why);
    });
  }

  private receive(session: Session, event: v1.CascadeNeedEvent): void {
    if (event.seq !== session.lastSeq + 1) {
      this.drop(session, `seq ${event.seq} after ${session.lastSeq}`);
      return;
    }
    session.lastSeq = event.seq;
    let parsed;
    try {
      parsed = needEventFromProto(event);
    } catch (err) {
      this.counters.malformed.inc();
      this.logger.warn({ seq: event.seq }, `malformed cascade need event ignored: ${(err as Error).message}`);
      return;
    }
    switch (parsed.type) {
      case 'needed':
        if (session.replayed) {
          session.replayed.add(parsed.need.meetingId);
          session.neededBeforeSync++;
        }
        return this.set(parsed.need);
      case 'ended':
        session.replayed?.delete(parsed.meetingId);
        return this.remove(parsed.meetingId);
      case 'synced':
        return this.synced(session, parsed.replayed);
    }
  }

  /** The replay is complete: what it left out has ended. */
  private synced(session: Session, replayed: number): void {
    const kept = session.replayed;
    if (!kept) {
      this.counters.malformed.inc();
      this.logger.warn({ seq: session.lastSeq }, 'second synced on one stream ignored');
      return;
    }
    session.replayed = undefined;
    session.syncedAt = Date.now();
    if (replayed !== session.neededBeforeSync) {
      this.logger.warn({ replayed, received: session.neededBeforeSync }, 'synced counts a different replay than arrived');
    }
    for (const meetingId of [...this.needs.keys()]) {
      if (!kept.has(meetingId)) this.remove(meetingId);
    }
    this.logger.info({ needs: this.needs.size }, 'cascade needs in sync with the zone controller');
  }

  private set(need: CascadeNeed): void {
    const previous = this.needs.get(need.meetingId);
    if (previous && sameNeed(previous, need)) return;
    this.needs.set(need.meetingId, need);
    this.emit({ type: 'needed', need });
  }

  private remove(meetingId: MeetingId): void {
    if (this.needs.delete(meetingId)) this.emit({ type: 'ended', meetingId });
  }

  private emit(change: CascadeNeedChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (err) {
        this.logger.error({ err, change: change.type }, 'cascade need listener threw');
      }
    }
  }

  /** Ends a session (once) and schedules the next one. */
  private drop(session: Session, why: string): void {
    if (this.session !== session) return;
    this.session = undefined;
    session.call.cancel();
    session.client.close();
    if (this.closed) return;
    // A stream that stayed in sync a while was healthy: the next one starts from the shortest pause.
    if (session.syncedAt !== undefined && Date.now() - session.syncedAt >= this.maxBackoffMs) this.backoffMs = this.initialBackoffMs;
    this.logger.warn({ retryInMs: this.backoffMs }, `cascade needs stream ended (${why}); reconnecting`);
    this.reconnectLater();
  }

  private reconnectLater(): void {
    if (this.closed) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    this.timer = setTimeout(() => {
      this.counters.reconnects.inc();
      this.connect();
    }, delay);
    this.timer.unref();
  }
}
