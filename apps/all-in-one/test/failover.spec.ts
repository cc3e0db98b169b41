/**
 * Failover when a module dies (issue [6], docs/failover.md), every service
 * its own process on a real Redis: the control plane, two ZCPs of zone "hq",
 * four edge modules of 2 units each (two SD participants: so a meeting of
 * four spreads over two modules, and a zone fills up), and the cloud MMR.
 * Participants are SDK clients in this process: `joinMeeting` (sign-in,
 * join, zone probe, a ZCP, media, signaling) kept by a `StayingMeeting`.
 * Modules are killed with SIGKILL. Every participant sends stamped audio
 * every 20 ms; after each failure the test waits until every participant
 * hears every other again, and reports the media gap per pair (last packet
 * before the kill, first after) on stderr as JSON.
 *
 * 1. Internal-only, a module that is not the top dies: its participants move
 *    to a module with room, which links east-west to the top; the meeting's
 *    roster (held by the top) has everyone again.
 * 2. Cloud-hybrid, the module dies: its participants move to another module
 *    of the zone; the cloud meeting server's roster says where.
 * 3. Cloud-hybrid, the module dies and the zone has no room left: the cloud
 *    MMR takes them, as the last resort.
 * 4. Internal-only, the top dies (onTopLoss: recover): the surviving module
 *    with the most participants becomes top, the others link to it, the dead
 *    top's participants join again, and the new top's room gives a fresh
 *    media key.
 * 5. Internal-only, the top dies (onTopLoss: collapse): every participant is
 *    told that the meeting ended because its top failed, and nothing of it is
 *    left in the cluster state.
 * 6. A ZCP dies: media goes on, the modules stay registered through the
 *    zone's other ZCP, and when a module dies next its participants move
 *    through that one.
 * 7. Redis dies and comes back empty: the ZCPs find the modules unknown and
 *    end their streams, each module registers again with what it holds
 *    (reservations, meetings), the top claims its meeting again, and media
 *    never stopped. Last, as it empties the control plane's directory too.
 */
import { joinMeeting, MediaClient, MeetingSignalClient, StayingMeeting, type MoveEvent } from '@meetedge/client';
import { MeetingId, ModuleId } from '@meetedge/core';
import { waitFor } from '@meetedge/test-kit';
import { MediaStreamTrack, RtpHeader, RtpPacket } from 'werift';
import { startDeployment, type Deployment } from './support/deployment';
import { findOrphans } from './support/orphans';
import { kill } from './support/processes';

jest.setTimeout(240_000);

const MODULES = ['sfu-1', 'sfu-2', 'sfu-3', 'sfu-4'];
const PASSWORD = 'correct horse battery';
let d: Deployment;

interface Participant {
  readonly name: string;
  readonly staying: StayingMeeting<MediaClient, MeetingSignalClient>;
  /** Arrival times (ms) of each other participant's packets, by sender name. */
  readonly heard: Map<string, number[]>;
  readonly moves: MoveEvent[];
  stop(): void;
}
const participants: Participant[] = [];

beforeAll(async () => {
  // Four audio slots: with five participants everyone hears all four others (the default forwards the three loudest).
  d = await startDeployment({ modules: MODULES, capacityUnits: 2, moduleEnv: { MEETEDGE_AUDIO_SLOTS: '4' } });
});

afterAll(async () => {
  for (const p of participants) p.stop();
  await Promise.all(participants.map((p) => p.staying.leave()));
  await d?.close();
});

async function addUser(name: string): Promise<string> {
  const email = `${name}@acme.example`;
  await d.api('POST', '/v1/users', { email, displayName: name, password: PASSWORD });
  return email;
}

const opus = (seq: number, payload: Buffer) => new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: seq & 0xffff, timestamp: seq * 960, ssrc: 7 }), payload);

/** Joins with the SDK and keeps the participant in the meeting; it sends `name:seq` every 20 ms and records what it hears. */
async function participant(name: string, meetingId: string): Promise<Participant> {
  const email = await addUser(name);
  const mic = new MediaStreamTrack({ kind: 'audio' });
  const heard = new Map<string, number[]>();
  const listening = new WeakSet<object>();
  let media: MediaClient | undefined;
  const setUp = async (m: MediaClient) => {
    media = m;
    await m.publish([{ source: 'microphone', track: mic }]);
    await m.receive();
  };
  const open = {
    openMedia: (url: string, ticket: string) => MediaClient.join({ url, ticket }),
    openSignal: (url: string, token: string) => MeetingSignalClient.connect({ url, token }),
  };
  const joined = await joinMeeting({ controlPlaneUrl: d.dashboardUrl, email, password: PASSWORD, meetingId, probeSamples: 1, ...open });
  await setUp(joined.media);
  const staying = new StayingMeeting(joined, { ...open, setUp });
  const moves: MoveEvent[] = [];
  staying.on('moved', (move) => moves.push(move));
  let seq = 0;
  const timer = setInterval(() => {
    // Listen on every receive slot of the current session (slots come with renegotiations).
    for (const slot of media?.remote.values() ?? []) {
      if (listening.has(slot)) continue;
      listening.add(slot);
      slot.onRtp((packet) => {
        const from = packet.payload.toString('utf8').split(':')[0] ?? '';
        const list = heard.get(from) ?? [];
        list.push(Date.now());
        heard.set(from, list);
      });
    }
    mic.writeRtp(opus(seq, Buffer.from(`${name}:${seq++}:${'x'.repeat(60)}`)));
  }, 20);
  const p = { name, staying, heard, moves, stop: () => clearInterval(timer) };
  participants.push(p);
  return p;
}

/** Waits until each of `group` hears each other member after `sinceMs`. */
async function everyoneHearsEveryone(group: readonly Participant[], sinceMs: number, what: string): Promise<void> {
  await waitFor(
    () =>
      group.every((listener) =>
        group.every((speaker) => speaker === listener || (listener.heard.get(speaker.name) ?? []).some((t) => t > sinceMs)),
      ),
    {
      timeoutMs: 30_000,
      intervalMs: 100,
      description: `${what}: ${group
        .flatMap((l) => group.filter((s) => s !== l && !(l.heard.get(s.name) ?? []).some((t) => t > sinceMs)).map((s) => `${l.name}<-${s.name}`))
        .join(' ')}`,
    },
  );
}

/** Per pair: last packet before the kill to first after it, ms. */
function gaps(group: readonly Participant[], killedAt: number): { pair: string; gapMs: number }[] {
  return group.flatMap((listener) =>
    group
      .filter((speaker) => speaker !== listener)
      .map((speaker) => {
        const times = listener.heard.get(speaker.name) ?? [];
        const before = times.filter((t) => t <= killedAt).at(-1) ?? killedAt;
        const after = times.find((t) => t > killedAt) ?? Number.NaN;
        return { pair: `${speaker.name}->${listener.name}`, gapMs: after - before };
      }),
  );
}

/** Prints the gaps as one JSON line on stderr: all pairs, and the pairs a moved participant is in. */
function report(name: string, measured: { pair: string; gapMs: number }[], moved: readonly Participant[]): void {
  const summary = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
    return { pairs: sorted.length, p50: pct(0.5), p95: pct(0.95), max: sorted.at(-1) ?? Number.NaN };
  };
  const names = moved.map((p) => p.name);
  const affected = measured.filter((g) => g.pair.split('->').some((n) => names.includes(n)));
  const line = {
    failover: name,
    gapMs: { all: summary(measured.map((g) => g.gapMs)), affected: summary(affected.map((g) => g.gapMs)) },
    moveMs: moved.flatMap((p) => p.moves.map((m) => m.tookMs)),
    measured,
  };
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

async function meeting(mode: 'internal-only' | 'cloud-hybrid', topic: string, extra: { e2ee?: boolean; onTopLoss?: 'recover' | 'collapse' } = {}): Promise<string> {
  return (await d.api<{ id: string }>('POST', '/v1/meetings', { topic, mode, ...extra })).id;
}

/** Everyone so far leaves, and every killed module is started again: the next case starts on an empty zone. */
async function freshZone(): Promise<void> {
  for (const p of participants.splice(0)) {
    p.stop();
    await p.staying.leave();
  }
  for (const [id, r] of d.modules) if (r.child.exitCode !== null || r.child.signalCode !== null) await d.startModule(id);
  await waitFor(async () => (await Promise.all(MODULES.map((id) => d.state.getModule(ModuleId(id))))).every((m) => m !== undefined && m.reservedUnits === 0), {
    timeoutMs: 20_000,
    description: 'four empty modules',
  });
}

const moduleOf = (p: Participant) => p.staying.assignment.moduleId;

/** Once the ZCPs have swept what died, every key of the cluster state points at something alive (test/support/orphans.ts). */
async function noOrphans(dead: readonly string[]): Promise<void> {
  await waitFor(async () => (await Promise.all(dead.map((id) => d.state.getModule(ModuleId(id))))).every((m) => m === undefined), {
    timeoutMs: 10_000,
    description: `${dead.join(', ')} swept`,
  });
  let found: string[] = [];
  await waitFor(async () => (found = await findOrphans(d.redis.url)).length === 0, { timeoutMs: 10_000, description: 'no orphan' }).catch(() => undefined);
  expect(found).toEqual([]);
}

/** SIGKILL: the module gets no chance to say goodbye. Returns when it is dead. */
async function killModule(id: string): Promise<number> {
  const victim = d.modules.get(id);
  if (!victim) throw new Error(`no module ${id}`);
  await kill(victim);
  return Date.now();
}

it('internal-only: when a module that is not the top dies, its participants move to one with room, which links to the top', async () => {
  const m = await meeting('internal-only', 'Board');
  const [a, b, c, e] = [await participant('alice', m), await participant('bob', m), await participant('carol', m), await participant('erin', m)];
  const group = [a, b, c, e];
  // Two units a module: the first two on the top, the next two on a second module.
  const top = await d.state.getTop(MeetingId(m));
  expect([moduleOf(a), moduleOf(b)]).toEqual([top, top]);
  const second = moduleOf(c);
  expect(moduleOf(e)).toBe(second);
  expect(second).not.toBe(top);
  await everyoneHearsEveryone(group, 0, 'before the failure');
  await waitFor(() => a.staying.signal?.roster.size === 4, { description: 'one roster of four on the top' });

  const killedAt = await killModule(second);
  await everyoneHearsEveryone(group, killedAt, 'after the failure');
  // Carol and Erin are on a third module now, linked to the same top; the roster is whole again.
  expect(c.moves).toEqual([expect.objectContaining({ from: second, attachedTo: 'module' })]);
  expect(moduleOf(c)).toBe(moduleOf(e));
  expect([top, second]).not.toContain(moduleOf(c));
  expect(await d.state.getTop(MeetingId(m))).toBe(top);
  await waitFor(() => c.staying.signal?.roster.size === 4 && a.staying.signal?.roster.size === 4, { description: 'the roster whole again' });
  expect(a.moves).toEqual([]);
  report('internal-only, a non-top module died', gaps(group, killedAt), [c, e]);
  // The dead module is swept with what it held (3 s TTL), and nothing points at it.
  await noOrphans([second]);
  await d.startModule(second);
});

it('cloud-hybrid: when the module dies, its participants move to another module; when none has room, to the cloud MMR', async () => {
  const m = await meeting('cloud-hybrid', 'All hands');
  const [f, g] = [await participant('frank', m), await participant('gina', m)];
  const group = [f, g];
  const first = moduleOf(f);
  expect(moduleOf(g)).toBe(first);
  await everyoneHearsEveryone(group, 0, 'before the failure');
  await waitFor(() => f.staying.signal?.roster.size === 2, { description: 'both in the cloud roster' });

  // The module dies; the zone has one module with room left: both go there.
  const killedAt = await killModule(first);
  await everyoneHearsEveryone(group, killedAt, 'after the first failure');
  const next = moduleOf(f);
  expect([next, moduleOf(g)]).toEqual([next, next]);
  expect(next).not.toBe(first);
  expect(f.moves).toEqual([expect.objectContaining({ from: first, to: next, attachedTo: 'module' })]);
  // The cloud meeting server's roster follows.
  const where = (p: Participant, who: string) => p.staying.signal?.roster.get(who)?.media;
  await waitFor(() => where(g, f.staying.media.participantId) !== undefined && JSON.stringify(where(g, f.staying.media.participantId)) === JSON.stringify({ kind: 'module', moduleId: next }), {
    description: 'roster shows the new module',
  });
  report('cloud-hybrid, the module died', gaps(group, killedAt), group);

  // That one dies too, and every module left is full: the cloud MMR takes them.
  const again = await killModule(next);
  await everyoneHearsEveryone(group, again, 'after the second failure');
  expect([f.staying.attachedTo, g.staying.attachedTo]).toEqual(['cloud', 'cloud']);
  expect(f.staying.status).toBe('Your media is attached to the cloud.');
  expect(moduleOf(f)).toBe('cloud-mmr-1');
  await waitFor(() => JSON.stringify(where(f, g.staying.media.participantId)) === JSON.stringify({ kind: 'cloud' }), { description: 'roster shows the cloud' });
  report('cloud-hybrid, the module died, the zone full', gaps(group, again), group);
  await noOrphans([first, next]);
});

it('internal-only, the top dies: the survivor with the most participants takes over, the others link to it, with a fresh media key', async () => {
  await freshZone();
  const m = await meeting('internal-only', 'Recover', { e2ee: true });
  const group: Participant[] = [];
  for (const name of ['hana', 'ivan', 'jane', 'kofi', 'lena']) group.push(await participant(name, m));
  const [h, i, j, k, l] = group as [Participant, Participant, Participant, Participant, Participant];
  const top = await d.state.getTop(MeetingId(m));
  // Two a module: hana and ivan on the top, jane and kofi on a second module, lena on a third.
  expect([moduleOf(h), moduleOf(i)]).toEqual([top, top]);
  expect(moduleOf(k)).toBe(moduleOf(j));
  expect(new Set([top, moduleOf(j), moduleOf(l)]).size).toBe(3);
  await everyoneHearsEveryone(group, 0, 'before the failure');
  await waitFor(() => group.every((p) => p.staying.signal?.roster.size === 5), { description: 'one roster of five' });
  const keyBefore = h.staying.signal?.mediaKey?.key;
  expect(keyBefore).toHaveLength(44);

  const killedAt = await killModule(top ?? '');
  await everyoneHearsEveryone(group, killedAt, 'after the top died');
  // Exactly one new top, a survivor: the one with the most participants of the meeting (the lowest id among equals).
  const newTop = await d.state.getTop(MeetingId(m));
  expect(newTop).toBeDefined();
  expect(newTop).not.toBe(top);
  const load = await d.state.meetingLoad(MeetingId(m));
  const most = Math.max(...load.map((e) => e.participants));
  expect(newTop).toBe(load.filter((e) => e.participants === most).map((e) => e.moduleId).sort()[0]);
  // Hana and Ivan moved; the roster (now on the new top) has all five, with a key the dead top never had.
  expect([h.moves.length, i.moves.length, j.moves.length]).toEqual([1, 1, 0]);
  await waitFor(() => group.every((p) => p.staying.signal?.roster.size === 5 && p.staying.signal.meeting?.top === newTop), { timeoutMs: 20_000, description: 'the roster whole again, on the new top' });
  const keys = new Set(group.map((p) => p.staying.signal?.mediaKey?.key));
  expect(keys.size).toBe(1);
  expect(keys.has(keyBefore)).toBe(false);
  report('internal-only, the top died (recover)', gaps(group, killedAt), group);
  await noOrphans([top ?? '']);
});

it('internal-only, the top dies (onTopLoss: collapse): everyone is told the meeting ended, and nothing of it is left', async () => {
  await freshZone();
  const m = await meeting('internal-only', 'Collapse', { onTopLoss: 'collapse' });
  const group: Participant[] = [];
  for (const name of ['mia', 'noah', 'olga']) group.push(await participant(name, m));
  const [mia, noah, olga] = group as [Participant, Participant, Participant];
  const top = await d.state.getTop(MeetingId(m));
  expect([moduleOf(mia), moduleOf(noah)]).toEqual([top, top]);
  expect(moduleOf(olga)).not.toBe(top);
  await everyoneHearsEveryone(group, 0, 'before the failure');
  await waitFor(() => olga.staying.signal?.meeting?.onTopLoss === 'collapse', { description: 'the policy known to the clients' });
  const ended = new Map<string, { reason: string; at: number }>();
  for (const p of group) p.staying.on('ended', ({ reason }) => ended.set(p.name, { reason, at: Date.now() }));

  const killedAt = await killModule(top ?? '');
  await waitFor(() => ended.size === 3, { timeoutMs: 20_000, description: `everyone told (${[...ended.keys()].join(', ')})` });
  for (const p of group) expect(ended.get(p.name)?.reason).toBe('the meeting ended because the module holding it failed; it has to be started again');
  expect(group.flatMap((p) => p.moves)).toEqual([]);
  // Nothing of the meeting is left: no top, no module carrying it, no participant anywhere.
  await waitFor(async () => (await d.state.getTop(MeetingId(m))) === undefined && (await d.state.meetingModules(MeetingId(m))).length === 0, {
    timeoutMs: 10_000,
    description: 'meeting state removed',
  });
  await noOrphans([top ?? '']);
  process.stderr.write(`${JSON.stringify({ failover: 'internal-only, the top died (collapse)', toldAfterMs: Object.fromEntries([...ended].map(([n, e]) => [n, e.at - killedAt])) })}\n`);
});

it('a ZCP dies: media goes on, the modules stay registered through the other, and participants of a module that dies next move through it', async () => {
  await freshZone();
  const m = await meeting('cloud-hybrid', 'One ZCP down');
  const [sam, tara] = [await participant('sam', m), await participant('tara', m)];
  const group = [sam, tara];
  await everyoneHearsEveryone(group, 0, 'before the ZCP died');
  const zcp = d.zcps.get('zcp-1');
  if (!zcp) throw new Error('no zcp-1');
  await kill(zcp.run);
  const zcpDiedAt = Date.now();
  // The ZCP is not on the media path: nothing stops.
  await everyoneHearsEveryone(group, zcpDiedAt, 'after the ZCP died');
  expect(Math.max(...gaps(group, zcpDiedAt).map((g) => g.gapMs))).toBeLessThan(1000);
  // Past a whole TTL later every module is still live: the other ZCP records their heartbeats.
  await waitFor(async () => (await Promise.all(MODULES.map((id) => d.state.getModule(ModuleId(id))))).every((s) => s !== undefined && s.expiresAt > zcpDiedAt + 4000), {
    timeoutMs: 15_000,
    description: 'every module heartbeating through zcp-2',
  });

  // Now their module dies: the SDK finds zcp-1 dead and asks zcp-2 for another module.
  const victim = moduleOf(sam);
  const killedAt = await killModule(victim);
  await everyoneHearsEveryone(group, killedAt, 'after the module died');
  expect(sam.moves).toEqual([expect.objectContaining({ from: victim, attachedTo: 'module' })]);
  expect(moduleOf(sam)).not.toBe(victim);
  report('a ZCP died, then the module', gaps(group, killedAt), group);
  await noOrphans([victim]);
});

// Last: the control plane's directory shares this Redis and is lost with it (docs/failover.md), so no case can create a meeting after this one.
it('Redis restarts with nothing in it: every module registers again with what it holds, the top holds its meeting again, and the meeting goes on', async () => {
  await freshZone();
  const m = await meeting('internal-only', 'Amnesia');
  const group: Participant[] = [];
  for (const name of ['pia', 'quinn', 'rosa']) group.push(await participant(name, m));
  const [pia, quinn, rosa] = group as [Participant, Participant, Participant];
  const top = await d.state.getTop(MeetingId(m));
  expect([moduleOf(pia), moduleOf(quinn)]).toEqual([top, top]);
  expect(moduleOf(rosa)).not.toBe(top);
  await everyoneHearsEveryone(group, 0, 'before Redis died');
  // What the cluster state knows before: units held per module, the meeting's load per module.
  const held = async () => JSON.stringify(await Promise.all(MODULES.map(async (id) => [id, (await d.state.getModule(ModuleId(id)))?.reservedUnits ?? 'gone'])));
  const loadOf = async () => JSON.stringify((await d.state.meetingLoad(MeetingId(m))).sort((a, b) => a.moduleId.localeCompare(b.moduleId)));
  const heldBefore = await held();
  const loadBefore = await loadOf();
  expect(heldBefore).toContain(`["${top}",2]`);

  const lostAt = await d.restartRedis();
  // Every ZCP finds the modules unknown at their next heartbeat and ends their streams; each module registers again with what it holds.
  await waitFor(async () => (await held()) === heldBefore, { timeoutMs: 20_000, intervalMs: 50, description: 'every module registered again with its reservations' });
  const reregisteredMs = Date.now() - lostAt;
  await waitFor(async () => (await d.state.getTop(MeetingId(m))) === top, { timeoutMs: 10_000, intervalMs: 50, description: 'the top holds its meeting again' });
  const topAgainMs = Date.now() - lostAt;
  expect(await loadOf()).toBe(loadBefore);
  // Media never depended on Redis: it kept flowing, nobody moved.
  await everyoneHearsEveryone(group, Date.now(), 'after Redis came back');
  expect(group.flatMap((p) => p.moves)).toEqual([]);
  const measured = gaps(group, lostAt);
  expect(Math.max(...measured.map((g) => g.gapMs))).toBeLessThan(1000);
  process.stderr.write(`${JSON.stringify({ failover: 'Redis restarted (state lost)', reregisteredMs, topAgainMs, maxGapMs: Math.max(...measured.map((g) => g.gapMs)) })}\n`);
  await noOrphans([]);
});
