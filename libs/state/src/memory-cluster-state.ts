/**
 * `ClusterState` in process memory, for the all-in-one mode (one Node process,
 * nothing else installed) and for unit tests. Every operation reads and writes
 * synchronously, with no await in between, so each is atomic by construction
 * on Node's single thread, just as each Redis operation is one Lua script.
 * Semantics match `RedisClusterState` exactly; the shared contract suite
 * (`@meetedge/state/testing`) holds both to it.
 */
import { MeetedgeError, type MeetingId, type ModuleId, type ReservationId, type ZoneId } from '@meetedge/core';
import {
  ZERO_LOAD,
  type ClusterEvent,
  type ClusterEventListener,
  type ClusterState,
  type ModuleLoad,
  type ModuleRegistration,
  type ModuleState,
  type ReserveRequest,
  type ReserveResult,
  type TopClaim,
} from './cluster-state';
import {
  checkBoolean,
  checkLoad,
  checkMeetingId,
  checkModuleId,
  checkRegistration,
  checkReservationId,
  checkReserveRequest,
  checkSilence,
  checkTtl,
  checkZoneId,
  compareIds,
} from './validate';
import type { StateLogger } from './logger';

export interface MemoryClusterStateOptions {
  /** The store clock, ms since the epoch. Default `Date.now`; tests pass a manual clock. */
  readonly now?: () => number;
  /** Where listener errors are reported. Default: nowhere. */
  readonly logger?: StateLogger;
}

interface Reservation {
  readonly units: number;
  /** Deadline of a pending reservation (store clock); undefined once confirmed or when it had no TTL. */
  deadline: number | undefined;
  /** The meeting it was reserved for (`ReserveRequest.meetingId`), if any. */
  readonly meetingId: MeetingId | undefined;
}

interface ModuleRecord {
  registration: ModuleRegistration;
  load: ModuleLoad;
  reservedUnits: number;
  draining: boolean;
  registeredAt: number;
  /** When it last registered or heartbeated (`releaseSilentTop`). */
  heartbeatAt: number;
  expiresAt: number;
  readonly reservations: Map<ReservationId, Reservation>;
  /** Meetings this module carries (reverse of `meetings`). */
  readonly meetings: Set<MeetingId>;
  /** How many of `reservations` are for each meeting; no entry at 0 (Redis: `meetingReservations`). */
  readonly meetingReservations: Map<MeetingId, number>;
  /** Meetings whose top this module holds (reverse of `tops`). */
  readonly tops: Set<MeetingId>;
}

export class MemoryClusterState implements ClusterState {
  private readonly now: () => number;
  private readonly logger: StateLogger | undefined;
  private readonly modules = new Map<ModuleId, ModuleRecord>();
  private readonly meetings = new Map<MeetingId, Set<ModuleId>>();
  private readonly tops = new Map<MeetingId, ModuleId>();
  /** Fencing epoch of each meeting's top claim (never reset: a process lives shorter than 7 days of Redis TTL). */
  private readonly topEpochs = new Map<MeetingId, number>();
  private readonly listeners = new Set<{ readonly listener: ClusterEventListener }>();
  private closed = false;

  constructor(options: MemoryClusterStateOptions = {}) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
  }

  // ── Module registry and liveness ────────────────────────────────────────

  async registerModule(registration: ModuleRegistration, ttlMs: number): Promise<void> {
    this.assertOpen();
    const reg = checkRegistration(registration);
    const ttl = checkTtl(ttlMs);
    const now = this.now();
    const previous = this.modules.get(reg.id);
    // A new run of the module's process: nothing of the previous run stays.
    const restarted = previous?.registration.instanceId !== undefined && reg.instanceId !== undefined && previous.registration.instanceId !== reg.instanceId;
    if (restarted) this.removeModule(reg.id, 'restarted');
    const existing = this.modules.get(reg.id);
    if (existing) {
      // A re-registration keeps load, reservations, draining, meetings and tops.
      existing.registration = reg;
      existing.registeredAt = now;
      existing.heartbeatAt = now;
      existing.expiresAt = now + ttl;
      return;
    }
    this.modules.set(reg.id, {
      registration: reg,
      load: ZERO_LOAD,
      reservedUnits: 0,
      draining: false,
      registeredAt: now,
      heartbeatAt: now,
      expiresAt: now + ttl,
      reservations: new Map(),
      meetings: new Set(),
      meetingReservations: new Map(),
      tops: new Set(),
    });
  }

  async heartbeat(moduleId: ModuleId, load: ModuleLoad, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    const id = checkModuleId(moduleId);
    const l = checkLoad(load);
    const ttl = checkTtl(ttlMs);
    const record = this.modules.get(id);
    if (!record) return false;
    record.load = Object.freeze(l);
    record.heartbeatAt = this.now();
    record.expiresAt = record.heartbeatAt + ttl;
    return true;
  }

  async setDraining(moduleId: ModuleId, draining: boolean): Promise<boolean> {
    this.assertOpen();
    const id = checkModuleId(moduleId);
    const value = checkBoolean(draining, 'draining');
    const record = this.modules.get(id);
    if (!record) return false;
    record.draining = value;
    return true;
  }

  async getModule(moduleId: ModuleId): Promise<ModuleState | undefined> {
    this.assertOpen();
    const record = this.liveRecord(checkModuleId(moduleId), this.now());
    return record && snapshot(record);
  }

  async listModules(zoneId: ZoneId): Promise<ModuleState[]> {
    this.assertOpen();
    const zone = checkZoneId(zoneId);
    const now = this.now();
    return [...this.modules.values()]
      .filter((record) => record.registration.zoneId === zone && record.expiresAt > now)
      .map(snapshot)
      .sort((a, b) => compareIds(a.id, b.id));
  }

  async deregisterModule(moduleId: ModuleId): Promise<boolean> {
    this.assertOpen();
    return this.removeModule(checkModuleId(moduleId), 'deregistered');
  }

  async sweepExpired(): Promise<ModuleId[]> {
    this.assertOpen();
    const now = this.now();
    // Same order as the Redis sweep (by expiry, then id), for identical answers.
    const due = [...this.modules.entries()]
      .filter(([, record]) => record.expiresAt <= now)
      .sort(([a, ra], [b, rb]) => ra.expiresAt - rb.expiresAt || compareIds(a, b))
      .map(([id]) => id);
    for (const id of due) this.removeModule(id, 'expired');
    for (const [id, record] of this.modules) {
      for (const [reservationId, reservation] of record.reservations) {
        if (reservation.deadline !== undefined && reservation.deadline <= now) {
          this.freeReservation(id, record, reservationId, reservation);
        }
      }
    }
    return due;
  }

  // ── Capacity reservations ───────────────────────────────────────────────

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    this.assertOpen();
    const req = checkReserveRequest(request);
    const now = this.now();
    const record = this.liveRecord(req.moduleId, now);
    if (!record) return { ok: false, reason: 'gone', reservedUnits: 0, capacityUnits: 0 };
    const capacityUnits = record.registration.capacityUnits;
    if (record.reservations.has(req.reservationId)) {
      return { ok: true, reservedUnits: record.reservedUnits, capacityUnits };
    }
    const meeting = req.meetingId;
    if (meeting !== undefined && req.held !== true) {
      const elsewhere = this.meetingModuleWithRoom(meeting, req.moduleId, record, req.units, now);
      if (elsewhere !== undefined) {
        return { ok: false, reason: 'elsewhere', moduleId: elsewhere, reservedUnits: record.reservedUnits, capacityUnits };
      }
    }
    if (record.draining && req.held !== true) return { ok: false, reason: 'draining', reservedUnits: record.reservedUnits, capacityUnits };
    if (record.reservedUnits + req.units > capacityUnits) {
      return { ok: false, reason: 'full', reservedUnits: record.reservedUnits, capacityUnits };
    }
    record.reservations.set(req.reservationId, {
      units: req.units,
      deadline: req.pendingTtlMs === undefined ? undefined : now + req.pendingTtlMs,
      meetingId: meeting,
    });
    record.reservedUnits += req.units;
    if (meeting !== undefined) {
      record.meetingReservations.set(meeting, (record.meetingReservations.get(meeting) ?? 0) + 1);
      this.addToMeeting(meeting, req.moduleId, record);
    }
    return { ok: true, reservedUnits: record.reservedUnits, capacityUnits };
  }

  async confirmReservation(moduleId: ModuleId, reservationId: ReservationId): Promise<boolean> {
    this.assertOpen();
    const id = checkModuleId(moduleId);
    const reservationKey = checkReservationId(reservationId);
    const reservation = this.modules.get(id)?.reservations.get(reservationKey);
    if (!reservation) return false;
    reservation.deadline = undefined;
    return true;
  }

  async releaseReservation(moduleId: ModuleId, reservationId: ReservationId): Promise<boolean> {
    this.assertOpen();
    const moduleKey = checkModuleId(moduleId);
    const id = checkReservationId(reservationId);
    const record = this.modules.get(moduleKey);
    const reservation = record?.reservations.get(id);
    if (!record || !reservation) return false;
    this.freeReservation(moduleKey, record, id, reservation);
    return true;
  }

  // ── Meeting → modules ───────────────────────────────────────────────────

  async addMeetingModule(meetingId: MeetingId, moduleId: ModuleId): Promise<boolean> {
    this.assertOpen();
    const meeting = checkMeetingId(meetingId);
    const id = checkModuleId(moduleId);
    const record = this.liveRecord(id, this.now());
    if (!record) return false;
    this.addToMeeting(meeting, id, record);
    return true;
  }

  async removeMeetingModule(meetingId: MeetingId, moduleId: ModuleId): Promise<void> {
    this.assertOpen();
    const meeting = checkMeetingId(meetingId);
    const id = checkModuleId(moduleId);
    this.dropMeetingModule(meeting, id);
    this.modules.get(id)?.meetings.delete(meeting);
  }

  async meetingModules(meetingId: MeetingId): Promise<ModuleId[]> {
    this.assertOpen();
    const now = this.now();
    const modules = this.meetings.get(checkMeetingId(meetingId)) ?? new Set<ModuleId>();
    return [...modules].filter((id) => this.liveRecord(id, now)).sort(compareIds);
  }

  async meetingLoad(meetingId: MeetingId): Promise<{ moduleId: ModuleId; participants: number }[]> {
    this.assertOpen();
    const meeting = checkMeetingId(meetingId);
    const now = this.now();
    return [...(this.meetings.get(meeting) ?? [])]
      .flatMap((id) => {
        const record = this.liveRecord(id, now);
        return record ? [{ moduleId: id, participants: record.meetingReservations.get(meeting) ?? 0 }] : [];
      })
      .sort((a, b) => compareIds(a.moduleId, b.moduleId));
  }

  // ── Top MMR of a meeting ────────────────────────────────────────────────

  async claimTop(meetingId: MeetingId, moduleId: ModuleId): Promise<TopClaim> {
    this.assertOpen();
    const meeting = checkMeetingId(meetingId);
    const id = checkModuleId(moduleId);
    const record = this.liveRecord(id, this.now());
    if (!record) {
      throw new MeetedgeError('NOT_FOUND', `module ${id} is not live; it cannot claim top of ${meeting}`, {
        moduleId: id,
        meetingId: meeting,
      });
    }
    const holder = this.tops.get(meeting);
    if (holder !== undefined) return { won: holder === id, holder, epoch: this.topEpochs.get(meeting) ?? 0 };
    this.tops.set(meeting, id);
    record.tops.add(meeting);
    const epoch = (this.topEpochs.get(meeting) ?? 0) + 1;
    this.topEpochs.set(meeting, epoch);
    return { won: true, holder: id, epoch };
  }

  async releaseTop(meetingId: MeetingId, moduleId: ModuleId): Promise<boolean> {
    this.assertOpen();
    const meeting = checkMeetingId(meetingId);
    const id = checkModuleId(moduleId);
    if (this.tops.get(meeting) !== id) return false;
    this.tops.delete(meeting);
    this.modules.get(id)?.tops.delete(meeting);
    this.emit({ type: 'top-released', meetingId: meeting, moduleId: id, reason: 'released' });
    return true;
  }

  async releaseSilentTop(meetingId: MeetingId, holder: ModuleId, silentMs: number): Promise<boolean> {
    this.assertOpen();
    const meeting = checkMeetingId(meetingId);
    const id = checkModuleId(holder);
    const silent = checkSilence(silentMs);
    if (this.tops.get(meeting) !== id) return false;
    const record = this.modules.get(id);
    if (record && this.now() - record.heartbeatAt < silent) return false;
    this.tops.delete(meeting);
    record?.tops.delete(meeting);
    this.emit({ type: 'top-released', meetingId: meeting, moduleId: id, reason: 'holder-silent' });
    return true;
  }

  async getTop(meetingId: MeetingId): Promise<ModuleId | undefined> {
    this.assertOpen();
    return this.tops.get(checkMeetingId(meetingId));
  }

  // ── Events and lifecycle ────────────────────────────────────────────────

  async subscribe(listener: ClusterEventListener): Promise<() => Promise<void>> {
    this.assertOpen();
    if (typeof listener !== 'function') throw new MeetedgeError('INVALID_ARGUMENT', 'listener must be a function');
    const entry = { listener };
    this.listeners.add(entry);
    return async () => {
      this.listeners.delete(entry);
    };
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }

  // ── Internals ───────────────────────────────────────────────────────────

  private assertOpen(): void {
    if (this.closed) throw new MeetedgeError('UNAVAILABLE', 'cluster state is closed');
  }

  private liveRecord(id: ModuleId, now: number): ModuleRecord | undefined {
    const record = this.modules.get(id);
    return record && record.expiresAt > now ? record : undefined;
  }

  /** Both directions of meeting ↔ module. */
  private addToMeeting(meeting: MeetingId, id: ModuleId, record: ModuleRecord): void {
    let modules = this.meetings.get(meeting);
    if (!modules) this.meetings.set(meeting, (modules = new Set()));
    modules.add(id);
    record.meetings.add(meeting);
  }

  /**
   * For a reserve with a meeting on a module that does not carry it yet:
   * another module of the meeting, in the same zone and role, live, not
   * draining and with room for `units` (most free units, then lowest id).
   */
  private meetingModuleWithRoom(
    meeting: MeetingId,
    id: ModuleId,
    record: ModuleRecord,
    units: number,
    now: number,
  ): ModuleId | undefined {
    const modules = this.meetings.get(meeting);
    if (!modules || modules.has(id)) return undefined;
    let best: ModuleId | undefined;
    let bestFree = -1;
    for (const other of modules) {
      const candidate = this.liveRecord(other, now);
      if (
        !candidate ||
        candidate.draining ||
        candidate.registration.zoneId !== record.registration.zoneId ||
        candidate.registration.role !== record.registration.role
      ) {
        continue;
      }
      const free = candidate.registration.capacityUnits - candidate.reservedUnits;
      if (free < units) continue;
      if (free > bestFree || (free === bestFree && best !== undefined && compareIds(other, best) < 0)) {
        best = other;
        bestFree = free;
      }
    }
    return best;
  }

  /**
   * Frees a held reservation, as the Redis `free_reservation`: its units and,
   * when it was the module's last reservation for its meeting, the module's
   * place in that meeting.
   */
  private freeReservation(id: ModuleId, record: ModuleRecord, reservationId: ReservationId, reservation: Reservation): void {
    record.reservations.delete(reservationId);
    record.reservedUnits -= reservation.units;
    const meeting = reservation.meetingId;
    if (meeting === undefined) return;
    const left = (record.meetingReservations.get(meeting) ?? 0) - 1;
    if (left > 0) {
      record.meetingReservations.set(meeting, left);
      return;
    }
    record.meetingReservations.delete(meeting);
    this.dropMeetingModule(meeting, id);
    record.meetings.delete(meeting);
  }

  private dropMeetingModule(meeting: MeetingId, id: ModuleId): void {
    const modules = this.meetings.get(meeting);
    if (!modules) return;
    modules.delete(id);
    if (modules.size === 0) this.meetings.delete(meeting);
  }

  /** Removes a module and everything hanging off it, emitting what changed, as the Redis script does. */
  private removeModule(id: ModuleId, reason: 'expired' | 'deregistered' | 'restarted'): boolean {
    const record = this.modules.get(id);
    if (!record) return false;
    this.modules.delete(id);
    for (const meeting of record.meetings) this.dropMeetingModule(meeting, id);
    for (const meeting of record.tops) {
      if (this.tops.get(meeting) !== id) continue;
      this.tops.delete(meeting);
      this.emit({ type: 'top-released', meetingId: meeting, moduleId: id, reason: 'module-gone' });
    }
    this.emit({ type: 'module-gone', moduleId: id, zoneId: record.registration.zoneId, reason });
    return true;
  }

  /**
   * Delivers after the current operation has finished (a microtask later), as
   * a pub/sub message arrives after the script that published it. Listeners
   * subscribed when the event happened get it; their errors are caught.
   */
  private emit(event: ClusterEvent): void {
    const frozen = Object.freeze(event);
    for (const entry of this.listeners) {
      queueMicrotask(() => {
        if (!this.listeners.has(entry)) return;
        try {
          entry.listener(frozen);
        } catch (err) {
          this.logger?.warn({ err, event: frozen }, 'cluster event listener threw');
        }
      });
    }
  }
}

function snapshot(record: ModuleRecord): ModuleState {
  return Object.freeze({
    ...record.registration,
    load: { ...record.load },
    reservedUnits: record.reservedUnits,
    draining: record.draining,
    registeredAt: record.registeredAt,
    expiresAt: record.expiresAt,
  });
}
