/**
 * Staying in a meeting when its module dies (issue [6], docs/failover.md),
 * once for Node and the browser. A `StayingMeeting` watches the media
 * session that `joinMeeting` opened: when it ends the way a failed module
 * ends it (the connection dropped without a closing handshake, the module
 * went away, or the media connection failed), it asks a ZCP for another
 * module, leaving out the ones that failed (the zone's other ZCPs when one
 * does not answer, then the other zones; for a cloud-hybrid meeting the
 * cloud MMR is the last resort, as the ZCPs answer when the zone has no live
 * module with room), opens media there, lets the caller publish and receive
 * again (`setUp`), and moves the meeting signaling: a cloud-hybrid meeting's
 * cloud meeting server is told where media is attached now; an internal-only
 * meeting's signaling, which lives on the module, is opened on the new one.
 *
 * An internal-only meeting's signaling that drops while media stays (its
 * module lost the meeting's top and tells its participants to connect
 * again) is opened again on the same module.
 *
 * It moves on what a client can see at once. A module killed on a live host
 * resets its TCP connections, so its sessions close in well under a second;
 * a host that vanishes from the network is noticed at the next missed ping
 * (the module's keepalive) or when the media connection fails.
 */
import { MeetedgeError } from '@meetedge/core';
import { Emitter } from './emitter';
import { MEDIA_AT_MODULE, MEDIA_IN_CLOUD, assignInZone, moduleSignalingUrl, type Assignment, type JoinedMeeting } from './join';

/** What of a media session failover needs: when it closed, and how to leave it. */
export interface StayableMedia {
  on(event: 'closed', listener: (closed: { code: number; reason: string }) => void): unknown;
  leave(): Promise<void>;
}

/** What of a signaling session failover needs. */
export interface StayableSignal {
  on(event: 'closed', listener: (closed: { code: number; reason: string }) => void): unknown;
  /** The meeting as the welcome described it: for an internal-only one, its top module and what it does when that dies. */
  readonly meeting?: { readonly top?: string; readonly onTopLoss?: 'recover' | 'collapse' } | undefined;
  attachMedia(where: { kind: 'module'; moduleId: string } | { kind: 'cloud' }): void;
  leave(): Promise<void>;
}

export interface StayOptions<Media, Signal> {
  /** Opens a media session (as `joinMeeting`'s option does). */
  openMedia(mediaUrl: string, ticket: string): Promise<Media>;
  /** Opens the meeting signaling (as `joinMeeting`'s option does). */
  openSignal(signalingUrl: string, token: string): Promise<Signal>;
  /** Publishes and receives on a new media session, as the caller did on the first. */
  setUp(media: Media): Promise<void>;
  fetch?: typeof fetch;
  /** Gives up moving after this long, ms. Default 30 000. */
  maxMoveMs?: number;
  now?: () => number;
}

/** One move to another media server. */
export interface MoveEvent {
  /** The module (or cloud MMR) that failed. */
  readonly from: string;
  readonly to: string;
  readonly attachedTo: 'module' | 'cloud';
  /** For the user: where media is attached now. */
  readonly status: string;
  /** Why the old media session ended. */
  readonly reason: string;
  /** From noticing the failure to media set up again, ms. */
  readonly tookMs: number;
}

export interface StayingEvents<Media> {
  /** Media moved to another server; `media` is the new session. */
  moved: [MoveEvent, Media];
  /** No server could take the participant within `maxMoveMs`: it is out of the meeting. */
  lost: [MeetedgeError];
  /** The meeting signaling was opened again after it dropped (internal-only). */
  resignaled: [];
  /**
   * The participant is out of the meeting and no move can bring it back: the
   * module ended its session (removed, the meeting ended or collapsed with
   * its top: `reason` says so), or its module was the top of an internal-only
   * meeting set to collapse.
   */
  ended: [{ code: number; reason: string }];
}

/** Why a participant of a collapsing meeting whose own module was the top is out. */
export const TOP_LOST = 'the meeting ended because the module holding it failed; it has to be started again';

/**
 * WebSocket close codes that mean the server failed or went away, not that
 * it ended this participant on purpose: 1001 going away (shutting down),
 * 1006 dropped without a closing handshake (the process died), 1011–1014
 * server errors, restarts and gateway failures.
 */
export function isServerFailure(code: number): boolean {
  return code === 1001 || code === 1006 || (code >= 1011 && code <= 1014);
}

export class StayingMeeting<Media extends StayableMedia, Signal extends StayableSignal> extends Emitter<StayingEvents<Media>> {
  media: Media;
  signal: Signal | undefined;
  assignment: Assignment;
  attachedTo: 'module' | 'cloud';
  /** Modules that failed this participant: never asked for again. */
  readonly failed = new Set<string>();
  private moving: Promise<void> | undefined;
  /** Runs once the move in flight is over (the signaling's retries, which wait for no move). */
  private afterMove: (() => void) | undefined;
  private leaving = false;
  private ended = false;
  private readonly now: () => number;

  constructor(
    private readonly joined: JoinedMeeting<Media, Signal>,
    private readonly options: StayOptions<Media, Signal>,
  ) {
    super();
    this.now = options.now ?? Date.now;
    this.media = joined.media;
    this.signal = joined.signal;
    this.assignment = joined.assignment;
    this.attachedTo = joined.attachedTo;
    this.watchMedia(joined.media);
    if (joined.signal) this.watchSignal(joined.signal);
  }

  get status(): string {
    return this.attachedTo === 'module' ? MEDIA_AT_MODULE : MEDIA_IN_CLOUD;
  }

  private watchMedia(media: Media): void {
    media.on('closed', ({ code, reason }) => {
      if (this.leaving || media !== this.media) return;
      if (!isServerFailure(code)) return void this.end({ code, reason });
      // The module that died held an internal-only meeting set to collapse with it: nothing to move to.
      const meeting = this.signal?.meeting;
      if (this.joined.meeting.mode === 'internal-only' && meeting?.onTopLoss === 'collapse' && meeting.top === this.assignment.moduleId) {
        return void this.end({ code, reason: TOP_LOST });
      }
      this.moving ??= this.move(reason).finally(() => {
        this.moving = undefined;
        const next = this.afterMove;
        this.afterMove = undefined;
        next?.();
      });
    });
  }

  /** Out of the meeting for good: the signaling is left too. */
  private async end(closed: { code: number; reason: string }): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.emit('ended', closed);
    await this.signal?.leave().catch(() => undefined);
  }

  private watchSignal(signal: Signal): void {
    signal.on('closed', ({ code }) => {
      if (this.leaving || signal !== this.signal || !isServerFailure(code) || this.joined.meeting.mode !== 'internal-only') return;
      // A move in flight opens the signaling on the new module itself.
      if (this.moving) return;
      void this.reopenSignal().catch(() => undefined);
    });
  }

  /**
   * Opens the internal-only meeting's signaling on the current module again
   * (the module finds the meeting's top anew: after a top died that takes a
   * few seconds), while media is up, for up to `maxMoveMs`; a refusal other
   * than UNAVAILABLE is final.
   */
  private async reopenSignal(): Promise<void> {
    const until = this.now() + (this.options.maxMoveMs ?? 30_000);
    for (let attempt = 0; this.now() < until && !this.leaving && !this.ended && !this.moving; attempt++) {
      try {
        await this.openModuleSignal(this.assignment);
        this.emit('resignaled');
        return;
      } catch (err) {
        if (err instanceof MeetedgeError && err.code !== 'UNAVAILABLE') return;
        await new Promise((resolve) => setTimeout(resolve, Math.min(500, 50 * 2 ** attempt)));
      }
    }
  }

  private async openModuleSignal(assignment: Assignment): Promise<Signal> {
    const signal = await this.options.openSignal(moduleSignalingUrl(assignment.mediaUrl, this.joined.meeting.meetingId), assignment.ticket);
    if (this.leaving || this.ended) {
      await signal.leave();
      throw new MeetedgeError('UNAVAILABLE', 'left');
    }
    signal.attachMedia({ kind: 'module', moduleId: assignment.moduleId });
    this.signal = signal;
    this.watchSignal(signal);
    return signal;
  }

  /** Finds another media server and sets media up there; `lost` when none takes the participant in time. */
  private async move(reason: string): Promise<void> {
    const startedAt = this.now();
    const from = this.assignment.moduleId;
    this.failed.add(from);
    const { meeting, accessToken, quality } = this.joined;
    const maxMs = this.options.maxMoveMs ?? 30_000;
    let lastError: unknown = new MeetedgeError('UNAVAILABLE', 'no server could take this participant');
    for (let attempt = 0; this.now() - startedAt < maxMs && !this.leaving; attempt++) {
      let assignment: Assignment | undefined;
      for (const zone of this.joined.zones) {
        try {
          assignment = await assignInZone(
            zone.zcpUrls,
            accessToken,
            { meetingId: meeting.meetingId, quality, excludeModuleIds: [...this.failed].slice(-32) },
            this.options.fetch,
          );
          break;
        } catch (err) {
          lastError = err;
        }
      }
      if (assignment) {
        let media: Media | undefined;
        try {
          media = await this.options.openMedia(assignment.mediaUrl, assignment.ticket);
          if (this.leaving) {
            await media.leave();
            return;
          }
          await this.options.setUp(media);
        } catch (err) {
          lastError = err;
          // The server it was sent to failed it too: not that one again, and nothing of this try stays open there.
          this.failed.add(assignment.moduleId);
          await media?.leave().catch(() => undefined);
          media = undefined;
        }
        if (media) {
          this.media = media;
          this.assignment = assignment;
          this.attachedTo = assignment.cloud ? 'cloud' : 'module';
          this.watchMedia(media);
          this.emit('moved', { from, to: assignment.moduleId, attachedTo: this.attachedTo, status: this.status, reason, tookMs: this.now() - startedAt }, media);
          // Media is up: signaling that cannot follow yet (the meeting's top is being found again) keeps trying by itself.
          await this.moveSignal(assignment).catch(() => {
            this.afterMove = () => void this.reopenSignal().catch(() => undefined);
          });
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * 2 ** Math.min(attempt, 4))));
    }
    if (!this.leaving) this.emit('lost', lastError instanceof MeetedgeError ? lastError : new MeetedgeError('UNAVAILABLE', String(lastError)));
  }

  /** Cloud-hybrid: the cloud meeting server learns where media is now. Internal-only: the signaling moves to the new module. */
  private async moveSignal(assignment: Assignment): Promise<void> {
    if (this.joined.meeting.mode === 'cloud-hybrid') {
      this.signal?.attachMedia(assignment.cloud ? { kind: 'cloud' } : { kind: 'module', moduleId: assignment.moduleId });
      return;
    }
    const old = this.signal;
    this.signal = undefined;
    await old?.leave().catch(() => undefined);
    await this.openModuleSignal(assignment);
  }

  /** Resolves once a move in flight (if any) is over. */
  async settled(): Promise<void> {
    await this.moving;
  }

  /** Leaves the meeting: media and signaling. No move after this. */
  async leave(): Promise<void> {
    this.leaving = true;
    await Promise.all([this.media.leave().catch(() => undefined), this.signal?.leave().catch(() => undefined)]);
  }
}
