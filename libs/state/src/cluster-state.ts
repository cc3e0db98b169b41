/**
 * The shared state that makes modules and ZCPs replaceable (DESIGN.md,
 * "Processes"): module registry with liveness, module load, meeting → modules,
 * the top MMR of each meeting, capacity reservations, and change events.
 *
 * One interface, two implementations: `RedisClusterState` for real
 * deployments and `MemoryClusterState` for the all-in-one mode and unit tests.
 * Both pass the same contract suite (`@meetedge/state/testing`). Everything
 * that must be atomic across processes (reservations, top claims, expiry) is
 * one operation of this interface, so callers never read-modify-write.
 */
import type { MeetingId, ModuleId, NodeId, ReservationId, ZoneId } from '@meetedge/core';

/** Where a media module runs: inside a company network, or in the cloud as the cloud MMR. */
export type ModuleRole = 'edge' | 'cloud';

/** What a module announces when it registers (and re-announces after a reconnect). */
export interface ModuleRegistration {
  readonly id: ModuleId;
  readonly zoneId: ZoneId;
  readonly nodeId: NodeId;
  readonly role: ModuleRole;
  /** URL clients open their media session on (e.g. `wss://sfu-1.corp:443/v1/media`). */
  readonly mediaUrl: string;
  /** Capacity in units (SD participant = 1, HD = 2); 400 for a standard module. Positive integer. */
  readonly capacityUnits: number;
  /** Software version of the module, for the admin's view and for rolling upgrades. */
  readonly version: string;
  /**
   * Where other media servers reach its Cascade service ("host:port"): the
   * east-west links of internal-only meetings whose top it is. Absent: it
   * takes no links.
   */
  readonly cascadeAddress?: string;
  /**
   * Names this run of the module's process (random at each start). A
   * registration under the same module id with another instance is a
   * restart: what the previous run held (reservations, meetings, top claims)
   * is removed first, as at its expiry (event `module-gone`, reason
   * `restarted`). Absent: never treated as a restart.
   */
  readonly instanceId?: string;
}

/** Load a module reports with each heartbeat. All fields are non-negative. */
export interface ModuleLoad {
  /** Participants with an open media session on the module. */
  readonly participants: number;
  /** Meetings with at least one participant on the module. */
  readonly meetings: number;
  /** Process CPU use, percent of one core (may exceed 100 on several cores). */
  readonly cpuPercent: number;
  /** Media sent by the module, kilobits per second. */
  readonly egressKbps: number;
}

export const ZERO_LOAD: ModuleLoad = Object.freeze({ participants: 0, meetings: 0, cpuPercent: 0, egressKbps: 0 });

/** A live module as the cluster state knows it. */
export interface ModuleState extends ModuleRegistration {
  readonly load: ModuleLoad;
  /**
   * Units held by reservations (pending or confirmed); never above
   * `capacityUnits`, unless a re-registration lowered the capacity (then no
   * reservation is accepted until releases bring it under).
   */
  readonly reservedUnits: number;
  /** A draining module keeps its participants but takes no new reservations. */
  readonly draining: boolean;
  /** When the module registered or last re-registered, ms since the epoch (store clock). */
  readonly registeredAt: number;
  /** When the module is considered gone unless it heartbeats again, ms since the epoch (store clock). */
  readonly expiresAt: number;
}

export interface ReserveRequest {
  readonly moduleId: ModuleId;
  /**
   * Chosen by the caller (e.g. the join ticket id); reserving the same id twice
   * holds it once, with the units (and meeting) of the first call, and answers
   * `ok` even if the module has since become full or draining, or the meeting
   * has since landed elsewhere.
   */
  readonly reservationId: ReservationId;
  /** Units to hold: 1 for SD, 2 for HD (see `unitsFor`). Positive integer. */
  readonly units: number;
  /**
   * A pending reservation is freed by the first `sweepExpired` after this many
   * ms unless confirmed (the ticket expired unused); until that sweep it is
   * still held and can be confirmed. Omit to hold it until released.
   * Positive integer.
   */
  readonly pendingTtlMs?: number;
  /**
   * The meeting the units are for. Makes the reserve meeting-affine, in the
   * same atomic step as the capacity check:
   * - if the module does not carry the meeting yet and another module that
   *   does (same zone and role as `moduleId`, live, not draining, with room
   *   for `units`) could take it, the reserve is refused with `elsewhere`,
   *   naming that module, so concurrent first joins of a meeting on several
   *   ZCPs all end up on one module;
   * - on success the reservation is recorded against the meeting and the
   *   module joins the meeting's modules (as `addMeetingModule` does); it
   *   leaves them again when its last reservation for the meeting is freed
   *   (`releaseReservation`, a pending one swept after its TTL).
   * Omit for a plain capacity reserve that knows no meeting.
   */
  readonly meetingId?: MeetingId;
  /**
   * The participant is already on the module (a module re-announcing what it
   * holds, after the state lost it): the reserve is not meeting-affine and
   * not refused for draining — placement has nothing to choose — but still
   * never passes the capacity, and is recorded against `meetingId`.
   */
  readonly held?: boolean;
}

export type ReserveResult =
  | { readonly ok: true; readonly reservedUnits: number; readonly capacityUnits: number }
  | {
      readonly ok: false;
      /**
       * `full`: not enough free units; `draining`: the module takes no new
       * participants; `gone`: no such live module (units are then both 0).
       */
      readonly reason: 'full' | 'draining' | 'gone';
      readonly reservedUnits: number;
      readonly capacityUnits: number;
    }
  | {
      readonly ok: false;
      /**
       * Only with `meetingId`: the module asked for does not carry the meeting
       * yet, and `moduleId` does and has room for the units: reserve there
       * instead. Of several such modules, the one with the most free units
       * (ties: the lowest id).
       */
      readonly reason: 'elsewhere';
      /** The module of the meeting to reserve on instead. */
      readonly moduleId: ModuleId;
      /** Units of the module asked for (unchanged), not of `moduleId`. */
      readonly reservedUnits: number;
      readonly capacityUnits: number;
    };

export interface TopClaim {
  /** True when the caller holds the top claim after the call (it won, or already held it). */
  readonly won: boolean;
  /** The module that holds the claim. */
  readonly holder: ModuleId;
  /**
   * Fencing token of the holder's claim: it grows by one each time the claim
   * passes to a new holder and is never reused for a meeting (kept 7 days
   * after the last claim). A module that sees an epoch other than the one it
   * won has lost the claim in between, even if it holds it again now: its
   * meeting collapsed meanwhile (DESIGN.md, "Failure").
   */
  readonly epoch: number;
}

/**
 * Changes other processes must react to. Each is delivered at most once to
 * each subscriber: with Redis, events published while a subscriber's
 * connection is down are lost, so after a reconnect a subscriber re-reads
 * the state it depends on (e.g. `getTop`) instead of waiting for an event.
 */
export type ClusterEvent =
  | {
      readonly type: 'module-gone';
      readonly moduleId: ModuleId;
      readonly zoneId: ZoneId;
      /** `expired`: heartbeats stopped; `deregistered`: the module left cleanly; `restarted`: it registered as a new run of its process. */
      readonly reason: 'expired' | 'deregistered' | 'restarted';
    }
  | {
      readonly type: 'top-released';
      readonly meetingId: MeetingId;
      readonly moduleId: ModuleId;
      /**
       * `released`: its holder let go; `module-gone`: its holder died or left
       * (swept or deregistered); `holder-silent`: a module of the meeting lost
       * its link to the holder, which had stopped heartbeating
       * (`releaseSilentTop`), before the sweep.
       */
      readonly reason: 'released' | 'module-gone' | 'holder-silent';
    };

export type ClusterEventListener = (event: ClusterEvent) => void;

export interface ClusterState {
  // ── Module registry and liveness ────────────────────────────────────────

  /**
   * Records (or refreshes) a module and makes it live for `ttlMs`. Re-registering
   * a live module keeps its reservations, meetings and top claims (a reconnect
   * after a ZCP or Redis restart re-announces, it does not reset) and its
   * draining flag; so does re-registering one that expired but was not swept
   * yet. A new module starts with zero load, not draining. TTLs are positive
   * integers of ms, at most 2^31 - 1.
   */
  registerModule(registration: ModuleRegistration, ttlMs: number): Promise<void>;

  /**
   * Makes a module live for `ttlMs` from now and stores its load. Returns false
   * when the module is not registered (it expired and was swept): the module
   * must register again.
   */
  heartbeat(moduleId: ModuleId, load: ModuleLoad, ttlMs: number): Promise<boolean>;

  /** Sets whether a module takes new reservations. Returns false when the module is not registered. */
  setDraining(moduleId: ModuleId, draining: boolean): Promise<boolean>;

  /** The module if it is registered and not past its expiry. */
  getModule(moduleId: ModuleId): Promise<ModuleState | undefined>;

  /** Live modules of a zone (expired ones are left out even before a sweep), ordered by id. */
  listModules(zoneId: ZoneId): Promise<ModuleState[]>;

  /**
   * Removes a module that leaves cleanly: frees its reservations, drops it from
   * its meetings, releases its top claims (events `top-released` with reason
   * `module-gone`) and emits `module-gone` with reason `deregistered`.
   * Returns false when it was not registered.
   */
  deregisterModule(moduleId: ModuleId): Promise<boolean>;

  /**
   * Removes every module past its expiry exactly as `deregisterModule` does
   * (reason `expired`), and frees pending reservations past their TTL. Safe to
   * call from every ZCP at once: each module is reported gone by one call only.
   * Returns the modules this call removed.
   */
  sweepExpired(): Promise<ModuleId[]>;

  // ── Capacity reservations ───────────────────────────────────────────────

  /**
   * Holds `units` on a module, atomically: the module's reserved units never
   * exceed its capacity, whatever the number of concurrent callers and
   * processes. Idempotent per reservation id. Refused (not thrown) when the
   * module is full, draining or gone, so placement can try the next module,
   * and, with a `meetingId`, when another module of the meeting has room
   * (`elsewhere`, naming it): while one module of the meeting (in the zone)
   * has room, no second module gets the meeting.
   *
   * Checks in this order: gone; already held (`ok`, nothing changes);
   * elsewhere (only with `meetingId`, only when the module does not carry
   * the meeting yet); draining; full.
   */
  reserve(request: ReserveRequest): Promise<ReserveResult>;

  /** Makes a pending reservation permanent (the participant arrived). False when it is not held. */
  confirmReservation(moduleId: ModuleId, reservationId: ReservationId): Promise<boolean>;

  /**
   * Frees a reservation (the participant left). False when it was not held.
   * Freeing the module's last reservation for a meeting (made with
   * `meetingId`) also removes the module from the meeting's modules; so does
   * `sweepExpired` freeing it after its pending TTL.
   */
  releaseReservation(moduleId: ModuleId, reservationId: ReservationId): Promise<boolean>;

  // ── Meeting → modules ───────────────────────────────────────────────────
  //
  // A module joins a meeting's modules in two ways: explicitly
  // (`addMeetingModule`, e.g. for a cascade) or through a `reserve` with
  // `meetingId`. A module carried through reservations leaves the meeting
  // when its last reservation for the meeting is freed (released, or a pending
  // one swept), even if `addMeetingModule` recorded it too; one recorded only
  // explicitly stays until `removeMeetingModule` or its removal.

  /** Records that a module carries a meeting. Returns false when the module is not live. */
  addMeetingModule(meetingId: MeetingId, moduleId: ModuleId): Promise<boolean>;

  /**
   * Records that a module no longer carries a meeting, at once, even while it
   * holds reservations for the meeting (they stay held; the next `reserve`
   * with the meeting on it adds it again).
   */
  removeMeetingModule(meetingId: MeetingId, moduleId: ModuleId): Promise<void>;

  /** The live modules carrying a meeting, ordered by id. */
  meetingModules(meetingId: MeetingId): Promise<ModuleId[]>;

  /**
   * The live modules carrying a meeting with how many of their reservations
   * are for it (its participants there, arrived or expected; 0 for one
   * carried only explicitly), ordered by id. Not one atomic snapshot across
   * modules: it picks the new top of an internal-only meeting.
   */
  meetingLoad(meetingId: MeetingId): Promise<{ moduleId: ModuleId; participants: number }[]>;

  // ── Top MMR of a meeting ────────────────────────────────────────────────

  /**
   * Claims top MMR for a meeting (compare-and-set): exactly one of any number
   * of concurrent claimants wins; a holder claiming again still holds it.
   * The claim lasts until its holder releases it or the holder is removed
   * (deregistered or expired). Throws `MeetedgeError('NOT_FOUND')` when
   * `moduleId` is not a live module, so a dead module can never become top.
   */
  claimTop(meetingId: MeetingId, moduleId: ModuleId): Promise<TopClaim>;

  /**
   * Releases the top claim if, and only if, `moduleId` holds it; emits
   * `top-released` with reason `released`. Returns whether it released.
   */
  releaseTop(meetingId: MeetingId, moduleId: ModuleId): Promise<boolean>;

  /**
   * Releases a meeting's top claim before the sweep when `holder` still holds
   * it and has not heartbeated for `silentMs` (store clock), or is not
   * registered at all: a module of the meeting whose link to the top failed
   * asks this rather than waiting out the holder's TTL (docs/failover.md).
   * A holder that still heartbeats keeps its claim, whatever the caller
   * thinks. Emits `top-released` with reason `holder-silent`. Returns whether
   * it released.
   */
  releaseSilentTop(meetingId: MeetingId, holder: ModuleId, silentMs: number): Promise<boolean>;

  /** The module holding top for a meeting, if any (a holder that expired keeps it until it is swept). */
  getTop(meetingId: MeetingId): Promise<ModuleId | undefined>;

  // ── Events and lifecycle ────────────────────────────────────────────────

  /**
   * Delivers every later event to `listener` (events of this process and of
   * every other process sharing the store). Resolves once the subscription is
   * active; the returned function unsubscribes. Listener errors are caught.
   */
  subscribe(listener: ClusterEventListener): Promise<() => Promise<void>>;

  /** Resolves when the store answers; rejects with UNAVAILABLE when it does not. */
  ping(): Promise<void>;

  /** Closes connections. Idempotent. Calls after close reject with UNAVAILABLE. */
  close(): Promise<void>;
}
