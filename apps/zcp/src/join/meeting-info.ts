/**
 * Where a ZCP learns what it needs about a meeting to place a participant:
 * the cloud zone controller (zone_controller.proto, GetMeetingServerInfo). The
 * join code sees only `MeetingInfoSource`; the gRPC client is one adapter and
 * `StaticMeetingInfoSource` the in-memory one for tests.
 */
import { Metadata, credentials } from '@grpc/grpc-js';
import { MeetedgeError, type MeetingId, type ZcpId, type ZoneId } from '@meetedge/core';
import { fromGrpcError, meetingInfoFromProto, v1, type MeetingInfo } from '@meetedge/proto';

export type { MeetingInfo };

export interface MeetingInfoSource {
  /**
   * The meeting's info for this ZCP's zone. Rejects with coded errors: NOT_FOUND
   * (no such meeting), FORBIDDEN (the zone may not host it), UNAVAILABLE (the
   * zone controller cannot be reached).
   */
  get(meetingId: MeetingId): Promise<MeetingInfo>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/** Wire → domain; a malformed answer is the controller's bug, not the caller's: UNAVAILABLE. */
export function meetingInfoFromController(info: v1.MeetingServerInfo | undefined): MeetingInfo {
  try {
    return meetingInfoFromProto(info);
  } catch (err) {
    throw new MeetedgeError('UNAVAILABLE', `the zone controller answered malformed meeting info: ${(err as Error).message}`, undefined, { cause: err });
  }
}

export interface GrpcMeetingInfoSourceOptions {
  /**
   * The cloud zone controller, "host:port" (MEETEDGE_ZONE_CONTROLLER_ADDRESS);
   * a function is read at the first call (the all-in-one knows the port only
   * once the control plane started).
   */
  readonly address: string | (() => string);
  readonly zoneId: ZoneId;
  readonly zcpId: ZcpId;
  /** A call without an answer by then fails with UNAVAILABLE, ms. Default 3 000. */
  readonly deadlineMs?: number;
}

/** Asks the cloud zone controller over gRPC (plaintext; TLS arrives with deployment hardening). */
export class GrpcMeetingInfoSource implements MeetingInfoSource {
  private client: v1.ZoneControllerClient | undefined;
  private closed = false;

  constructor(private readonly options: GrpcMeetingInfoSourceOptions) {}

  get(meetingId: MeetingId): Promise<MeetingInfo> {
    if (this.closed) return Promise.reject(new MeetedgeError('UNAVAILABLE', 'meeting info source is closed'));
    const { address } = this.options;
    const client = (this.client ??= new v1.ZoneControllerClient(typeof address === 'string' ? address : address(), credentials.createInsecure()));
    const request = { meetingId, zoneId: this.options.zoneId, zcpId: this.options.zcpId };
    const deadline = Date.now() + (this.options.deadlineMs ?? 3000);
    return new Promise((resolve, reject) => {
      client.getMeetingServerInfo(request, new Metadata(), { deadline }, (err, response) => {
        if (err) reject(fromGrpcError(err));
        else {
          try {
            resolve(meetingInfoFromController(response.info));
          } catch (e) {
            reject(e);
          }
        }
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client?.close();
  }
}

/**
 * Keeps each answer of another source for a short while and shares one call
 * among concurrent asks for the same meeting, so a burst of joins costs the
 * cloud zone controller one call per meeting, not one per join. Refusals are
 * not kept. A change to a meeting (its mode, its cloud MMR) reaches joins at
 * most `ttlMs` late.
 */
export class CachedMeetingInfoSource implements MeetingInfoSource {
  private readonly answers = new Map<MeetingId, { info: MeetingInfo; until: number }>();
  private readonly inFlight = new Map<MeetingId, Promise<MeetingInfo>>();

  constructor(
    private readonly source: MeetingInfoSource,
    private readonly options: { ttlMs: number; maxEntries?: number; now?: () => number },
  ) {}

  get(meetingId: MeetingId): Promise<MeetingInfo> {
    const now = (this.options.now ?? Date.now)();
    const kept = this.answers.get(meetingId);
    if (kept && kept.until > now) return Promise.resolve(kept.info);
    const pending = this.inFlight.get(meetingId);
    if (pending) return pending;
    const call = this.source
      .get(meetingId)
      .then((info) => {
        if (this.answers.size >= (this.options.maxEntries ?? 10_000)) this.answers.clear();
        this.answers.set(meetingId, { info, until: (this.options.now ?? Date.now)() + this.options.ttlMs });
        return info;
      })
      .finally(() => this.inFlight.delete(meetingId));
    this.inFlight.set(meetingId, call);
    return call;
  }

  close(): Promise<void> {
    this.answers.clear();
    return this.source.close();
  }
}

/** In-memory source for tests and tools: meetings it knows, refusals it is told. */
export class StaticMeetingInfoSource implements MeetingInfoSource {
  private readonly meetings = new Map<string, MeetingInfo | MeetedgeError>();
  /** Number of `get` calls, for tests. */
  calls = 0;

  constructor(meetings: readonly MeetingInfo[] = []) {
    for (const m of meetings) this.meetings.set(m.meetingId, m);
  }

  /** Answers `get(meetingId)` with this info, or rejects with this error. */
  set(meetingId: MeetingId, answer: MeetingInfo | MeetedgeError): void {
    this.meetings.set(meetingId, answer);
  }

  async get(meetingId: MeetingId): Promise<MeetingInfo> {
    this.calls++;
    const answer = this.meetings.get(meetingId);
    if (!answer) throw new MeetedgeError('NOT_FOUND', `no meeting ${meetingId}`);
    if (answer instanceof MeetedgeError) throw answer;
    return answer;
  }

  async close(): Promise<void> {
    // nothing to release
  }
}
