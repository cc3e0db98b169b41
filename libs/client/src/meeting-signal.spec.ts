import { MeetedgeError } from '@meetedge/core';
import type { MeetingServerMessage, RosterEntry } from '@meetedge/signaling';
import { MeetingSignalSession } from './meeting-signal';
import type { SocketEvents, SocketLike } from './session';

/** The server's end of a socket: what the client sent, and frames to deliver to it. */
class FakeSocket implements SocketLike {
  readyState = 0;
  readonly sent: Record<string, unknown>[] = [];
  terminated = false;
  private listeners: { type: keyof SocketEvents; listener: (event: never) => void; once: boolean }[] = [];

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(): void {
    this.readyState = 2;
  }
  terminate(): void {
    this.terminated = true;
    this.closeFromServer(1006, '');
  }
  addEventListener<E extends keyof SocketEvents>(type: E, listener: (event: SocketEvents[E]) => void, options?: { once?: boolean }): void {
    this.listeners.push({ type, listener, once: options?.once ?? false });
  }
  removeEventListener<E extends keyof SocketEvents>(type: E, listener: (event: SocketEvents[E]) => void): void {
    this.listeners = this.listeners.filter((l) => l.type !== type || l.listener !== listener);
  }

  open(): void {
    this.readyState = 1;
    this.dispatch('open', {});
  }
  deliver(message: MeetingServerMessage | string): void {
    this.dispatch('message', { data: typeof message === 'string' ? message : JSON.stringify(message) });
  }
  closeFromServer(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.dispatch('close', { code, reason });
  }

  private dispatch<E extends keyof SocketEvents>(type: E, event: SocketEvents[E]): void {
    for (const entry of [...this.listeners]) {
      if (entry.type !== type) continue;
      const listener = entry.listener as (event: SocketEvents[E]) => void;
      if (entry.once) this.removeEventListener(type, listener);
      listener(event);
    }
  }
}

class TestSignal extends MeetingSignalSession {
  constructor(socket: SocketLike) {
    super(socket);
  }
  connect(token: string, timeoutMs?: number): Promise<void> {
    return this.start(token, timeoutMs);
  }
}

function entry(participantId: string, patch: Partial<RosterEntry> = {}): RosterEntry {
  return { participantId, displayName: participantId, kind: 'member', isHost: false, audioMuted: true, videoMuted: true, handRaised: false, media: null, ...patch };
}

const KEY = { id: 1, key: 'A'.repeat(43) + '=' };
const welcome: MeetingServerMessage = {
  type: 'welcome',
  participantId: 'u-ada',
  meeting: { id: 'm-1', topic: 'Weekly', mode: 'cloud-hybrid', e2ee: true },
  roster: [entry('u-bob'), entry('u-ada', { isHost: true })],
  mediaKey: KEY,
  you: { isHost: true },
};

async function connected(): Promise<{ socket: FakeSocket; client: TestSignal }> {
  const socket = new FakeSocket();
  const client = new TestSignal(socket);
  const connecting = client.connect('tok.en.x');
  socket.open();
  socket.deliver(welcome);
  await connecting;
  return { socket, client };
}

describe('MeetingSignalSession', () => {
  it('says hello once the socket is open and resolves on the welcome, with the meeting, roster, key and host flag', async () => {
    const socket = new FakeSocket();
    const client = new TestSignal(socket);
    const connecting = client.connect('tok.en.x');
    expect(socket.sent).toEqual([]);
    socket.open();
    expect(socket.sent).toEqual([{ type: 'hello', token: 'tok.en.x' }]);
    socket.deliver(welcome);
    await connecting;
    expect(client.participantId).toBe('u-ada');
    expect(client.meeting).toEqual({ id: 'm-1', topic: 'Weekly', mode: 'cloud-hybrid', e2ee: true });
    expect(client.isHost).toBe(true);
    expect(client.mediaKey).toEqual(KEY);
    expect([...client.roster.keys()]).toEqual(['u-bob', 'u-ada']);
  });

  it("rejects with the server's coded error and leaves nothing open", async () => {
    const socket = new FakeSocket();
    const client = new TestSignal(socket);
    const closed = jest.fn();
    client.on('closed', closed);
    const connecting = client.connect('expired');
    socket.open();
    socket.deliver({ type: 'error', code: 'UNAUTHENTICATED', message: 'access token has expired; sign in again', fatal: true });
    await expect(connecting).rejects.toEqual(new MeetedgeError('UNAUTHENTICATED', 'access token has expired; sign in again'));
    await expect(connecting).rejects.toBeInstanceOf(MeetedgeError);
    expect(socket.terminated).toBe(true);
    expect(closed).toHaveBeenCalledTimes(1);
    expect(client.isClosed).toBe(true);
    expect(() => client.chat('hi')).toThrow('the meeting signaling is closed');
  });

  it('rejects UNAVAILABLE when the server closes first, is unreachable, or does not answer in time', async () => {
    const a = new FakeSocket();
    const first = new TestSignal(a).connect('t');
    a.open();
    a.closeFromServer(1001, 'server shutting down');
    await expect(first).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'session closed (1001) server shutting down' });

    const b = new FakeSocket();
    const second = new TestSignal(b).connect('t');
    (b as unknown as { dispatch: (type: string, event: unknown) => void }).dispatch('error', { message: 'ECONNREFUSED' });
    await expect(second).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'cannot reach the meeting server: ECONNREFUSED' });

    const c = new FakeSocket();
    const third = new TestSignal(c).connect('t', 20);
    c.open();
    await expect(third).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'no welcome within 20 ms' });
    expect(c.terminated).toBe(true);
  });

  it('keeps the roster as participants join, change and leave, with an event for each message and for the roster', async () => {
    const { socket, client } = await connected();
    const events: string[] = [];
    const rosters: string[][] = [];
    client.on('participant-joined', (m) => events.push(`joined ${m.participant.participantId}`));
    client.on('participant-updated', (m) => events.push(`updated ${m.participant.participantId} hand=${m.participant.handRaised}`));
    client.on('participant-left', (m) => events.push(`left ${m.participantId} ${m.reason}`));
    client.on('roster', (roster) => rosters.push(roster.map((e) => e.participantId)));
    socket.deliver({ type: 'participant-joined', participant: entry('g-1', { kind: 'guest' }) });
    socket.deliver({ type: 'participant-updated', participant: entry('u-bob', { handRaised: true }) });
    socket.deliver({ type: 'participant-left', participantId: 'g-1', reason: 'removed' });
    socket.deliver({ type: 'participant-left', participantId: 'g-unknown', reason: 'left' });
    expect(events).toEqual(['joined g-1', 'updated u-bob hand=true', 'left g-1 removed', 'left g-unknown left']);
    expect(rosters).toEqual([
      ['u-bob', 'u-ada', 'g-1'],
      ['u-bob', 'u-ada', 'g-1'],
      ['u-bob', 'u-ada'],
    ]);
    expect(client.roster.get('u-bob')?.handRaised).toBe(true);
  });

  it('emits chat, host actions and key rotations, takes the new key, and ignores what is not a server message', async () => {
    const { socket, client } = await connected();
    const seen: MeetingServerMessage[] = [];
    for (const type of ['chat', 'muted-by-host', 'removed', 'meeting-ended', 'media-key', 'refused'] as const) {
      client.on(type, (m: MeetingServerMessage) => seen.push(m));
    }
    const messages: MeetingServerMessage[] = [
      { type: 'chat', from: 'u-bob', fromName: 'Bob', text: 'hi', at: 1 },
      { type: 'muted-by-host', by: 'u-bob' },
      { type: 'media-key', mediaKey: { id: 2, key: 'B'.repeat(43) + '=' }, reason: 'participant-removed' },
      { type: 'error', code: 'FORBIDDEN', message: 'only a host may end the meeting', fatal: false },
      { type: 'removed', by: 'u-bob' },
      { type: 'meeting-ended', reason: 'ended-by-host', by: 'u-bob' },
    ];
    socket.deliver('not json');
    socket.deliver('{"type":"chat","text":"no sender"}');
    for (const m of messages) socket.deliver(m);
    expect(seen).toEqual(messages);
    expect(client.mediaKey).toEqual({ id: 2, key: 'B'.repeat(43) + '=' });
  });

  it('sends every client message', async () => {
    const { socket, client } = await connected();
    socket.sent.length = 0;
    client.attachMedia({ kind: 'module', moduleId: 'sfu-1' });
    client.attachMedia({ kind: 'cloud' });
    client.mute({ audio: false });
    client.mute({ audio: true, video: false });
    client.raiseHand();
    client.raiseHand(false);
    client.setName('Ada L.');
    client.chat('hello');
    client.chat('psst', 'u-bob');
    client.muteAll();
    client.removeParticipant('g-1');
    client.end();
    expect(socket.sent).toEqual([
      { type: 'media-attached', where: { kind: 'module', moduleId: 'sfu-1' } },
      { type: 'media-attached', where: { kind: 'cloud' } },
      { type: 'mute', audio: false },
      { type: 'mute', audio: true, video: false },
      { type: 'raise-hand', raised: true },
      { type: 'raise-hand', raised: false },
      { type: 'set-name', displayName: 'Ada L.' },
      { type: 'chat', text: 'hello' },
      { type: 'chat', text: 'psst', to: 'u-bob' },
      { type: 'mute-all' },
      { type: 'remove', participantId: 'g-1' },
      { type: 'end' },
    ]);
  });

  it('leave() says leave, resolves when the server closes, and is harmless twice', async () => {
    const { socket, client } = await connected();
    const closed = jest.fn();
    client.on('closed', closed);
    const leaving = client.leave();
    expect(socket.sent.at(-1)).toEqual({ type: 'leave' });
    socket.closeFromServer(1000, 'left');
    await leaving;
    await client.leave();
    expect(closed).toHaveBeenCalledTimes(1);
    expect(closed).toHaveBeenCalledWith({ code: 1000, reason: 'left' });
  });
});
