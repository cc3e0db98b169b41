/**
 * The top MMR of internal-only meetings (DESIGN.md, "An internal-only join"):
 * the first module that gets a meeting claims top in the cluster state
 * (compare-and-set, exactly one wins); every other module that gets it opens
 * one east-west link to the top, found by the cascade address the top
 * registered. Nothing of the meeting reaches the cloud. The top lets go when
 * the meeting ends on it.
 */
import type { MeetingId, MeetingMode, ModuleId } from '@meetedge/core';
import type { Logger } from '@meetedge/service-kit';
import type { ClusterState } from '@meetedge/state';
import type { CascadeServer } from './cascade-server';

export interface TopCoordinatorOptions {
  readonly moduleId: ModuleId;
  readonly state: ClusterState;
  readonly cascade: CascadeServer;
  readonly logger: Logger;
}

export class TopCoordinator {
  /** Meetings whose top this module holds. */
  private readonly tops = new Set<MeetingId>();
  private readonly logger: Logger;

  constructor(private readonly options: TopCoordinatorOptions) {
    this.logger = options.logger.child({ component: 'top' });
  }

  /** Whether this module holds top for a meeting (as far as it knows). */
  isTop(meetingId: MeetingId): boolean {
    return this.tops.has(meetingId);
  }

  /**
   * A meeting started on this module: claims top for an internal-only one,
   * or links to the module that holds it. Failures are logged (a standalone
   * module, unknown to the cluster state, claims nothing).
   */
  async meetingStarted(meetingId: MeetingId, mode: MeetingMode): Promise<void> {
    if (mode !== 'internal-only') return;
    const { state, cascade, moduleId } = this.options;
    try {
      const claim = await state.claimTop(meetingId, moduleId);
      if (claim.won) {
        this.tops.add(meetingId);
        this.logger.info({ meetingId, epoch: claim.epoch }, 'top of the meeting');
        return;
      }
      const top = await state.getModule(claim.holder);
      if (!top?.cascadeAddress) {
        this.logger.warn({ meetingId, top: claim.holder }, 'the top of the meeting takes no links (no cascade address): no east-west link');
        return;
      }
      await cascade.ensureLink(meetingId, { serverId: top.id, address: top.cascadeAddress });
      this.logger.info({ meetingId, top: top.id }, 'linked east-west to the top');
    } catch (err) {
      this.logger.warn({ err, meetingId }, 'no top claim or east-west link for the meeting');
    }
  }

  /** The meeting ended on this module: a top lets go of it. */
  async meetingEnded(meetingId: MeetingId): Promise<void> {
    if (!this.tops.delete(meetingId)) return;
    try {
      await this.options.state.releaseTop(meetingId, this.options.moduleId);
    } catch (err) {
      this.logger.warn({ err, meetingId }, 'top not released (the sweep frees it with the module)');
    }
  }
}
