/**
 * Capacity accounting: a module holds 400 units; an SD participant costs 1,
 * an HD (720p) participant 2, so a module holds 400 SD or 200 HD (DESIGN.md,
 * "Numbers the seeds give").
 */
import { MeetedgeError } from './errors';

/** Units a module holds unless its configuration says otherwise. */
export const DEFAULT_MODULE_CAPACITY_UNITS = 400;

export type Quality = 'SD' | 'HD';
export const QUALITIES: readonly Quality[] = ['SD', 'HD'];

/** Units one participant of the given quality costs. */
export const UNITS_PER_PARTICIPANT: Readonly<Record<Quality, number>> = { SD: 1, HD: 2 };

export function unitsFor(quality: Quality): number {
  return UNITS_PER_PARTICIPANT[quality];
}

export function parseQuality(value: unknown): Quality {
  if (value === 'SD' || value === 'HD') return value;
  throw new MeetedgeError('INVALID_ARGUMENT', `quality must be "SD" or "HD", got ${JSON.stringify(value)}`);
}
