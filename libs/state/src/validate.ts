/**
 * Input checks shared by every `ClusterState` implementation, so both refuse
 * exactly the same inputs with the same codes (INVALID_ID for id syntax,
 * INVALID_ARGUMENT for everything else). Each returns a fresh, normalized
 * value: callers keep no reference into the store and extra fields are dropped.
 */
import { MeetedgeError, MeetingId, ModuleId, NodeId, ReservationId, ZoneId } from '@meetedge/core';
import type { ModuleLoad, ModuleRegistration, ModuleRole, ReserveRequest } from './cluster-state';

/**
 * Largest TTL accepted, ms (2^31 - 1, about 24.8 days, the `setTimeout`
 * limit). Liveness and pending TTLs are seconds to minutes; the bound keeps
 * every deadline (now + ttl) an exact integer in Lua's doubles.
 */
export const MAX_TTL_MS = 2_147_483_647;

const ROLES: readonly ModuleRole[] = ['edge', 'cloud'];
const MAX_TEXT_LENGTH = 2048;

export function checkPositiveInteger(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > max) {
    throw new MeetedgeError('INVALID_ARGUMENT', `${field} must be a positive integer up to ${max}, got ${show(value)}`, {
      field,
    });
  }
  return value;
}

export function checkTtl(value: unknown, field = 'ttlMs'): number {
  return checkPositiveInteger(value, field, MAX_TTL_MS);
}

/** How long a top's holder must have been silent before `releaseSilentTop` frees its claim: 1 ms up to the longest TTL. */
export function checkSilence(value: unknown): number {
  return checkPositiveInteger(value, 'silentMs', MAX_TTL_MS);
}

function checkText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT_LENGTH) {
    throw new MeetedgeError('INVALID_ARGUMENT', `${field} must be a non-empty string of at most ${MAX_TEXT_LENGTH} characters`, {
      field,
    });
  }
  return value;
}

function checkObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) {
    throw new MeetedgeError('INVALID_ARGUMENT', `${field} must be an object, got ${show(value)}`, { field });
  }
  return value as Record<string, unknown>;
}

/** A `host:port` address: a name or IPv4 address, or an IPv6 one in brackets, and a port 1-65535. */
const HOST_PORT = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):(?:[1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])$/;

export function checkRegistration(value: unknown): ModuleRegistration {
  const reg = checkObject(value, 'registration');
  const role = reg['role'];
  if (!ROLES.includes(role as ModuleRole)) {
    throw new MeetedgeError('INVALID_ARGUMENT', `role must be "edge" or "cloud", got ${show(role)}`, { field: 'role' });
  }
  const mediaUrl = checkText(reg['mediaUrl'], 'mediaUrl');
  if (!URL.canParse(mediaUrl)) {
    throw new MeetedgeError('INVALID_ARGUMENT', `mediaUrl must be an absolute URL, got ${show(mediaUrl)}`, {
      field: 'mediaUrl',
    });
  }
  const cascadeAddress = reg['cascadeAddress'];
  if (cascadeAddress !== undefined && (typeof cascadeAddress !== 'string' || !HOST_PORT.test(cascadeAddress))) {
    throw new MeetedgeError('INVALID_ARGUMENT', `cascadeAddress must be host:port, got ${show(cascadeAddress)}`, { field: 'cascadeAddress' });
  }
  const instanceId = reg['instanceId'];
  if (instanceId !== undefined && (typeof instanceId !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(instanceId))) {
    throw new MeetedgeError('INVALID_ARGUMENT', `instanceId must be 1-64 letters, digits or _.:-, got ${show(instanceId)}`, { field: 'instanceId' });
  }
  return {
    id: ModuleId(reg['id']),
    zoneId: ZoneId(reg['zoneId']),
    nodeId: NodeId(reg['nodeId']),
    role: role as ModuleRole,
    mediaUrl,
    capacityUnits: checkPositiveInteger(reg['capacityUnits'], 'capacityUnits'),
    version: checkText(reg['version'], 'version'),
    ...(cascadeAddress === undefined ? {} : { cascadeAddress }),
    ...(instanceId === undefined ? {} : { instanceId }),
  };
}

export function checkLoad(value: unknown): ModuleLoad {
  const load = checkObject(value, 'load');
  const field = (name: keyof ModuleLoad): number => {
    const n = load[name];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
      throw new MeetedgeError('INVALID_ARGUMENT', `load.${name} must be a finite number >= 0, got ${show(n)}`, {
        field: `load.${name}`,
      });
    }
    return n;
  };
  return {
    participants: field('participants'),
    meetings: field('meetings'),
    cpuPercent: field('cpuPercent'),
    egressKbps: field('egressKbps'),
  };
}

export function checkReserveRequest(value: unknown): ReserveRequest {
  const req = checkObject(value, 'request');
  const pendingTtlMs = req['pendingTtlMs'];
  const meetingId = req['meetingId'];
  const held = req['held'];
  return {
    moduleId: ModuleId(req['moduleId']),
    reservationId: ReservationId(req['reservationId']),
    units: checkPositiveInteger(req['units'], 'units'),
    ...(pendingTtlMs === undefined ? {} : { pendingTtlMs: checkTtl(pendingTtlMs, 'pendingTtlMs') }),
    ...(meetingId === undefined ? {} : { meetingId: MeetingId(meetingId) }),
    ...(held === undefined ? {} : { held: checkBoolean(held, 'held') }),
  };
}

export function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') {
    throw new MeetedgeError('INVALID_ARGUMENT', `${field} must be a boolean, got ${show(value)}`, { field });
  }
  return value;
}

export { MeetingId as checkMeetingId, ModuleId as checkModuleId, ReservationId as checkReservationId, ZoneId as checkZoneId };

function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return value === null ? 'null' : typeof value;
}

/** Orders ids the same way everywhere (code units, not locale), as Redis sorts members. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
