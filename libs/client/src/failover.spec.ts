/**
 * StayingMeeting's rules with a fake network: which closes move, what the
 * ZCPs are asked, where signaling goes, and when it gives up. The real thing
 * (modules killed with SIGKILL) is apps/all-in-one/test/failover.spec.ts.
 */
import { Emitter } from './emitter';
import { StayingMeeting, isServerFailure, type MoveEvent } from './failover';
import type { Assignment, JoinAnswer, JoinedMeeting } from './join';

type Closed = { code: number; reason: string };

class FakeSession extends Emitter<{ closed: [Closed] }> {
  left = false;
  meeting: { top?: string; onTopLoss?: 'recover' | 'collapse' } | undefined;
  readonly attached: unknown[] = [];
  constructor(readonly url: string, readonly token: string) {
    super();
  }
  drop(code: number, reason = 'dropped'): void {
    this.emit('closed', { code, reason });
  }
  attachMedia(where: unknown): void {
    this.attached.push(where);
  }
  async leave(): Promise<void> {
    this.left = true;
  }
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const assignment = (moduleId: string, cloud = false): Assignment => ({ mode: 'cloud-hybrid', cloud, moduleId, mediaUrl: `ws://${moduleId}/v1/media`, ticket: `ticket-${moduleId}`, expiresAt: 0 });

function setup(mode: JoinAnswer['mode'], answer: (body: { excludeModuleIds?: string[] }) => Response) {
  const asked: { url: string; body: { excludeModuleIds?: string[] } }[] = [];
  const fetch = (async (url: string, init: { body: string }) => {
    const body = JSON.parse(init.body) as { excludeModuleIds?: string[] };
    asked.push({ url, body });
    return answer(body);
  }) as unknown as typeof globalThis.fetch;
  const first = new FakeSession('ws://sfu-1/v1/media', 'ticket-sfu-1');
  const signal = new FakeSession('ws://cloud/v1/meetings/m-1/signal', 'token-1');
  const joined: JoinedMeeting<FakeSession, FakeSession> = {
    meeting: { meetingId: 'm-1', topic: 'T', mode, e2ee: false, defaultQuality: 'SD', zones: [] },
    accessToken: 'token-1',
    quality: 'SD',
    assignment: assignment('sfu-1'),
    media: first,
    signal,
    attachedTo: 'module',
    status: '',
    zoneOrder: ['hq'],
    zones: [{ zoneId: 'hq', zcpUrls: ['http://zcp-a'] }],
  };
  const opened: FakeSession[] = [];
  const signals: FakeSession[] = [];
  const setUps: FakeSession[] = [];
  const staying = new StayingMeeting(joined, {
    openMedia: async (url, ticket) => {
      const s = new FakeSession(url, ticket);
      opened.push(s);
      return s;
    },
    openSignal: async (url, token) => {
      const s = new FakeSession(url, token);
      signals.push(s);
      return s;
    },
    setUp: async (media) => {
      setUps.push(media);
    },
    fetch,
    maxMoveMs: 400,
  });
  const moves: MoveEvent[] = [];
  staying.on('moved', (move) => moves.push(move));
  return { staying, first, signal, asked, opened, signals, setUps, moves };
}

describe('StayingMeeting', () => {
  it('tells a failed server from an ended session', () => {
    expect([1001, 1006, 1011, 1012, 1013, 1014].every(isServerFailure)).toBe(true);
    expect([1000, 1008, 1009, 4000].some(isServerFailure)).toBe(false);
  });

  it('moves a cloud-hybrid participant to another module when its module drops, and tells the cloud meeting server', async () => {
    const t = setup('cloud-hybrid', () => json(assignment('sfu-2')));
    t.first.drop(1006);
    await t.staying.settled();
    expect(t.asked).toEqual([{ url: 'http://zcp-a/v1/assign', body: { meetingId: 'm-1', quality: 'SD', excludeModuleIds: ['sfu-1'] } }]);
    expect(t.opened.map((s) => [s.url, s.token])).toEqual([['ws://sfu-2/v1/media', 'ticket-sfu-2']]);
    expect(t.setUps).toEqual(t.opened);
    expect(t.staying.media).toBe(t.opened[0]);
    expect(t.signal.attached).toEqual([{ kind: 'module', moduleId: 'sfu-2' }]);
    expect(t.moves).toEqual([expect.objectContaining({ from: 'sfu-1', to: 'sfu-2', attachedTo: 'module', reason: 'dropped' })]);
    // The new session is watched too: it fails, and the next ask leaves out both.
    t.opened[0]?.drop(1001, 'going away');
    await t.staying.settled();
    expect(t.asked[1]?.body.excludeModuleIds).toEqual(['sfu-1', 'sfu-2']);
  });

  it('does not move after a leave, a removal or a protocol error: it says the participant is out', async () => {
    for (const code of [1000, 1008]) {
      const t = setup('cloud-hybrid', () => json(assignment('sfu-2')));
      const ended: Closed[] = [];
      t.staying.on('ended', (e) => ended.push(e));
      t.first.drop(code, 'a host removed you from the meeting');
      await t.staying.settled();
      expect(t.asked).toEqual([]);
      expect(ended).toEqual([{ code, reason: 'a host removed you from the meeting' }]);
      expect(t.signal.left).toBe(true);
    }
    const t = setup('cloud-hybrid', () => json(assignment('sfu-2')));
    await t.staying.leave();
    t.first.drop(1006);
    await t.staying.settled();
    expect(t.asked).toEqual([]);
    expect([t.first.left, t.signal.left]).toEqual([true, true]);
  });

  it("moves an internal-only meeting's signaling to the new module, with the new ticket", async () => {
    const t = setup('internal-only', () => json({ ...assignment('sfu-3'), mode: 'internal-only' }));
    t.first.drop(1006);
    await t.staying.settled();
    expect(t.signal.left).toBe(true);
    expect(t.signals.map((s) => [s.url, s.token])).toEqual([['ws://sfu-3/v1/meetings/m-1/signal', 'ticket-sfu-3']]);
    expect(t.signals[0]?.attached).toEqual([{ kind: 'module', moduleId: 'sfu-3' }]);
    // Its signaling alone drops (the module lost the top): opened again on the same module.
    t.signals[0]?.drop(1001);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(t.signals.map((s) => s.url)).toEqual(['ws://sfu-3/v1/meetings/m-1/signal', 'ws://sfu-3/v1/meetings/m-1/signal']);
  });

  it("does not move when its module was the top of an internal-only meeting set to collapse, and says why", async () => {
    const t = setup('internal-only', () => json(assignment('sfu-2')));
    t.signal.meeting = { top: 'sfu-1', onTopLoss: 'collapse' };
    const ended: Closed[] = [];
    t.staying.on('ended', (e) => ended.push(e));
    t.first.drop(1006);
    await t.staying.settled();
    expect(t.asked).toEqual([]);
    expect(ended).toEqual([{ code: 1006, reason: 'the meeting ended because the module holding it failed; it has to be started again' }]);

    // Set to recover (or another module was the top), it moves.
    const r = setup('internal-only', () => json(assignment('sfu-2')));
    r.signal.meeting = { top: 'sfu-1', onTopLoss: 'recover' };
    r.first.drop(1006);
    await r.staying.settled();
    expect(r.moves).toHaveLength(1);
  });

  it('says where media is when the zone sends it to the cloud, and gives up with the last refusal when nobody takes it', async () => {
    const cloud = setup('cloud-hybrid', () => json(assignment('cloud-mmr-1', true)));
    cloud.first.drop(1006);
    await cloud.staying.settled();
    expect([cloud.staying.attachedTo, cloud.staying.status]).toEqual(['cloud', 'Your media is attached to the cloud.']);
    expect(cloud.signal.attached).toEqual([{ kind: 'cloud' }]);

    const full = setup('internal-only', () => json({ error: { code: 'CAPACITY_EXCEEDED', message: 'zone hq has no room' } }, 503));
    const lost: unknown[] = [];
    full.staying.on('lost', (err) => lost.push(err));
    full.first.drop(1006);
    await full.staying.settled();
    expect(lost).toEqual([expect.objectContaining({ code: 'CAPACITY_EXCEEDED', message: 'zone hq has no room' })]);
    expect(full.asked.length).toBeGreaterThan(1);
  });
});
