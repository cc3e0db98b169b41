/**
 * Branded identifiers. A MeetingId is not a ModuleId, and the compiler knows:
 * every id enters the system through its parse function (at a door: HTTP,
 * WebSocket, gRPC, config) and is a plain string at run time.
 */
import { MeetedgeError } from './errors';

declare const brand: unique symbol;
/** A string that has been checked to be an id of kind `K`. */
export type Id<K extends string> = string & { readonly [brand]: K };

export type MeetingId = Id<'MeetingId'>;
export type ModuleId = Id<'ModuleId'>;
export type ZoneId = Id<'ZoneId'>;
export type NodeId = Id<'NodeId'>;
export type ParticipantId = Id<'ParticipantId'>;
export type AccountId = Id<'AccountId'>;
export type UserId = Id<'UserId'>;
export type ReservationId = Id<'ReservationId'>;
export type ZcpId = Id<'ZcpId'>;

/**
 * Ids are 1–64 characters of letters, digits, '-', '_' and '.', starting with
 * a letter or digit. That keeps them safe in Redis key names, URLs, log lines
 * and metric labels without escaping.
 */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function idParser<K extends string>(kind: K): (value: unknown) => Id<K> {
  return (value: unknown): Id<K> => {
    if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
      throw new MeetedgeError(
        'INVALID_ID',
        `${kind} must be 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit, got ${describe(value)}`,
      );
    }
    return value as Id<K>;
  };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return typeof value;
}

/** True when `value` could be any kind of id (same syntax for all kinds). */
export function isIdSyntax(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

export const MeetingId = idParser('MeetingId');
export const ModuleId = idParser('ModuleId');
export const ZoneId = idParser('ZoneId');
export const NodeId = idParser('NodeId');
export const ParticipantId = idParser('ParticipantId');
export const AccountId = idParser('AccountId');
export const UserId = idParser('UserId');
export const ReservationId = idParser('ReservationId');
export const ZcpId = idParser('ZcpId');
