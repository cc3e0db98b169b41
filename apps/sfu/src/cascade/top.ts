/**
 * The top MMR of internal-only meetings (DESIGN.md, "An internal-only join"):
 * the first module that gets a meeting (a participant's media or meeting
 * signaling) claims top in the cluster state (compare-and-set, exactly one
 * wins); every other module that gets it opens one east-west link to the
 * top, found by the cascade address the top registered, and relays its
 * participants' signaling there. Nothing of the meeting reaches the cloud.
 *
 * A module keeps what it learnt about a meeting's top while it holds the
 * meeting (its media, or a signaling session of one of its participants);
 * the top lets go of its claim when it holds the meeting no more.
 */
import { MeetedgeError, type MeetingId, type MeetingMode, type ModuleId } from '@meetedge/core';
import type { Logger } from '@meetedge/service-kit';
import type { ClusterState } from '@meetedge/state';
import type { CascadeServer, LinkTarget } from './cascade-server';

export interface TopCoordinatorOptions {
  readonly moduleId: ModuleId;
  readonly state: ClusterState;
  readonly cascade: CascadeServer;
  readonly logger: Logger;
}

/** Where a meeting's top is, as this module found it. */
export type TopOf = { readonly self: true } | { readonly self: false; readonly target: LinkTarget };

export class TopCoordinator {
  /** Meetings whose top this module holds. */
  private readonly tops = new Set<MeetingId>();
  /** The answer of this module's claim, per meeting, while the module holds the meeting. */
  private readonly answers = new Map<MeetingId, Promise<TopOf>>();
  /** What holds each meeting here: its media, and each signaling session. */
  private readonly holds = new Map<MeetingId, number>();
  /** The hold of each meeting's media (internal-only meetings). */
  private readonly mediaHolds = new Map<MeetingId, () => void>();
  private readonly logger: Logger;

  constructor(private readonly options: TopCoordinatorOptions) {
    this.logger = options.logger.child({ component: 'top' });
  }

  /** Whether this module holds top for a meeting (as far as it knows). */
  isTop(meetingId: MeetingId): boolean {
    return this.tops.has(meetingId);
  }

  /**
   * Where the meeting's top is: this module (it claimed it now or before),
   * or another module with its cascade address. One claim per meeting while
   * the module holds it; a failed one is tried again at the next call.
   * @throws MeetedgeError UNAVAILABLE when the holder takes no links, or the
   *   cluster state's error
   */
  topOf(meetingId: MeetingId): Promise<TopOf> {
    let answer = this.answers.get(meetingId);
    if (!answer) {
      const claimed = this.claim(meetingId);
      answer = claimed;
      this.answers.set(meetingId, claimed);
      claimed.catch(() => {
        if (this.answers.get(meetingId) === claimed) this.answers.delete(meetingId);
      });
    }
    return answer;
  }

  private async claim(meetingId: MeetingId): Promise<TopOf> {
    const { state, moduleId } = this.options;
    const claim = await state.claimTop(meetingId, moduleId);
    if (claim.won) {
      this.tops.add(meetingId);
      this.logger.info({ meetingId, epoch: claim.epoch }, 'top of the meeting');
      return { self: true };
    }
    const top = await state.getModule(claim.holder);
    if (!top?.cascadeAddress) {
      throw new MeetedgeError('UNAVAILABLE', `the module holding meeting ${meetingId} (${claim.holder}) takes no links`);
    }
    return { self: false, target: { serverId: top.id, address: top.cascadeAddress } };
  }

  /**
   * Something of the meeting is here now (its media, a signaling session):
   * what the module learnt of its top stays until every hold is let go.
   * Returns the function that lets go (idempotent).
   */
  hold(meetingId: MeetingId): () => void {
    this.holds.set(meetingId, (this.holds.get(meetingId) ?? 0) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.holds.get(meetingId) ?? 1) - 1;
      if (left > 0) {
        this.holds.set(meetingId, left);
        return;
      }
      this.holds.delete(meetingId);
      this.answers.delete(meetingId);
      if (this.tops.delete(meetingId)) void this.release(meetingId);
    };
  }

  private async release(meetingId: MeetingId): Promise<void> {
    try {
      await this.options.state.releaseTop(meetingId, this.options.moduleId);
    } catch (err) {
      this.logger.warn({ err, meetingId }, 'top not released (the sweep frees it with the module)');
    }
  }

  /**
   * A meeting's media started on this module: claims top for an internal-only
   * one, or links east-west to the module that holds it. Failures are logged
   * (a standalone module, unknown to the cluster state, claims nothing).
   */
  async meetingStarted(meetingId: MeetingId, mode: MeetingMode): Promise<void> {
    if (mode !== 'internal-only') return;
    this.mediaHolds.get(meetingId)?.();
    this.mediaHolds.set(meetingId, this.hold(meetingId));
    try {
      const top = await this.topOf(meetingId);
      if (top.self) return;
      await this.options.cascade.ensureLink(meetingId, top.target);
      this.logger.info({ meetingId, top: top.target.serverId }, 'linked east-west to the top');
    } catch (err) {
      this.logger.warn({ err, meetingId }, 'no top claim or east-west link for the meeting');
    }
  }

  /** The meeting's media ended on this module. */
  meetingEnded(meetingId: MeetingId): void {
    const letGo = this.mediaHolds.get(meetingId);
    this.mediaHolds.delete(meetingId);
    letGo?.();
  }
}
