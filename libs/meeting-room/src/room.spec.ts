/**
 * The room's rules without sockets: who hears what, what hosts may do, the
 * media key, and one roster entry per participant. Every message a seat gets
 * must pass the protocol's schema.
 */
import { MeetedgeError, MeetingId } from '@meetedge/core';
import { isMeetingServerMessage, type MediaAttachment, type MeetingServerMessage } from '@meetedge/signaling';
import { Room, type Identity, type RoomMessage, type Seat } from './room';

class FakeSeat implements Seat {
  readonly got: MeetingServerMessage[] = [];
  ended: { code: number; reason: string } | undefined;
  send(message: MeetingServerMessage): void {
    if (!isMeetingServerMessage(JSON.parse(JSON.stringify(message)))) throw new Error(`not a valid server message: ${JSON.stringify(message)}`);
    if (this.ended) throw new Error(`sent after end: ${message.type}`);
    this.got.push(message);
  }
  end(code: number, reason: string): void {
    this.ended = { code, reason };
  }
  types(): string[] {
    return this.got.map((m) => m.type);
  }
  last<T extends MeetingServerMessage['type']>(type: T): Extract<MeetingServerMessage, { type: T }> | undefined {
    return this.got.filter((m): m is Extract<MeetingServerMessage, { type: T }> => m.type === type).at(-1);
  }
  clear(): void {
    this.got.length = 0;
  }
}

const meeting = { id: MeetingId('m-1'), topic: 'Weekly', e2ee: false };
const host: Identity = { participantId: 'u-host', displayName: 'Hana', kind: 'member', isHost: true };
const bob: Identity = { participantId: 'u-bob', displayName: 'Bob', kind: 'member', isHost: false };
const guest: Identity = { participantId: 'g-1', displayName: 'Visitor', kind: 'guest', isHost: false };

function refusal(fn: () => void): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MeetedgeError);
    return { code: (err as MeetedgeError).code, message: (err as MeetedgeError).message };
  }
  throw new Error('expected a refusal');
}

function seated(options: { e2ee?: boolean } = {}) {
  const m = { ...meeting, e2ee: options.e2ee ?? false };
  const room = new Room(m, () => 1_700_000_000_000);
  const seats = { host: new FakeSeat(), bob: new FakeSeat(), guest: new FakeSeat() };
  const attachments: MediaAttachment[][] = [];
  let closed = 0;
  room.onAttachments = (a) => attachments.push(a);
  room.onClosed = () => closed++;
  room.join(host, seats.host, m);
  room.join(bob, seats.bob, m);
  room.join(guest, seats.guest, m);
  const handle = (who: Identity, message: RoomMessage) => room.handle(who.participantId, message);
  return { room, seats, handle, attachments, closed: () => closed };
}

describe('Room', () => {
  it('welcomes each participant with the roster so far (itself included) and announces it to the others', () => {
    const { room, seats } = seated();
    expect(seats.host.types()).toEqual(['welcome', 'participant-joined', 'participant-joined']);
    expect(seats.bob.got[0]).toEqual({
      type: 'welcome',
      participantId: 'u-bob',
      meeting: { id: 'm-1', topic: 'Weekly', mode: 'cloud-hybrid', e2ee: false },
      roster: [
        { participantId: 'u-host', displayName: 'Hana', kind: 'member', isHost: true, audioMuted: true, videoMuted: true, handRaised: false, media: null },
        { participantId: 'u-bob', displayName: 'Bob', kind: 'member', isHost: false, audioMuted: true, videoMuted: true, handRaised: false, media: null },
      ],
      you: { isHost: false },
    });
    expect(seats.guest.types()).toEqual(['welcome']);
    expect(room.roster().map((e) => e.participantId)).toEqual(['u-host', 'u-bob', 'g-1']);
  });

  it('replaces the seat of a participant who joins again: the old session is ended, the others see an update, not a second entry', () => {
    const { room, seats } = seated();
    seats.host.clear();
    const again = new FakeSeat();
    room.join({ ...bob, displayName: 'Bobby' }, again, meeting);
    expect(seats.bob.last('error')).toEqual({ type: 'error', code: 'CONFLICT', message: 'you joined this meeting again from another session', fatal: true });
    expect(seats.bob.ended).toEqual({ code: 1008, reason: 'replaced by a newer session' });
    expect(seats.host.got).toEqual([{ type: 'participant-updated', participant: expect.objectContaining({ participantId: 'u-bob', displayName: 'Bobby' }) }]);
    expect(room.roster().map((e) => e.participantId)).toEqual(['u-host', 'u-bob', 'g-1']);
    // The old session's own close, arriving later, changes nothing.
    room.leave('u-bob', seats.bob, 'left');
    expect(room.size).toBe(3);
    room.leave('u-bob', again, 'left');
    expect(seats.host.last('participant-left')).toEqual({ type: 'participant-left', participantId: 'u-bob', reason: 'left' });
  });

  it('propagates mute, hand, name and media attachment to everyone, and only real changes', () => {
    const { seats, handle, attachments } = seated();
    seats.guest.clear();
    handle(bob, { type: 'mute', audio: false });
    handle(bob, { type: 'mute', audio: false });
    handle(bob, { type: 'raise-hand', raised: true });
    handle(bob, { type: 'set-name', displayName: 'Robert' });
    handle(bob, { type: 'media-attached', where: { kind: 'module', moduleId: 'sfu-1' } });
    handle(guest, { type: 'media-attached', where: { kind: 'cloud' } });
    const updates = seats.guest.got.map((m) => (m.type === 'participant-updated' ? m.participant : undefined));
    expect(updates).toEqual([
      expect.objectContaining({ participantId: 'u-bob', audioMuted: false, videoMuted: true }),
      expect.objectContaining({ participantId: 'u-bob', handRaised: true }),
      expect.objectContaining({ participantId: 'u-bob', displayName: 'Robert' }),
      expect.objectContaining({ participantId: 'u-bob', media: { kind: 'module', moduleId: 'sfu-1' } }),
      expect.objectContaining({ participantId: 'g-1', media: { kind: 'cloud' } }),
    ]);
    expect(attachments).toEqual([[{ kind: 'module', moduleId: 'sfu-1' }], [{ kind: 'module', moduleId: 'sfu-1' }, { kind: 'cloud' }]]);
    expect(refusal(() => handle(guest, { type: 'media-attached', where: { kind: 'module', moduleId: 'sfu-1' } }))).toEqual({
      code: 'FORBIDDEN',
      message: "media-attached: a guest's media goes to the cloud MMR, not to a module of the organization",
    });
  });

  it('sends chat to everyone (the sender too), or to one participant and back to the sender only', () => {
    const { seats, handle } = seated();
    for (const seat of Object.values(seats)) seat.clear();
    handle(bob, { type: 'chat', text: 'hello all' });
    const all = { type: 'chat', from: 'u-bob', fromName: 'Bob', text: 'hello all', at: 1_700_000_000_000 };
    for (const seat of Object.values(seats)) expect(seat.got).toEqual([all]);
    for (const seat of Object.values(seats)) seat.clear();
    handle(bob, { type: 'chat', text: 'psst', to: 'g-1' });
    const one = { type: 'chat', from: 'u-bob', fromName: 'Bob', text: 'psst', to: 'g-1', at: 1_700_000_000_000 };
    expect(seats.guest.got).toEqual([one]);
    expect(seats.bob.got).toEqual([one]);
    expect(seats.host.got).toEqual([]);
    handle(bob, { type: 'chat', text: 'note to self', to: 'u-bob' });
    expect(seats.bob.got).toHaveLength(2);
    expect(refusal(() => handle(bob, { type: 'chat', text: 'x', to: 'u-gone' }))).toEqual({ code: 'NOT_FOUND', message: 'chat: participant u-gone is not in the meeting' });
  });

  it('lets only hosts mute all, remove and end', () => {
    const { handle } = seated();
    for (const message of [{ type: 'mute-all' }, { type: 'remove', participantId: 'g-1' }, { type: 'end' }] as RoomMessage[]) {
      expect(refusal(() => handle(bob, message)).code).toBe('FORBIDDEN');
      expect(refusal(() => handle(guest, message)).code).toBe('FORBIDDEN');
    }
    expect(refusal(() => handle(bob, { type: 'end' })).message).toBe("only the meeting's host or an admin of its account may end the meeting");
  });

  it("mute-all mutes every other participant's audio and tells them", () => {
    const { seats, handle } = seated();
    handle(bob, { type: 'mute', audio: false });
    for (const seat of Object.values(seats)) seat.clear();
    handle(host, { type: 'mute-all' });
    expect(seats.bob.got).toEqual([
      { type: 'muted-by-host', by: 'u-host' },
      { type: 'participant-updated', participant: expect.objectContaining({ participantId: 'u-bob', audioMuted: true }) },
    ]);
    expect(seats.guest.types()).toEqual(['participant-updated', 'muted-by-host']);
    expect(seats.host.types()).toEqual(['participant-updated']);
  });

  it('remove ends the removed session, updates the roster, refuses them back, and rotates the media key for the others', () => {
    const { room, seats, handle, attachments } = seated({ e2ee: true });
    const key1 = seats.host.last('welcome')?.mediaKey;
    expect(key1).toEqual({ id: 1, key: expect.stringMatching(/^[A-Za-z0-9+/]{43}=$/) });
    expect(Buffer.from(key1?.key ?? '', 'base64')).toHaveLength(32);
    expect(seats.guest.last('welcome')?.mediaKey).toEqual(key1);
    handle(guest, { type: 'media-attached', where: { kind: 'cloud' } });
    handle(host, { type: 'remove', participantId: 'g-1' });
    expect(seats.guest.got.slice(-1)).toEqual([{ type: 'removed', by: 'u-host' }]);
    expect(seats.guest.ended).toEqual({ code: 1000, reason: 'removed from the meeting by a host' });
    const rotated = seats.bob.last('media-key');
    expect(rotated).toEqual({ type: 'media-key', mediaKey: { id: 2, key: expect.any(String) }, reason: 'participant-removed' });
    expect(rotated?.mediaKey.key).not.toBe(key1?.key);
    expect(seats.host.last('media-key')).toEqual(rotated);
    expect(seats.host.types().slice(-2)).toEqual(['participant-left', 'media-key']);
    expect(seats.bob.last('participant-left')).toEqual({ type: 'participant-left', participantId: 'g-1', reason: 'removed' });
    expect(attachments.at(-1)).toEqual([]);
    expect(room.roster().map((e) => e.participantId)).toEqual(['u-host', 'u-bob']);
    expect(refusal(() => room.join(guest, new FakeSeat(), meeting))).toEqual({ code: 'FORBIDDEN', message: 'a host removed you from this meeting' });
    expect(refusal(() => handle(host, { type: 'remove', participantId: 'g-1' })).code).toBe('NOT_FOUND');
    expect(refusal(() => handle(host, { type: 'remove', participantId: 'u-host' })).message).toBe('remove: to leave the meeting yourself, send leave');
    // A newcomer gets the current key.
    const carol = new FakeSeat();
    room.join({ participantId: 'u-carol', displayName: 'Carol', kind: 'member', isHost: false }, carol, meeting);
    expect(carol.last('welcome')?.mediaKey).toEqual(rotated?.mediaKey);
  });

  it('has no media key when the meeting has E2EE off', () => {
    const { seats, handle } = seated();
    expect(seats.bob.last('welcome')).not.toHaveProperty('mediaKey');
    handle(host, { type: 'remove', participantId: 'g-1' });
    expect(seats.bob.last('media-key')).toBeUndefined();
  });

  it('end tells everyone, ends every session and closes the room', () => {
    const { room, seats, handle, closed } = seated();
    handle(host, { type: 'media-attached', where: { kind: 'cloud' } });
    handle(host, { type: 'end' });
    for (const seat of Object.values(seats)) {
      expect(seat.got.at(-1)).toEqual({ type: 'meeting-ended', reason: 'ended-by-host', by: 'u-host' });
      expect(seat.ended).toEqual({ code: 1000, reason: 'the host ended the meeting' });
    }
    expect(room.isClosed).toBe(true);
    expect(room.size).toBe(0);
    expect(closed()).toBe(1);
    expect(refusal(() => room.join(bob, new FakeSeat(), meeting)).code).toBe('UNAVAILABLE');
  });

  it('closes when the last participant leaves', () => {
    const { room, seats, closed } = seated();
    room.leave('u-host', seats.host, 'left');
    room.leave('u-bob', seats.bob, 'disconnected');
    expect(seats.guest.last('participant-left')).toEqual({ type: 'participant-left', participantId: 'u-bob', reason: 'disconnected' });
    expect(closed()).toBe(0);
    room.leave('g-1', seats.guest, 'left');
    expect(closed()).toBe(1);
  });
});
