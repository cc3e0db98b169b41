/**
 * One meeting's room: its roster, its media key, and who hears what. The
 * cloud meeting server holds the rooms of cloud-hybrid meetings; the top
 * module of an internal-only meeting holds its room, and the meeting's other
 * modules relay their participants' sessions to it. It knows no sockets: each
 * participant is a `Seat` (a session that can be sent messages and ended),
 * so the rules are tested without a network (room.spec.ts).
 *
 * The room lives in its holder's memory, from its first participant until
 * its last leaves or a host ends it.
 */
import { randomBytes } from 'node:crypto';
import { MeetedgeError, type MeetingId, type MeetingMode } from '@meetedge/core';
import type {
  LeaveReason,
  MediaAttachment,
  MediaKey,
  MeetingClientMessageOf,
  MeetingServerMessage,
  MeetingServerMessageOf,
  RosterEntry,
} from '@meetedge/signaling';

/** What a room needs of a participant's session. */
export interface Seat {
  send(message: MeetingServerMessage): void;
  /** Ends the session: closes its socket with `code` and `reason`. It does not call back into the room. */
  end(code: number, reason: string): void;
}

/** The meeting as the room shows it (read from the directory, or the ZCP's meeting info, at each hello). */
export interface RoomMeeting {
  readonly id: MeetingId;
  readonly topic: string;
  readonly e2ee: boolean;
  /** Default cloud-hybrid (the cloud meeting server's rooms). */
  readonly mode?: MeetingMode;
  /** Internal-only: the module holding the room, told to participants (their client knows whether its module was the top). */
  readonly top?: string;
  /** Internal-only: what the meeting does when its top dies. */
  readonly onTopLoss?: 'recover' | 'collapse';
}

/**
 * What a participant's session talks to: a room in this process, or (on a
 * module that is not the top of an internal-only meeting) a relay to the
 * top's room. A refusal of `handle` is thrown (a local room) or comes back as
 * an `error` message (a relay).
 */
export interface SignalRoom {
  readonly id: MeetingId;
  handle(participantId: string, message: RoomMessage): void;
  leave(participantId: string, seat: Seat, reason: Exclude<LeaveReason, 'removed'>): void;
}

/** Who a session is, once its token and the meeting checked out. */
export interface Identity {
  /** A member's user id, or a guest's id from their guest token. */
  readonly participantId: string;
  readonly displayName: string;
  readonly kind: 'member' | 'guest';
  /** The meeting's host or an admin of its account. */
  readonly isHost: boolean;
}

/** WebSocket close codes (RFC 6455). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY = 1008;

/** The messages a seated participant sends to the room (`hello` and `leave` are the session's). */
export type RoomMessage = MeetingClientMessageOf<'media-attached' | 'mute' | 'raise-hand' | 'set-name' | 'chat' | 'mute-all' | 'remove' | 'end'>;

interface Occupant {
  entry: RosterEntry;
  seat: Seat;
}

export class Room implements SignalRoom {
  private readonly occupants = new Map<string, Occupant>();
  /** Participants a host removed: they may not come back while the room lives. */
  private readonly removed = new Set<string>();
  private mediaKey: MediaKey | undefined;
  private closed = false;
  /** The attachments last reported to `onAttachments`, as JSON. */
  private reported = '[]';
  /** Called once, when the room has nobody left or a host ended it: forget it. */
  onClosed: (() => void) | undefined;
  /**
   * Called with where every participant's media is attached (those that
   * said), whenever that changes; with none when the room closes. The
   * cascade needs of the zone controller follow it.
   */
  onAttachments: ((attachments: MediaAttachment[]) => void) | undefined;

  constructor(
    private meeting: RoomMeeting,
    private readonly now: () => number = Date.now,
  ) {
    if (meeting.e2ee) this.mediaKey = newMediaKey(1);
  }

  get id(): MeetingId {
    return this.meeting.id;
  }

  get size(): number {
    return this.occupants.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The roster as everyone sees it, in joining order. */
  roster(): RosterEntry[] {
    return [...this.occupants.values()].map((o) => ({ ...o.entry }));
  }

  /** Refuses a participant a host removed from this room. */
  admit(participantId: string): void {
    if (this.removed.has(participantId)) throw new MeetedgeError('FORBIDDEN', 'a host removed you from this meeting');
    if (this.closed) throw new MeetedgeError('UNAVAILABLE', 'the meeting has just ended');
  }

  /**
   * Seats a participant and welcomes them. Someone already seated under the
   * same id (a reconnect, another device) loses the seat: their old session
   * is told and ended, and the others see the entry updated, not a second one.
   */
  join(identity: Identity, seat: Seat, meeting: RoomMeeting): void {
    this.admit(identity.participantId);
    // Topic edits since the room opened show to newcomers; E2EE is fixed for the room's life (its key exists or not).
    this.meeting = { ...meeting, e2ee: this.meeting.e2ee, mode: this.meeting.mode, top: this.meeting.top };
    const entry: RosterEntry = {
      participantId: identity.participantId,
      displayName: identity.displayName,
      kind: identity.kind,
      isHost: identity.isHost,
      // Nobody sends media before attaching it; a client says when it unmutes.
      audioMuted: true,
      videoMuted: true,
      handRaised: false,
      media: null,
    };
    const previous = this.occupants.get(identity.participantId);
    this.occupants.set(identity.participantId, { entry, seat });
    if (previous) {
      previous.seat.send({ type: 'error', code: 'CONFLICT', message: 'you joined this meeting again from another session', fatal: true });
      previous.seat.end(CLOSE_POLICY, 'replaced by a newer session');
    }
    seat.send({
      type: 'welcome',
      participantId: identity.participantId,
      meeting: {
        id: this.meeting.id,
        topic: this.meeting.topic,
        mode: this.meeting.mode ?? 'cloud-hybrid',
        e2ee: this.meeting.e2ee,
        ...(this.meeting.top ? { top: this.meeting.top } : {}),
        ...(this.meeting.onTopLoss ? { onTopLoss: this.meeting.onTopLoss } : {}),
      },
      roster: this.roster(),
      ...(this.mediaKey ? { mediaKey: { ...this.mediaKey } } : {}),
      you: { isHost: identity.isHost },
    });
    this.broadcast({ type: previous ? 'participant-updated' : 'participant-joined', participant: { ...entry } }, identity.participantId);
    this.reportAttachments();
  }

  /**
   * A participant's session ended on its side (`leave`, socket closed, no
   * pong). Nothing happens when that session no longer holds the seat (it was
   * replaced or removed).
   */
  leave(participantId: string, seat: Seat, reason: Exclude<LeaveReason, 'removed'>): void {
    if (this.occupants.get(participantId)?.seat !== seat) return;
    this.occupants.delete(participantId);
    this.broadcast({ type: 'participant-left', participantId, reason });
    if (this.occupants.size === 0) this.close();
    else this.reportAttachments();
  }

  /** Applies one message of a seated participant; a refusal is thrown as a MeetedgeError. */
  handle(participantId: string, message: RoomMessage): void {
    const self = this.occupants.get(participantId);
    if (!self) throw new MeetedgeError('CONFLICT', `${message.type}: you are not in the meeting`);
    switch (message.type) {
      case 'media-attached':
        return this.attach(self, message.where);
      case 'mute':
        return this.update(self, {
          ...(message.audio !== undefined ? { audioMuted: message.audio } : {}),
          ...(message.video !== undefined ? { videoMuted: message.video } : {}),
        });
      case 'raise-hand':
        return this.update(self, { handRaised: message.raised });
      case 'set-name':
        return this.update(self, { displayName: message.displayName });
      case 'chat':
        return this.chat(self, message.text, message.to);
      case 'mute-all':
        requireHost(self, 'mute everyone');
        return this.muteAll(self);
      case 'remove':
        requireHost(self, 'remove a participant');
        return this.remove(self, message.participantId);
      case 'end':
        requireHost(self, 'end the meeting');
        return this.end(self);
    }
  }

  private attach(self: Occupant, where: MediaAttachment): void {
    if (where.kind === 'module' && self.entry.kind === 'guest') {
      throw new MeetedgeError('FORBIDDEN', "media-attached: a guest's media goes to the cloud MMR, not to a module of the organization");
    }
    this.update(self, { media: { ...where } });
    this.reportAttachments();
  }

  private update(self: Occupant, patch: Partial<RosterEntry>): void {
    const before = JSON.stringify(self.entry);
    self.entry = { ...self.entry, ...patch };
    // Saying again what is already so changes nothing and tells nobody.
    if (JSON.stringify(self.entry) !== before) this.broadcast({ type: 'participant-updated', participant: { ...self.entry } });
  }

  private chat(self: Occupant, text: string, to: string | undefined): void {
    const message: MeetingServerMessageOf<'chat'> = {
      type: 'chat',
      from: self.entry.participantId,
      fromName: self.entry.displayName,
      text,
      ...(to !== undefined ? { to } : {}),
      at: this.now(),
    };
    if (to === undefined) return this.broadcast(message);
    const target = this.occupants.get(to);
    if (!target) throw new MeetedgeError('NOT_FOUND', `chat: participant ${to} is not in the meeting`);
    target.seat.send(message);
    if (target !== self) self.seat.send(message);
  }

  private muteAll(host: Occupant): void {
    for (const other of this.occupants.values()) {
      if (other === host) continue;
      other.seat.send({ type: 'muted-by-host', by: host.entry.participantId });
      this.update(other, { audioMuted: true });
    }
  }

  private remove(host: Occupant, participantId: string): void {
    const target = this.occupants.get(participantId);
    if (!target) throw new MeetedgeError('NOT_FOUND', `remove: participant ${participantId} is not in the meeting`);
    if (target === host) throw new MeetedgeError('INVALID_ARGUMENT', 'remove: to leave the meeting yourself, send leave');
    this.occupants.delete(participantId);
    this.removed.add(participantId);
    target.seat.send({ type: 'removed', by: host.entry.participantId });
    target.seat.end(CLOSE_NORMAL, 'removed from the meeting by a host');
    this.broadcast({ type: 'participant-left', participantId, reason: 'removed' });
    this.reportAttachments();
    // The removed participant had the key: what is sent from now on uses one they never get.
    if (this.mediaKey) {
      this.mediaKey = newMediaKey(this.mediaKey.id + 1);
      this.broadcast({ type: 'media-key', mediaKey: { ...this.mediaKey }, reason: 'participant-removed' });
    }
  }

  private end(host: Occupant): void {
    const ended: MeetingServerMessage = { type: 'meeting-ended', reason: 'ended-by-host', by: host.entry.participantId };
    const occupants = [...this.occupants.values()];
    this.occupants.clear();
    for (const occupant of occupants) {
      occupant.seat.send(ended);
      occupant.seat.end(CLOSE_NORMAL, 'the host ended the meeting');
    }
    this.close();
  }

  /**
   * Ends every session (the server is shutting down): they are told to
   * reconnect, since the meeting itself goes on elsewhere or after a restart.
   */
  shutdown(message = 'the meeting server is shutting down; connect again'): void {
    const occupants = [...this.occupants.values()];
    this.occupants.clear();
    for (const occupant of occupants) {
      occupant.seat.send({ type: 'error', code: 'UNAVAILABLE', message, fatal: true });
      occupant.seat.end(CLOSE_GOING_AWAY, 'server shutting down');
    }
    this.close();
  }

  private broadcast(message: MeetingServerMessage, except?: string): void {
    for (const [id, occupant] of this.occupants) if (id !== except) occupant.seat.send(message);
  }

  private reportAttachments(): void {
    const attachments = [...this.occupants.values()].flatMap((o) => (o.entry.media ? [{ ...o.entry.media }] : []));
    const json = JSON.stringify(attachments);
    if (json === this.reported) return;
    this.reported = json;
    this.onAttachments?.(attachments);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mediaKey = undefined;
    this.occupants.clear();
    this.reportAttachments();
    this.onClosed?.();
  }
}

function requireHost(self: Occupant, what: string): void {
  if (!self.entry.isHost) throw new MeetedgeError('FORBIDDEN', `only the meeting's host or an admin of its account may ${what}`);
}

/** 32 random bytes, base64: the key clients encrypt media frames with. */
function newMediaKey(id: number): MediaKey {
  return { id, key: randomBytes(32).toString('base64') };
}
