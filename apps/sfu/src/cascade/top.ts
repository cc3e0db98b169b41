/**
 * The top MMR of internal-only meetings (DESIGN.md, "An internal-only join";
 * docs/failover.md): the first module that gets a meeting (a participant's
 * media or meeting signaling) claims top in the cluster state
 * (compare-and-set, exactly one wins); every other module that gets it opens
 * one east-west link to the top, found by the cascade address the top
 * registered, and relays its participants' signaling there. Nothing of the
 * meeting reaches the cloud.
 *
 * A module keeps what it learnt about a meeting's top while it holds the
 * meeting (its media, or a signaling session of one of its participants);
 * the top lets go of its claim when it holds the meeting no more.
 *
 * When the top dies, its claim is freed (event `top-released`): by the first
 * module of the meeting whose link to it failed, once the top has also been
 * silent (no heartbeat) for 1.2 s (`releaseSilentTop`, reason
 * `holder-silent`), or at the latest when the ZCPs sweep it after 3 s
 * (reason `module-gone`). Each module that holds the meeting then follows the meeting's `onTopLoss`: **recover** (the
 * default) — the surviving module with the most participants of the meeting
 * claims top (`electTop`; the others give it a moment, and the claim is a
 * compare-and-set, so exactly one wins), the others link to it; or
 * **collapse** — the meeting ends on every module, its participants told why.
 * A link to the top that fails while the top lives is opened again.
 */
import { electTop } from '@meetedge/cascade';
import { MeetedgeError, ModuleId, type MeetingId, type MeetingMode } from '@meetedge/core';
import type { Logger } from '@meetedge/service-kit';
import type { ClusterEvent, ClusterState } from '@meetedge/state';
import type { CascadeServer, LinkTarget } from './cascade-server';

export interface TopCoordinatorOptions {
  readonly moduleId: ModuleId;
  readonly state: ClusterState;
  readonly cascade: CascadeServer;
  readonly logger: Logger;
  /** What a meeting does when its top dies (the ZCP's meeting info); default recover. */
  readonly onTopLoss?: (meetingId: MeetingId) => 'recover' | 'collapse';
  /** Ends a collapsed meeting on this module: its participants are told, its state removed. */
  readonly collapse?: (meetingId: MeetingId) => void;
  /** How long a module that is not the elected one waits for it to claim, ms. Default 1 500. */
  readonly electionWaitMs?: number;
  /** How long a top must be silent before a module whose link to it failed frees its claim, ms. Default 1 200. */
  readonly silentMs?: number;
  /** This module lost top of a meeting while alive (its claim was freed as silent): its room there must go. */
  readonly demoted?: (meetingId: MeetingId) => void;
}

/** Where a meeting's top is, as this module found it. */
export type TopOf = { readonly self: true } | { readonly self: false; readonly target: LinkTarget };

/**
 * How long the top must have been silent (no heartbeat, store clock) before a
 * module whose link to it failed frees its claim, ms: more than one heartbeat
 * interval (1 s), so one late heartbeat of a live top does not cost it the
 * meeting, and well under the 3 s after which the ZCPs sweep it.
 */
const DEFAULT_SILENT_MS = 1200;
/** How often a module whose link to the top failed checks the top's silence, ms. */
const SILENCE_POLL_MS = 100;

/** How long a collapsed meeting is not claimed again on this module, ms: its participants are being told it ended. */
const COLLAPSED_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class TopCoordinator {
  /** Meetings whose top this module holds. */
  private readonly tops = new Set<MeetingId>();
  /** The answer of this module's claim, per meeting, while the module holds the meeting. */
  private readonly answers = new Map<MeetingId, Promise<TopOf>>();
  /** What holds each meeting here: its media, and each signaling session. */
  private readonly holds = new Map<MeetingId, number>();
  /** The hold of each meeting's media (internal-only meetings). */
  private readonly mediaHolds = new Map<MeetingId, () => void>();
  /** Meetings whose top died, being taken over or relinked now. */
  private readonly recovering = new Set<MeetingId>();
  /** Meetings that collapsed here, until when (ms): nobody claims them again meanwhile (their participants are being told). */
  private readonly collapsed = new Map<MeetingId, number>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private closed = false;
  private readonly logger: Logger;

  constructor(private readonly options: TopCoordinatorOptions) {
    this.logger = options.logger.child({ component: 'top' });
  }

  /** Follows the cluster state's events: a top that died is taken over. */
  async start(): Promise<void> {
    try {
      this.unsubscribe = await this.options.state.subscribe((event) => this.onEvent(event));
    } catch (err) {
      this.logger.warn({ err }, 'no cluster events: a dead top is noticed by its failed link only');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.unsubscribe?.().catch(() => undefined);
  }

  /**
   * Claims again every top this module holds, after it registered (again):
   * when the cluster state lost everything (a Redis restart) the claims are
   * gone, and another module must not take a meeting that lives here. A
   * claim someone else took meanwhile is lost as when a live top's claim is
   * freed: the room goes and the module finds the top again.
   */
  async reassert(): Promise<void> {
    for (const meetingId of [...this.tops]) {
      try {
        const claim = await this.options.state.claimTop(meetingId, this.options.moduleId);
        if (claim.won || !this.tops.delete(meetingId)) continue;
        this.logger.warn({ meetingId, holder: claim.holder }, 'another module took top of the meeting meanwhile');
        this.options.demoted?.(meetingId);
        void this.recover(meetingId, this.options.moduleId);
      } catch (err) {
        this.logger.warn({ err, meetingId }, 'top not claimed again yet');
      }
    }
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
    if ((this.collapsed.get(meetingId) ?? 0) > Date.now()) {
      throw new MeetedgeError('CONFLICT', 'the meeting ended because the module holding it failed; it has to be started again');
    }
    if (this.recovering.has(meetingId) && (this.options.onTopLoss?.(meetingId) ?? 'recover') === 'collapse') {
      // Its top died: the meeting is not claimed again here while it is found out whether it collapses.
      const holder = await state.getTop(meetingId);
      const top = holder === undefined ? undefined : await state.getModule(holder);
      if (!top?.cascadeAddress) throw new MeetedgeError('UNAVAILABLE', `the module holding meeting ${meetingId} failed`);
      return { self: false, target: { serverId: top.id, address: top.cascadeAddress } };
    }
    if (this.recovering.has(meetingId) && (await state.getTop(meetingId)) === undefined) {
      // The top died: the survivor with the most participants claims first.
      const elected = electTop(await state.meetingLoad(meetingId));
      if (elected !== undefined && elected !== moduleId) await this.holderWithin(meetingId, this.options.electionWaitMs ?? 1500);
    }
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

  /** Waits until someone holds top of the meeting, up to `ms`. */
  private async holderWithin(meetingId: MeetingId, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && !this.closed) {
      if ((await this.options.state.getTop(meetingId)) !== undefined) return;
      await sleep(50);
    }
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
      await this.linkToTop(meetingId);
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

  /** Links the meeting's media to its top (nothing when this module is the top); a link that fails later is opened again. */
  private async linkToTop(meetingId: MeetingId): Promise<void> {
    const top = await this.topOf(meetingId);
    if (top.self) return;
    await this.options.cascade.ensureLink(meetingId, top.target, (reason) => this.linkClosed(meetingId, top.target, reason));
    this.logger.info({ meetingId, top: top.target.serverId }, 'linked east-west to the top');
  }

  /** Links the meeting's media to the module holding top now, without claiming it. */
  private async linkToHolder(meetingId: MeetingId, holder: ModuleId): Promise<void> {
    const top = await this.options.state.getModule(holder);
    if (!top?.cascadeAddress) throw new MeetedgeError('UNAVAILABLE', `the module holding meeting ${meetingId} (${holder}) is not live`);
    const target = { serverId: top.id, address: top.cascadeAddress };
    this.answers.set(meetingId, Promise.resolve({ self: false, target }));
    if (this.mediaHolds.has(meetingId)) await this.options.cascade.ensureLink(meetingId, target, (reason) => this.linkClosed(meetingId, target, reason));
  }

  /** The east-west link to the top closed: while the meeting's media is here, it links again (to a new top if need be). */
  private linkClosed(meetingId: MeetingId, target: LinkTarget, reason: string): void {
    if (this.closed || this.options.cascade.isClosed || !this.mediaHolds.has(meetingId)) return;
    this.logger.warn({ meetingId, top: target.serverId, reason }, 'east-west link to the top lost');
    void this.recover(meetingId, target.serverId);
  }

  private onEvent(event: ClusterEvent): void {
    if (event.type !== 'top-released' || event.reason === 'released' || !this.holds.has(event.meetingId)) return;
    if (event.moduleId !== this.options.moduleId) {
      this.logger.warn({ meetingId: event.meetingId, top: event.moduleId, reason: event.reason }, 'the top of the meeting is gone');
      void this.recover(event.meetingId, event.moduleId);
      return;
    }
    // This module's own claim was freed while it lives (its heartbeats stalled and another module lost its
    // link to it): it is top no more; its room goes (its participants' signaling reconnects), it finds the top again.
    if (!this.tops.delete(event.meetingId)) return;
    this.logger.warn({ meetingId: event.meetingId, reason: event.reason }, 'lost top of the meeting while alive');
    this.options.demoted?.(event.meetingId);
    void this.recover(event.meetingId, event.moduleId);
  }

  /** Frees the lost top's claim if it has stopped heartbeating too (`silentMs`); whether it did. */
  private async releaseIfSilent(meetingId: MeetingId, holder: ModuleId): Promise<boolean> {
    const released = await this.options.state.releaseSilentTop(meetingId, holder, this.options.silentMs ?? DEFAULT_SILENT_MS).catch(() => false);
    if (released) this.logger.warn({ meetingId, top: holder }, 'the top of the meeting is silent and unreachable: its claim is freed');
    return released;
  }

  /**
   * The meeting's top (or the link to it) is lost. Collapse: the meeting ends
   * here. Recover: find the top again (claiming it when elected) and link,
   * trying for up to 15 s while the meeting's media is here.
   */
  private async recover(meetingId: MeetingId, lost: string): Promise<void> {
    if (this.recovering.has(meetingId)) return;
    this.recovering.add(meetingId);
    try {
      const until = Date.now() + 15_000;
      const collapses = (this.options.onTopLoss?.(meetingId) ?? 'recover') === 'collapse';
      for (let attempt = 0; Date.now() < until && !this.closed && this.holds.has(meetingId); attempt++) {
        this.answers.delete(meetingId);
        // Until the ZCPs sweep a dead top, it still holds the claim (and the link to it fails at once):
        // its claim is freed as soon as it has also stopped heartbeating, without waiting for the sweep.
        let holder = await this.options.state.getTop(meetingId).catch(() => ModuleId(lost));
        if (holder !== undefined && holder === lost && holder !== this.options.moduleId && (await this.releaseIfSilent(meetingId, holder))) holder = undefined;
        try {
          if (!collapses) {
            if (this.mediaHolds.has(meetingId)) await this.linkToTop(meetingId);
            else await this.topOf(meetingId);
            return;
          }
          // A meeting set to collapse is never claimed again here: it ends once its top is gone, or links back to a top that lives.
          if (holder === undefined) {
            this.logger.warn({ meetingId, lost }, 'the top of the meeting died: the meeting collapses (onTopLoss: collapse)');
            this.collapsed.set(meetingId, Date.now() + COLLAPSED_MS);
            for (const [id, until] of this.collapsed) if (until <= Date.now()) this.collapsed.delete(id);
            this.options.collapse?.(meetingId);
            return;
          }
          await this.linkToHolder(meetingId, holder);
          return;
        } catch (err) {
          this.logger.debug({ err, meetingId }, 'top not reachable yet');
        }
        // While the lost top still holds the claim, its silence is checked often; otherwise back off.
        await sleep(holder === lost ? SILENCE_POLL_MS : Math.min(1000, 100 * 2 ** Math.min(attempt, 3)));
      }
    } finally {
      this.recovering.delete(meetingId);
    }
  }
}
