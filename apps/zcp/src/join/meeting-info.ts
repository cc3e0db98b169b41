/**
 * Where a ZCP learns what it needs about a meeting to place a participant:
 * the cloud zone controller (zone_controller.proto, GetMeetingServerInfo). The
 * join code sees only `MeetingInfoSource`; the gRPC client is one adapter and
 * `StaticMeetingInfoSource` the in-memory one for tests.
 */
import { Metadata, credentials } from '@grpc/grpc-js';
import {
  AccountId,
  MeetedgeError,
  MeetingId,
  ModuleId,
  type MeetingMode,
  type Quality,
  type ZcpId,
  type ZoneId,
} from '@meetedge/core';
import { fromGrpcError, qualityFromProto, v1 } from '@meetedge/proto';

/** A meeting as a zone sees it (the domain form of v1.MeetingServerInfo). */
export interface MeetingInfo {
  readonly meetingId: MeetingId;
  readonly mode: MeetingMode;
  readonly e2ee: boolean;
  readonly defaultQuality: Quality;
  /** The cloud MMR that tops a cloud-hybrid meeting; absent for internal-only ones. */
  readonly cloudMmrId?: ModuleId;
  /** Its cascade endpoint ("host:port"); absent for internal-only meetings. */
  readonly cloudMmrAddress?: string;
  /** The cloud meeting server's signaling URL; absent for internal-only meetings. */
  readonly cloudSignalingUrl?: string;
  /** The meeting's account: only its members (and guests of this meeting) may be placed. */
  readonly accountId: AccountId;
}

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

/** Wire → domain; a malformed answer is the controller's bug, not the caller's. */
export function meetingInfoFromProto(info: v1.MeetingServerInfo | undefined): MeetingInfo {
  try {
    if (!info) throw new Error('no info');
    const mode: MeetingMode | undefined =
      info.mode === v1.MeetingMode.CLOUD_HYBRID ? 'cloud-hybrid' : info.mode === v1.MeetingMode.INTERNAL_ONLY ? 'internal-only' : undefined;
    if (!mode) throw new Error(`mode ${String(info.mode)}`);
    const base = {
      meetingId: MeetingId(info.meetingId),
      accountId: AccountId(info.accountId),
      mode,
      e2ee: info.e2ee,
      defaultQuality: qualityFromProto(info.defaultQuality, 'default_quality'),
    };
    if (mode === 'internal-only') return base;
    return { ...base, cloudMmrId: ModuleId(info.cloudMmrId), cloudMmrAddress: info.cloudMmrAddress, cloudSignalingUrl: info.cloudSignalingUrl };
  } catch (err) {
    throw new MeetedgeError('UNAVAILABLE', `the zone controller answered malformed meeting info: ${(err as Error).message}`, undefined, { cause: err });
  }
}

export interface GrpcMeetingInfoSourceOptions {
  /** The cloud zone controller, "host:port" (MEETEDGE_ZONE_CONTROLLER_ADDRESS). */
  readonly address: string;
  readonly zoneId: ZoneId;
  readonly zcpId: ZcpId;
  /** A call without an answer by then fails with UNAVAILABLE, ms. Default 3 000. */
  readonly deadlineMs?: number;
}

/** Asks the cloud zone controller over gRPC (plaintext; TLS arrives with deployment hardening). */
export class GrpcMeetingInfoSource implements MeetingInfoSource {
  private readonly client: v1.ZoneControllerClient;
  private closed = false;

  constructor(private readonly options: GrpcMeetingInfoSourceOptions) {
    this.client = new v1.ZoneControllerClient(options.address, credentials.createInsecure());
  }

  get(meetingId: MeetingId): Promise<MeetingInfo> {
    if (this.closed) return Promise.reject(new MeetedgeError('UNAVAILABLE', 'meeting info source is closed'));
    const request = { meetingId, zoneId: this.options.zoneId, zcpId: this.options.zcpId };
    const deadline = Date.now() + (this.options.deadlineMs ?? 3000);
    return new Promise((resolve, reject) => {
      this.client.getMeetingServerInfo(request, new Metadata(), { deadline }, (err, response) => {
        if (err) reject(fromGrpcError(err));
        else {
          try {
            resolve(meetingInfoFromProto(response.info));
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
    this.client.close();
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
