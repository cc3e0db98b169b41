/**
 * The module's own capacity ledger: units held by the participants connected
 * to this module (SD = 1, HD = 2), never above the module's capacity. The
 * ZCPs reserve capacity in the cluster state before sending a client here;
 * this ledger is the module's last word, so a client with a valid ticket
 * still cannot push the module past what it can carry.
 */
import { MeetedgeError, type MeetingId, type ModuleId, type ParticipantId } from '@meetedge/core';

/** What a participant's units are held under: the same person may sit in two meetings, each holds its own. */
export function holderOf(meetingId: MeetingId, participantId: ParticipantId): string {
  return `${meetingId}/${participantId}`;
}

export class CapacityLedger {
  private readonly held = new Map<string, number>();
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
   * Holds `units` for a holder (a participant of a meeting: the same person
   * may sit in two meetings, each holds its own), or throws
   * CAPACITY_EXCEEDED saying how full the module is. Holding again for the
   * same holder (a reconnect) replaces what it held.
   */
  hold(holder: string, units: number): void {
    const previous = this.held.get(holder) ?? 0;
    const after = this.used - previous + units;
    if (after > this.capacityUnits) {
      throw new MeetedgeError(
        'CAPACITY_EXCEEDED',
        `module ${this.moduleId} is full: ${this.used} of ${this.capacityUnits} units in use, ${units} more needed`,
        { moduleId: this.moduleId, usedUnits: this.used, capacityUnits: this.capacityUnits },
      );
    }
    this.held.set(holder, units);
    this.used = after;
  }

  /** Frees what a holder held; false when it held nothing. */
  release(holder: string): boolean {
    const units = this.held.get(holder);
    if (units === undefined) return false;
    this.held.delete(holder);
    this.used -= units;
    return true;
  }
}
