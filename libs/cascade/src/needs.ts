/**
 * Which zones must link a cloud-hybrid meeting to the cloud MMR (issue [3]
 * item 3; the links themselves are issue [5]). The meeting server reports
 * where each participant's media is attached — a module (and its zone) or
 * the cloud MMR — and this derives, per zone, the meetings that need a
 * cascade link, and tells the zone's watchers (its ZCPs) when a need starts
 * and ends.
 *
 * The rule (DESIGN.md, "A cloud-hybrid join", step 5): while every
 * participant of a meeting sits on one module, its media never leaves that
 * module. A zone holding the meeting on a module needs a link when someone of
 * the meeting is attached to the cloud MMR (a guest outside the network) or a
 * second module also holds the meeting (in this zone or another): every
 * module of the meeting then links north–south to the cloud MMR, never to
 * each other. Internal-only meetings never need the cloud.
 */
import type { MeetingId, ModuleId, ZoneId } from '@meetedge/core';

export type Attachment = { kind: 'module'; moduleId: ModuleId; zoneId: ZoneId } | { kind: 'cloud' };

export type CascadeReason = 'remote-participant' | 'other-module';

export type CascadeNeedChange = { type: 'needed'; meetingId: MeetingId; reason: CascadeReason } | { type: 'ended'; meetingId: MeetingId };

type Listener = (change: CascadeNeedChange) => void;

/** The needs of one meeting, per zone, from where its participants are attached. */
export function needsOf(attachments: readonly Attachment[]): Map<ZoneId, CascadeReason> {
  const modules = new Map<ModuleId, ZoneId>();
  let inCloud = false;
  for (const a of attachments) {
    if (a.kind === 'cloud') inCloud = true;
    else modules.set(a.moduleId, a.zoneId);
  }
  const needs = new Map<ZoneId, CascadeReason>();
  if (!inCloud && modules.size < 2) return needs;
  const reason: CascadeReason = inCloud ? 'remote-participant' : 'other-module';
  for (const zoneId of modules.values()) needs.set(zoneId, reason);
  return needs;
}

export class CascadeNeeds {
  /** Current need per (zone, meeting). */
  private readonly byZone = new Map<ZoneId, Map<MeetingId, CascadeReason>>();
  /** Zones each meeting needs a link in. */
  private readonly byMeeting = new Map<MeetingId, Map<ZoneId, CascadeReason>>();
  private readonly listeners = new Map<ZoneId, Set<Listener>>();

  /** Where a cloud-hybrid meeting's participants are attached now (all of them). */
  update(meetingId: MeetingId, attachments: readonly Attachment[]): void {
    const next = needsOf(attachments);
    const previous = this.byMeeting.get(meetingId) ?? new Map<ZoneId, CascadeReason>();
    for (const [zoneId] of previous) {
      if (!next.has(zoneId)) this.set(zoneId, meetingId, undefined);
    }
    for (const [zoneId, reason] of next) {
      if (previous.get(zoneId) !== reason) this.set(zoneId, meetingId, reason);
    }
    if (next.size === 0) this.byMeeting.delete(meetingId);
    else this.byMeeting.set(meetingId, next);
  }

  /** The meeting ended: every need of it ends. */
  remove(meetingId: MeetingId): void {
    this.update(meetingId, []);
  }

  /** The zone's current needs (a watcher's replay). */
  current(zoneId: ZoneId): { meetingId: MeetingId; reason: CascadeReason }[] {
    return [...(this.byZone.get(zoneId) ?? new Map<MeetingId, CascadeReason>())].map(([meetingId, reason]) => ({ meetingId, reason }));
  }

  /** Calls `listener` with every later change of the zone's needs; returns the unsubscribe. */
  watch(zoneId: ZoneId, listener: Listener): () => void {
    let set = this.listeners.get(zoneId);
    if (!set) {
      set = new Set();
      this.listeners.set(zoneId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(zoneId);
    };
  }

  /** Watchers of a zone now (for metrics and tests). */
  watchers(zoneId: ZoneId): number {
    return this.listeners.get(zoneId)?.size ?? 0;
  }

  private set(zoneId: ZoneId, meetingId: MeetingId, reason: CascadeReason | undefined): void {
    let zone = this.byZone.get(zoneId);
    if (reason === undefined) {
      if (!zone?.delete(meetingId)) return;
      if (zone.size === 0) this.byZone.delete(zoneId);
    } else {
      if (!zone) {
        zone = new Map();
        this.byZone.set(zoneId, zone);
      }
      zone.set(meetingId, reason);
    }
    const change: CascadeNeedChange = reason === undefined ? { type: 'ended', meetingId } : { type: 'needed', meetingId, reason };
    for (const listener of [...(this.listeners.get(zoneId) ?? [])]) listener(change);
  }
}
