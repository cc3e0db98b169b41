/**
 * A cascade need in the ZCP's terms, and the two mappings at its gRPC doors:
 * a CascadeNeedEvent from the cloud zone controller (zone_controller.proto)
 * checked into a domain event, and a need turned into the SetCascade command
 * a module gets (module_registry.proto).
 */
import { MeetedgeError, MeetingId, ModuleId } from '@meetedge/core';
import { v1 } from '@meetedge/proto';
import type { ModuleCommand } from '../registry/module-registry';

/** Why a meeting needs its link; for logs and the dashboard, it never changes what a module does. */
export type CascadeReason = 'remote-participant' | 'other-module' | 'internal-top' | 'unspecified';

/** A meeting of this zone whose modules must hold a cascade link to the meeting's top. */
export interface CascadeNeed {
  readonly meetingId: MeetingId;
  /** Module id of the top (the cloud MMR of a cloud-hybrid meeting). */
  readonly targetServerId: ModuleId;
  /** "host:port" of the top's Cascade gRPC service. */
  readonly targetAddress: string;
  readonly reason: CascadeReason;
}

/** What the watcher tells its listeners. */
export type CascadeNeedChange = { readonly type: 'needed'; readonly need: CascadeNeed } | { readonly type: 'ended'; readonly meetingId: MeetingId };

/** One event of a WatchCascadeNeeds stream, checked. */
export type NeedEvent =
  | { readonly type: 'needed'; readonly need: CascadeNeed }
  | { readonly type: 'ended'; readonly meetingId: MeetingId }
  | { readonly type: 'synced'; readonly replayed: number };

const REASONS = new Map<v1.CascadeReason, CascadeReason>([
  [v1.CascadeReason.REMOTE_PARTICIPANT, 'remote-participant'],
  [v1.CascadeReason.OTHER_MODULE, 'other-module'],
  [v1.CascadeReason.INTERNAL_TOP, 'internal-top'],
]);
const WIRE_REASONS = new Map([...REASONS].map(([wire, reason]) => [reason, wire]));

/** Same shape as MEETEDGE_ZONE_CONTROLLER_ADDRESS: a host name or IPv4, or an IPv6 in brackets, then a port. */
const HOST_PORT = /^(?:[^\s:/[\]]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;

/** True for "host:port" with a port of 1-65535. */
export function isHostPort(value: string): boolean {
  const port = HOST_PORT.exec(value)?.[1];
  return port !== undefined && Number(port) >= 1 && Number(port) <= 65535;
}

function field<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new MeetedgeError('INVALID_ARGUMENT', `${name}: ${(err as Error).message}`);
  }
}

/**
 * Wire → domain; INVALID_ARGUMENT naming the field for a malformed event. An
 * unknown reason is kept as 'unspecified': the reason is informative, so a
 * newer controller's reason must not cost the meeting its link.
 */
export function needEventFromProto(event: v1.CascadeNeedEvent): NeedEvent {
  const kind = event.kind;
  switch (kind?.$case) {
    case 'needed': {
      const e = kind.value;
      const meetingId = field('needed.meeting_id', () => MeetingId(e.meetingId));
      const targetServerId = field('needed.target_server_id', () => ModuleId(e.targetServerId));
      if (!isHostPort(e.targetAddress)) {
        throw new MeetedgeError('INVALID_ARGUMENT', `needed.target_address must be host:port, got ${JSON.stringify(e.targetAddress.slice(0, 80))}`);
      }
      return { type: 'needed', need: { meetingId, targetServerId, targetAddress: e.targetAddress, reason: REASONS.get(e.reason) ?? 'unspecified' } };
    }
    case 'ended':
      return { type: 'ended', meetingId: field('ended.meeting_id', () => MeetingId(kind.value.meetingId)) };
    case 'synced':
      return { type: 'synced', replayed: kind.value.replayed };
    default:
      throw new MeetedgeError('INVALID_ARGUMENT', 'a cascade need event must be needed, ended or synced');
  }
}

/** True when two needs ask a module for the same thing (same target, same reason). */
export function sameNeed(a: CascadeNeed, b: CascadeNeed): boolean {
  return a.targetServerId === b.targetServerId && a.targetAddress === b.targetAddress && a.reason === b.reason;
}

/** The SetCascade that opens the need's link, or closes the meeting's link when there is no need. */
export function setCascadeCommand(meetingId: MeetingId, need: CascadeNeed | undefined): ModuleCommand {
  const value: v1.SetCascade = need
    ? {
        meetingId,
        enabled: true,
        targetServerId: need.targetServerId,
        targetAddress: need.targetAddress,
        reason: WIRE_REASONS.get(need.reason) ?? v1.CascadeReason.UNSPECIFIED,
      }
    : { meetingId, enabled: false, targetServerId: '', targetAddress: '', reason: v1.CascadeReason.UNSPECIFIED };
  return { $case: 'setCascade', value };
}
