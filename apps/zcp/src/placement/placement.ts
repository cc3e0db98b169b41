/**
 * Placement policy for a join (DESIGN.md, "A cloud-hybrid join", step 3): a
 * pure function of the zone's modules, so it is tested without a store or a
 * clock. It only proposes; the cluster state's atomic `reserve` decides, so two
 * ZCPs that propose the same module at once can never over-fill it together
 * (the loser's reserve is refused and it tries its next candidate).
 *
 * Order:
 * 1. affinity: live, non-draining modules that already carry the meeting and
 *    have room for the units asked, least loaded first (the meeting stays on
 *    as few modules as it can, so it needs no cascade);
 * 2. then every other live, non-draining module with room, least loaded first;
 *    with a `random` source, the first of these is the less loaded of two
 *    modules drawn at random ("the power of two choices"), so a burst of new
 *    meetings that all read the same snapshot of the zone spreads over its
 *    modules instead of herding onto the one that looked emptiest.
 *
 * "Least loaded" is the share of capacity held (used / capacity), then the
 * most free units, then the id, so the order is total and deterministic
 * without `random`.
 */
import { MeetedgeError, type MeetingId, type ModuleId } from '@meetedge/core';

/** What placement needs to know about one module of the zone. */
export interface PlacementModule {
  readonly id: ModuleId;
  /** False once the module's heartbeats stopped (it is never proposed). */
  readonly live: boolean;
  /** A draining module keeps its participants but gets no new ones. */
  readonly draining: boolean;
  /** Units the module holds in all (400 for a standard module). */
  readonly capacityUnits: number;
  /** Units held by reservations, pending or confirmed. */
  readonly usedUnits: number;
  /** Meetings the module carries (only membership of the meeting placed matters). */
  readonly meetings: readonly MeetingId[];
}

export interface PlacementRequest {
  /** The zone's modules, in any order. */
  readonly modules: readonly PlacementModule[];
  readonly meetingId: MeetingId;
  /** Units the participant costs (SD = 1, HD = 2). Positive integer. */
  readonly units: number;
  /** Modules the client asks not to get (e.g. one it could not reach). */
  readonly excludeModuleIds?: readonly ModuleId[];
  /** Uniform in [0, 1) (e.g. Math.random): spreads new meetings (see above). Omit for a deterministic order. */
  readonly random?: () => number;
}

export interface PlacementCandidate {
  readonly moduleId: ModuleId;
  /** True when the module already carries the meeting. */
  readonly affinity: boolean;
}

/** Free units of a module; never negative (a lowered capacity can leave it over). */
export function freeUnits(module: PlacementModule): number {
  return Math.max(0, module.capacityUnits - module.usedUnits);
}

function loadShare(module: PlacementModule): number {
  return module.capacityUnits > 0 ? module.usedUnits / module.capacityUnits : Number.POSITIVE_INFINITY;
}

function leastLoadedFirst(a: PlacementModule, b: PlacementModule): number {
  return loadShare(a) - loadShare(b) || freeUnits(b) - freeUnits(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The modules to try, best first; empty when the zone has no live module with
 * room (the caller then falls back to the cloud MMR or refuses). Never
 * proposes a draining, dead or excluded module, or one without room.
 * @throws MeetedgeError INVALID_ARGUMENT when `units` is not a positive integer
 */
export function placementCandidates(request: PlacementRequest): PlacementCandidate[] {
  const { units, meetingId } = request;
  if (!Number.isSafeInteger(units) || units < 1) {
    throw new MeetedgeError('INVALID_ARGUMENT', `units must be a positive integer, got ${String(units)}`);
  }
  const excluded = new Set<string>(request.excludeModuleIds ?? []);
  const eligible = request.modules.filter((m) => m.live && !m.draining && !excluded.has(m.id) && freeUnits(m) >= units);
  const affinity = eligible.filter((m) => m.meetings.includes(meetingId)).sort(leastLoadedFirst);
  const others = eligible.filter((m) => !m.meetings.includes(meetingId)).sort(leastLoadedFirst);
  if (request.random && others.length > 1) {
    const first = Math.floor(request.random() * others.length) % others.length;
    const second = (first + 1 + (Math.floor(request.random() * (others.length - 1)) % (others.length - 1))) % others.length;
    // Of two drawn, the less loaded; a tie goes to the first drawn, so equal modules share a burst evenly.
    const [a, b] = [others[first], others[second]] as [PlacementModule, PlacementModule];
    const pick = loadShare(b) < loadShare(a) ? second : first;
    others.unshift(...others.splice(pick, 1));
  }
  return [
    ...affinity.map((m) => ({ moduleId: m.id, affinity: true })),
    ...others.map((m) => ({ moduleId: m.id, affinity: false })),
  ];
}
