import { MeetedgeError } from '@meetedge/core';
import type { ServerMessage, TrackSource } from '@meetedge/signaling';
import { MediaSession, type MediaKind, type PeerAdapter, type ReceiveSlot, type SocketEvents, type SocketLike } from './session';

/** The module's end of a socket: what the client sent, and frames to deliver to it. */
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
    this.closeFromModule(1006, '');
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
  deliver(message: ServerMessage): void {
    this.dispatch('message', { data: JSON.stringify(message) });
  }
  fail(message: string): void {
    this.dispatch('error', { message });
  }
  closeFromModule(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.dispatch('close', { code, reason });
  }
  /** The messages of `type` the client sent. */
  of(type: string): Record<string, unknown>[] {
    return this.sent.filter((m) => m.type === type);
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

interface FakePublication {
  source: TrackSource;
  track: string;
}
/** A peer that numbers m-lines in the order they were added, as a real offer does. */
class FakePeer implements PeerAdapter<FakePublication, ReceiveSlot> {
  connectionState = 'new';
  closed = false;
  readonly answers: string[] = [];
  /** When set, gathering waits for `gatheringDone()`. */
  holdGathering = false;
  gatheringDone: (() => void) | undefined;
  private readonly transceivers: { mid: string | null }[] = [];
  private readonly stateListeners = new Set<(state: string) => void>();
  private offers = 0;

  addSender(): { mid: string | null } {
    const sender = { mid: null };
    this.transceivers.push(sender);
    return sender;
  }
  addReceiver(kind: MediaKind): ReceiveSlot {
    const transceiver = this.addSender();
    return {
      kind,
      trackId: undefined,
      get mid() {
        return transceiver.mid ?? '';
      },
    };
  }
  async offer(): Promise<string> {
    this.transceivers.forEach((t, index) => (t.mid ??= String(index)));
    return `offer ${++this.offers}`;
  }
  gathered(): Promise<void> {
    return new Promise((resolve) => {
      if (this.holdGathering) this.gatheringDone = resolve;
      else resolve();
    });
  }
  localSdp(): string {
    return `offer ${this.offers} (${this.transceivers.length} m-lines) with candidates`;
  }
  async answer(sdp: string): Promise<void> {
    this.answers.push(sdp);
  }
  onConnectionStateChange(listener: (state: string) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }
  close(): void {
    this.closed = true;
  }
  setState(state: string): void {
    this.connectionState = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }
}

/** A third platform: the session over the fakes. */
class FakeClient extends MediaSession<FakePublication, ReceiveSlot> {
  static connect(socket: FakeSocket, peer: FakePeer, timeoutMs?: number): { client: FakeClient; joining: Promise<void> } {
    const client = new FakeClient(socket, peer);
    return { client, joining: client.start('ticket-1', timeoutMs) };
  }
}

const joinedMessage: ServerMessage = {
  type: 'joined',
  meetingId: 'm-1',
  participantId: 'bob',
  participants: [{ participantId: 'alice', displayName: 'Alice' }],
  tracks: [
    { trackId: 'alice-cam', participantId: 'alice', source: 'camera', kind: 'video', layers: ['q', 'h', 'f'] },
    { trackId: 'alice-mic', participantId: 'alice', source: 'microphone', kind: 'audio', layers: [] },
  ],
  audioSlots: 2,
};

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('MediaSession', () => {
  let socket: FakeSocket;
  let peer: FakePeer;

  beforeEach(() => {
    socket = new FakeSocket();
    peer = new FakePeer();
  });

  async function joined(): Promise<FakeClient> {
    const { client, joining } = FakeClient.connect(socket, peer);
    socket.open();
    socket.deliver(joinedMessage);
    await joining;
    return client;
  }

  /** Answers the client's last offer, as the module would. */
  function answer(published: { mid: string; trackId: string }[] = [], slots: { mid: string; trackId: string | null }[] = []): void {
    socket.deliver({ type: 'answer', sdp: `answer ${socket.of('offer').length}`, published, slots });
  }

  describe('join', () => {
    it('sends the ticket once the socket opens and resolves on joined', async () => {
      const { client, joining } = FakeClient.connect(socket, peer);
      expect(socket.sent).toEqual([]);
      socket.open();
      expect(socket.sent).toEqual([{ type: 'join', ticket: 'ticket-1' }]);
      socket.deliver(joinedMessage);
      await joining;
      expect(client.participantId).toBe('bob');
      expect(client.meetingId).toBe('m-1');
      expect([...client.tracks.keys()]).toEqual(['alice-cam', 'alice-mic']);
    });

    it("rejects with the module's coded error, and closes everything", async () => {
      const { client, joining } = FakeClient.connect(socket, peer);
      const closed = jest.fn();
      client.on('closed', closed);
      socket.open();
      socket.deliver({ type: 'error', code: 'UNAUTHENTICATED', message: 'join ticket has expired', fatal: true });
      await expect(joining).rejects.toEqual(new MeetedgeError('UNAUTHENTICATED', 'join ticket has expired'));
      await expect(joining).rejects.toBeInstanceOf(MeetedgeError);
      expect(socket.terminated).toBe(true);
      expect(peer.closed).toBe(true);
      expect(closed).toHaveBeenCalledTimes(1);
    });

    it('rejects with UNAVAILABLE when the socket closes mid-join', async () => {
      const { joining } = FakeClient.connect(socket, peer);
      socket.open();
      socket.closeFromModule(1001, 'module shutting down');
      await expect(joining).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'session closed (1001) module shutting down' });
      expect(peer.closed).toBe(true);
    });

    it('rejects with UNAVAILABLE when the module cannot be reached', async () => {
      const { joining } = FakeClient.connect(socket, peer);
      socket.fail('connect ECONNREFUSED 127.0.0.1:9');
      await expect(joining).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'cannot reach the module: connect ECONNREFUSED 127.0.0.1:9' });
    });

    it('rejects with UNAVAILABLE when the module never answers', async () => {
      const { joining } = FakeClient.connect(socket, peer, 20);
      socket.open();
      await expect(joining).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'no answer to join within 20 ms' });
      expect(socket.terminated).toBe(true);
    });
  });

  describe('negotiation', () => {
    it('offers after gathering, with the publications by mid, and resolves with the track ids by source', async () => {
      const client = await joined();
      peer.holdGathering = true;
      const publishing = client.publish([
        { source: 'microphone', track: 'mic' },
        { source: 'camera', track: 'cam' },
      ]);
      await settle();
      expect(socket.of('offer')).toEqual([]);
      peer.gatheringDone?.();
      await settle();
      expect(socket.of('offer')).toEqual([
        {
          type: 'offer',
          sdp: 'offer 1 (2 m-lines) with candidates',
          publications: [
            { mid: '0', source: 'microphone' },
            { mid: '1', source: 'camera' },
          ],
        },
      ]);
      answer([
        { mid: '0', trackId: 'bob-mic' },
        { mid: '1', trackId: 'bob-cam' },
      ]);
      await expect(publishing).resolves.toEqual(
        new Map([
          ['microphone', 'bob-mic'],
          ['camera', 'bob-cam'],
        ]),
      );
      expect(peer.answers).toEqual(['answer 1']);
    });

    it('runs one offer/answer exchange at a time, in order', async () => {
      const client = await joined();
      const publishing = client.publish([{ source: 'camera', track: 'cam' }]);
      const receiving = client.receive();
      await settle();
      expect(socket.of('offer')).toHaveLength(1);
      answer([{ mid: '0', trackId: 'bob-cam' }]);
      await publishing;
      await settle();
      expect(socket.of('offer')).toHaveLength(2);
      expect(socket.of('offer')[1]).toMatchObject({ sdp: 'offer 2 (4 m-lines) with candidates', publications: [{ mid: '0', source: 'camera' }] });
      answer();
      await receiving;
      expect(peer.answers).toEqual(['answer 1', 'answer 2']);
    });

    it('applies the slots of the answer and of slots messages to the receive slots', async () => {
      const client = await joined();
      const receiving = client.receive();
      await settle();
      // Two audio slots (the meeting's) and one video slot (alice's camera).
      expect([...client.remote.values()].map((r) => [r.mid, r.kind])).toEqual([
        ['0', 'audio'],
        ['1', 'audio'],
        ['2', 'video'],
      ]);
      answer(
        [],
        [
          { mid: '0', trackId: 'alice-mic' },
          { mid: '1', trackId: null },
          { mid: '2', trackId: 'alice-cam' },
        ],
      );
      await receiving;
      expect(client.remote.get('0')?.trackId).toBe('alice-mic');
      expect(client.remote.get('1')?.trackId).toBeUndefined();
      expect(client.remote.get('2')?.trackId).toBe('alice-cam');

      const slots = jest.fn();
      client.on('slots', slots);
      socket.deliver({
        type: 'slots',
        slots: [
          { mid: '0', trackId: null },
          { mid: '1', trackId: 'alice-mic' },
        ],
      });
      expect(client.remote.get('0')?.trackId).toBeUndefined();
      expect(client.remote.get('1')?.trackId).toBe('alice-mic');
      expect(slots).toHaveBeenCalledWith([...client.remote.values()]);
    });

    it('offers again with the receive slots a renegotiate asks for, adding only the missing ones', async () => {
      const client = await joined();
      socket.deliver({ type: 'renegotiate', audioSlots: 2, videoSlots: 1 });
      socket.deliver({ type: 'renegotiate', audioSlots: 2, videoSlots: 2 });
      await settle();
      expect(socket.of('offer')).toHaveLength(1);
      answer();
      await settle();
      expect(socket.of('offer')).toHaveLength(2);
      answer();
      await settle();
      expect([...client.remote.values()].map((r) => r.kind)).toEqual(['audio', 'audio', 'video', 'video']);
      expect(peer.answers).toEqual(['answer 1', 'answer 2']);
    });

    it('rejects a refused offer with the coded error, and the next exchange still runs', async () => {
      const client = await joined();
      const refused = jest.fn();
      client.on('refused', refused);
      const publishing = client.publish([{ source: 'camera', track: 'cam' }]);
      await settle();
      socket.deliver({ type: 'error', code: 'INVALID_ARGUMENT', message: 'offer: invalid SDP', fatal: false });
      await expect(publishing).rejects.toEqual(new MeetedgeError('INVALID_ARGUMENT', 'offer: invalid SDP'));
      expect(refused).toHaveBeenCalledWith(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));

      const again = client.publish([{ source: 'microphone', track: 'mic' }]);
      await settle();
      socket.deliver({ type: 'error', code: 'SOMETHING_NEW', message: 'from a newer module', fatal: false });
      await expect(again).rejects.toMatchObject({ code: 'INTERNAL', message: 'from a newer module' });
      expect(peer.answers).toEqual([]);
    });
  });

  describe('connected', () => {
    it('resolves when the connection state becomes connected', async () => {
      const client = await joined();
      const connecting = client.connected();
      peer.setState('connecting');
      peer.setState('connected');
      await expect(connecting).resolves.toBeUndefined();
      await expect(client.connected()).resolves.toBeUndefined();
    });

    it('rejects after the timeout', async () => {
      const client = await joined();
      await expect(client.connected(10)).rejects.toThrow('not connected within 10 ms');
    });
  });

  describe('leave', () => {
    it('sends leave, waits for the module to close, and emits closed once; leaving twice is harmless', async () => {
      const client = await joined();
      const closed = jest.fn();
      client.on('closed', closed);
      const leaving = client.leave();
      expect(socket.of('leave')).toHaveLength(1);
      socket.closeFromModule(1000, '');
      await leaving;
      await client.leave();
      expect(socket.of('leave')).toHaveLength(1);
      expect(closed).toHaveBeenCalledTimes(1);
      expect(closed).toHaveBeenCalledWith({ code: 1000, reason: '' });
      expect(peer.closed).toBe(true);
    });

    it('drops the socket when the module does not close it within 2 s', async () => {
      const client = await joined();
      jest.useFakeTimers();
      try {
        const leaving = client.leave();
        await jest.advanceTimersByTimeAsync(2000);
        await leaving;
        expect(socket.terminated).toBe(true);
      } finally {
        jest.useRealTimers();
      }
    });
  });
});
