/**
 * The module's own capacity ledger: units held by the participants connected
 * to this module (SD = 1, HD = 2), never above the module's capacity. The
 * ZCPs reserve capacity in the cluster state before sending a client here;
 * this ledger is the module's last word, so a client with a valid ticket
 * still cannot push the module past what it can carry.
 */
import { MeetedgeError, type ModuleId, type ParticipantId } from '@meetedge/core';

export class CapacityLedger {
  private readonly held = new Map<ParticipantId, number>();
  private used = 0;

  /**
   * @param moduleId named in refusals
   * @param capacityUnits what the module carries (400 for a standard module)
   */
  constructor(
    private readonly moduleId: ModuleId,
    readonly capacityUnits: number,
  ) {}

  /** Units held now. */
  get usedUnits(): number {
    return this.used;
  }

  /**
   * Holds `units` for a participant, or throws CAPACITY_EXCEEDED saying how
   * full the module is. Holding again for the same participant (a
   * reconnect) replaces what it held.
   */
  hold(participantId: ParticipantId, units: number): void {
    const previous = this.held.get(participantId) ?? 0;
    const after = this.used - previous + units;
    if (after > this.capacityUnits) {
      throw new MeetedgeError(
        'CAPACITY_EXCEEDED',
        `module ${this.moduleId} is full: ${this.used} of ${this.capacityUnits} units in use, ${units} more needed`,
        { moduleId: this.moduleId, usedUnits: this.used, capacityUnits: this.capacityUnits },
      );
    }
    this.held.set(participantId, units);
    this.used = after;
  }

  /** Frees what a participant held; false when it held nothing. */
  release(participantId: ParticipantId): boolean {
    const units = this.held.get(participantId);
    if (units === undefined) return false;
    this.held.delete(participantId);
    this.used -= units;
    return true;
  }
}
