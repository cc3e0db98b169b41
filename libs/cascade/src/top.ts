import type { ModuleId } from '@meetedge/core';

/** How many participants of a meeting one module carries. */
export interface ModuleLoad {
  readonly moduleId: ModuleId;
  readonly participants: number;
}

/**
 * The module that should take over an internal-only meeting whose top died
 * (docs/failover.md): the one with the most participants of it, so the
 * fewest streams have to move, the lowest id among equals, so every module
 * computes the same answer from the same load. Undefined when no module
 * carries the meeting. The claim itself stays a compare-and-set in the
 * cluster state: this only decides who tries first.
 */
export function electTop(load: readonly ModuleLoad[]): ModuleId | undefined {
  let best: ModuleLoad | undefined;
  for (const entry of load) {
    if (!best || entry.participants > best.participants || (entry.participants === best.participants && entry.moduleId < best.moduleId)) best = entry;
  }
  return best?.moduleId;
}
