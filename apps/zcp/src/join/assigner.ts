/**
 * The join decision of a ZCP (DESIGN.md, "A cloud-hybrid join" steps 2–4, "An
 * internal-only join"): who may join, which module gets the participant, the
 * capacity held for it, and the signed join ticket. HTTP stays in routes.ts.
 *
 * Capacity is held with the cluster state's atomic, meeting-affine `reserve`,
 * the ticket id being the reservation id, with a pending TTL equal to the
 * ticket's lifetime: a ticket never used frees its units at the first sweep
 * after it expired; the module confirms the reservation when the participant
 * arrives and releases it when they leave. The store refuses a second module
 * for a meeting while the first has room (`elsewhere`), so joins of one
 * meeting racing on two ZCPs still land together.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import {
  MeetedgeError,
  ParticipantId,
  ReservationId,
  signTicket,
  unitsFor,
  type AccessClaims,
  type MeetingId,
  type MeetingMode,
  type ModuleId,
  type Quality,
  type ZoneId,
} from '@meetedge/core';
import type { Logger } from '@meetedge/service-kit';
import type { ClusterState } from '@meetedge/state';
import { placementCandidates, type PlacementModule } from '../placement';
import type { MeetingInfo, MeetingInfoSource } from './meeting-info';

export interface AssignRequest {
  readonly meetingId: MeetingId;
  readonly quality: Quality;
  /** Shown to others; default: the token's display name. */
  readonly displayName?: string;
  /** Modules the client could not use (e.g. unreachable): never proposed. */
  readonly excludeModuleIds?: readonly ModuleId[];
}

export interface Assignment {
  readonly mode: MeetingMode;
  /** True when the zone had no room and the participant goes to the cloud MMR. */
  readonly cloud: boolean;
  readonly moduleId: ModuleId;
  /** Where the client opens its media session. */
  readonly mediaUrl: string;
  readonly ticket: string;
  /** When the ticket stops being accepted, ms since the epoch. */
  readonly expiresAt: number;
}

/** Tells the chosen module about its new participant (ModuleRegistry.announce). */
export type AnnounceParticipant = (
  moduleId: ModuleId,
  info: MeetingInfo,
  expected: { meetingId: MeetingId; participantId: ParticipantId; reservationId: ReservationId; quality: Quality; expiresAt: number },
) => void;

export interface AssignerOptions {
  readonly zoneId: ZoneId;
  readonly state: ClusterState;
  readonly meetingInfo: MeetingInfoSource;
  /** Signs join tickets (Ed25519). */
  readonly ticketKey: KeyObject;
  /** Lifetime of a join ticket and of its pending reservation, ms. */
  readonly ticketTtlMs: number;
  /** The cloud MMR's media-session URL, the last resort of cloud-hybrid meetings. */
  readonly cloudMmrUrl: string;
  /** Tells a module whom it was given; default: nobody (its tickets still admit). */
  readonly announce?: AnnounceParticipant;
  readonly logger: Logger;
  /** Clock, ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

/** A placement attempt never tries more modules than this (each `elsewhere` answer costs one). */
const MAX_RESERVE_ATTEMPTS = 16;

/** Who may be placed in a meeting; FORBIDDEN otherwise. */
export function authorizeJoin(claims: AccessClaims, meetingId: MeetingId, info: MeetingInfo | undefined): void {
  if (claims.kind === 'guest' && claims.meetingId !== meetingId) {
    throw new MeetedgeError('FORBIDDEN', `this guest token is for meeting ${claims.meetingId}, not ${meetingId}`);
  }
  if (!info) return;
  if (info.mode === 'internal-only' && claims.kind === 'guest') {
    throw new MeetedgeError('FORBIDDEN', `meeting ${meetingId} is internal-only: sign in with an account of the organization`);
  }
  if (claims.accountId !== info.accountId) {
    throw new MeetedgeError('FORBIDDEN', `meeting ${meetingId} belongs to another account`);
  }
}

export class Assigner {
  private readonly now: () => number;

  constructor(private readonly options: AssignerOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Places the token's holder in a meeting. Throws FORBIDDEN (not allowed),
   * NOT_FOUND (no such meeting), CAPACITY_EXCEEDED (internal-only meeting and
   * no room in the zone), UNAVAILABLE (zone controller or store down).
   */
  async assign(claims: AccessClaims, request: AssignRequest): Promise<Assignment> {
    const { meetingId, quality } = request;
    authorizeJoin(claims, meetingId, undefined);
    const info = await this.options.meetingInfo.get(meetingId);
    authorizeJoin(claims, meetingId, info);

    const participantId = ParticipantId(claims.kind === 'member' ? claims.userId : claims.guestId);
    const ticketId = ReservationId(randomUUID());
    const issuedAt = this.now();
    const expiresAt = issuedAt + this.options.ticketTtlMs;
    // The host (or an admin of the account) may act as host where a module holds the roster.
    const isHost = claims.kind === 'member' && (claims.role === 'admin' || (info.hostUserId !== undefined && claims.userId === info.hostUserId));
    const ticketFor = (moduleId: ModuleId): string =>
      signTicket(
        {
          ticketId,
          meetingId,
          participantId,
          moduleId,
          quality,
          mode: info.mode,
          displayName: request.displayName ?? claims.displayName,
          issuedAt,
          expiresAt,
          ...(isHost ? { isHost } : {}),
        },
        this.options.ticketKey,
      );
    const log = this.options.logger.child({ meetingId, participantId, ticketId });

    const placed = await this.reserve(meetingId, unitsFor(quality), ticketId, request.excludeModuleIds ?? []);
    if (placed) {
      log.info({ moduleId: placed.id, quality, affinity: placed.affinity }, 'placed');
      this.options.announce?.(placed.id, info, { meetingId, participantId, reservationId: ticketId, quality, expiresAt });
      return { mode: info.mode, cloud: false, moduleId: placed.id, mediaUrl: placed.mediaUrl, ticket: ticketFor(placed.id), expiresAt };
    }
    if (info.mode === 'cloud-hybrid' && info.cloudMmrId) {
      log.info({ moduleId: info.cloudMmrId, quality }, 'zone full: placed on the cloud MMR');
      return { mode: info.mode, cloud: true, moduleId: info.cloudMmrId, mediaUrl: this.options.cloudMmrUrl, ticket: ticketFor(info.cloudMmrId), expiresAt };
    }
    log.warn({ quality }, 'zone full: internal-only join refused');
    throw new MeetedgeError('CAPACITY_EXCEEDED', `zone ${this.options.zoneId} has no room for this internal-only meeting`, {
      zoneId: this.options.zoneId,
      meetingId,
    });
  }

  /**
   * Tries the candidates in order; the store's atomic reserve has the last
   * word. An `elsewhere` answer (another module took the meeting meanwhile and
   * has room) is followed to that module, unless the client excluded it.
   */
  private async reserve(
    meetingId: MeetingId,
    units: number,
    reservationId: ReservationId,
    excludeModuleIds: readonly ModuleId[],
  ): Promise<{ id: ModuleId; mediaUrl: string; affinity: boolean } | undefined> {
    const { state, zoneId, ticketTtlMs } = this.options;
    const [modules, withMeeting] = await Promise.all([state.listModules(zoneId), state.meetingModules(meetingId)]);
    const carrying = new Set<string>(withMeeting);
    const view: PlacementModule[] = modules
      .filter((m) => m.role === 'edge')
      .map((m) => ({
        id: m.id,
        // listModules leaves out expired modules by the store's clock; ours may differ.
        live: true,
        draining: m.draining,
        capacityUnits: m.capacityUnits,
        usedUnits: m.reservedUnits,
        meetings: carrying.has(m.id) ? [meetingId] : [],
      }));
    const mediaUrls = new Map(modules.map((m) => [m.id, m.mediaUrl]));
    const excluded = new Set(excludeModuleIds);
    const queue = placementCandidates({ modules: view, meetingId, units, excludeModuleIds, random: Math.random }).map((c) => ({ moduleId: c.moduleId, affinity: c.affinity }));
    const tried = new Set<ModuleId>();
    // The client cannot use the module holding the meeting: place it without affinity.
    let affine = true;
    for (let attempt = 0; attempt < MAX_RESERVE_ATTEMPTS; attempt++) {
      const candidate = queue.shift();
      if (!candidate) break;
      if (tried.has(candidate.moduleId) && affine) continue;
      tried.add(candidate.moduleId);
      const mediaUrl = mediaUrls.get(candidate.moduleId) ?? (await state.getModule(candidate.moduleId))?.mediaUrl;
      if (mediaUrl === undefined) continue;
      const result = await state.reserve({ moduleId: candidate.moduleId, reservationId, units, pendingTtlMs: ticketTtlMs, ...(affine ? { meetingId } : {}) });
      if (result.ok) {
        if (!affine) await state.addMeetingModule(meetingId, candidate.moduleId);
        return { id: candidate.moduleId, mediaUrl, affinity: candidate.affinity };
      }
      if (result.reason !== 'elsewhere') continue; // full, draining or gone: try the next
      if (excluded.has(result.moduleId)) {
        affine = false;
        queue.unshift(candidate);
      } else {
        // Another join put the meeting there first; follow it.
        queue.unshift({ moduleId: result.moduleId, affinity: true });
        tried.delete(result.moduleId);
      }
    }
    return undefined;
  }
}
