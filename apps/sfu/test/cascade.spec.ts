/**
 * A cascade link between two real modules in one process (werift ↔ werift,
 * DTLS-SRTP over loopback, control over gRPC): participants on either module
 * see and hear the others as if they were local, payloads byte for byte, and
 * closing the link takes the remote participants away again. For an
 * internal-only meeting the first module claims top in the (shared) cluster
 * state and the second links east-west to it by itself. Every server counts
 * the bytes on its client links and on its links apart, north-south (to the
 * cloud MMR) as external.
 */
import { randomBytes } from 'node:crypto';
import { MediaClient } from '@meetedge/client';
import { MeetingId, ModuleId, NodeId, ParticipantId, ReservationId, ZoneId, generateTicketKeys, signTicket, type MeetingMode } from '@meetedge/core';
import { createLogger } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { waitFor } from '@meetedge/test-kit';
import { MediaStreamTrack, RtpHeader, RtpPacket } from 'werift';
import { buildApp, type SfuService } from '../src/app';
import { loadSfuConfig } from '../src/config';

jest.setTimeout(60_000);

const keys = generateTicketKeys();
const MEETING = 'm-cascade';
const modules = new Map<string, { app: SfuService; url: string }>();
/** One cluster state for both modules, as Redis would be. */
const state = new MemoryClusterState();
const clients: MediaClient[] = [];

async function startModule(id: string, env: Record<string, string> = {}): Promise<void> {
  const app = buildApp(
    loadSfuConfig({
      MEETEDGE_MODULE_ID: id,
      MEETEDGE_ZONE_ID: 'hq',
      MEETEDGE_NODE_ID: `node-${id}`,
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_STATE: 'memory',
      MEETEDGE_MEDIA_PORT: '0',
      MEETEDGE_CASCADE_PORT: '0',
      MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
      MEETEDGE_TICKET_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      ...env,
    }),
    { logger: createLogger({ level: process.env.CASCADE_LOG === 'debug' ? 'debug' : 'silent' }), state },
  );
  modules.set(id, { app, url: await app.start() });
}

const mod = (id: string) => {
  const m = modules.get(id);
  if (!m) throw new Error(`no module ${id}`);
  return m;
};

async function join(moduleId: string, participant: string, meetingId = MEETING, mode: MeetingMode = 'internal-only'): Promise<MediaClient> {
  const now = Date.now();
  const ticket = signTicket(
    {
      ticketId: ReservationId(`r-${participant}`),
      meetingId: MeetingId(meetingId),
      participantId: ParticipantId(participant),
      moduleId: ModuleId(moduleId),
      quality: 'HD',
      mode,
      displayName: `Dr ${participant}`,
      issuedAt: now,
      expiresAt: now + 60_000,
    },
    keys.privateKey,
  );
  const client = await MediaClient.join({ url: `${mod(moduleId).url}/v1/media`, ticket });
  clients.push(client);
  return client;
}

const vp8 = (seq: number, key: boolean, body: Buffer) =>
  new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp: seq * 3000, ssrc: 1, marker: true }), Buffer.concat([Buffer.from([0x10, key ? 0x00 : 0x01, 0x00, 0x9d]), body]));
const opus = (seq: number, body: Buffer) => new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: seq * 960, ssrc: 2 }), body);

/** Payloads a client receives for one published track, once a slot of its carries it. */
async function collectTrack(client: MediaClient, trackId: string): Promise<Buffer[]> {
  const got: Buffer[] = [];
  const remote = await waitFor(() => [...client.remote.values()].find((r) => r.trackId === trackId), { timeoutMs: 15_000, description: `a slot for ${trackId}` });
  remote.onRtp((packet) => {
    if (remote.trackId === trackId) got.push(Buffer.from(packet.payload));
  });
  return got;
}

/** The value of a Prometheus sample in `/metrics` text, whose labels include `label` if given. */
function metricValue(text: string, name: string, label = ''): number | undefined {
  for (const match of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    if (label === '' || (match[1] ?? '').split(',').includes(label)) return Number(match[2]);
  }
  return undefined;
}

/** Every payload received is one that was sent, byte for byte, in order. */
function expectIntact(received: Buffer[], sent: Buffer[]): void {
  const sentHex = sent.map((b) => b.toString('hex'));
  const indexes = received.map((b) => sentHex.indexOf(b.toString('hex')));
  expect(indexes.every((i) => i >= 0)).toBe(true);
  expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
}

beforeAll(async () => {
  await startModule('sfu-a');
  await startModule('sfu-b');
});

afterAll(async () => {
  for (const c of clients) await c.leave().catch(() => undefined);
  for (const m of modules.values()) await m.app.close();
  await state.close();
});

it('participants on two modules linked by a cascade see and hear each other, payloads intact; closing the link takes the remote ones away', async () => {
  const alice = await join('sfu-a', 'alice');
  const mic = new MediaStreamTrack({ kind: 'audio' });
  const camera = new MediaStreamTrack({ kind: 'video' });
  const ids = await alice.publish([
    { source: 'microphone', track: mic },
    { source: 'camera', track: camera },
  ]);

  // sfu-a links the meeting to sfu-b (the meeting's top).
  const b = mod('sfu-b');
  b.app.media.meeting(MeetingId(MEETING), 'internal-only');
  const link = await mod('sfu-a').app.cascade.ensureLink(MeetingId(MEETING), { serverId: 'sfu-b', address: `127.0.0.1:${b.app.cascade.boundPort}` });
  expect(link).toMatchObject({ role: 'opener', peerServerId: 'sfu-b' });

  // Alice's tracks are published on sfu-b under her own id and track ids, as if she were there.
  const onB = () => b.app.media.existingMeeting(MeetingId(MEETING));
  await waitFor(() => onB()?.publishedTracks().length === 2, { timeoutMs: 15_000, description: "alice's tracks on sfu-b" });
  expect(onB()?.publishedTracks().map((t) => [t.trackId, t.participantId]).sort()).toEqual([...ids.values()].map((id) => [id, 'alice']).sort());

  const bob = await join('sfu-b', 'bob');
  const bobMic = new MediaStreamTrack({ kind: 'audio' });
  const bobIds = await bob.publish([{ source: 'microphone', track: bobMic }]);
  await Promise.all([alice.receive(), bob.receive()]);
  await Promise.all([alice.connected(), bob.connected()]);
  const bobGotCamera = await collectTrack(bob, ids.get('camera') as string);
  const bobGotMic = await collectTrack(bob, ids.get('microphone') as string);
  // Bob's microphone crosses the other way: sfu-b asks sfu-a for a section, sfu-a offers again.
  const aliceGotBob = await collectTrack(alice, bobIds.get('microphone') as string);

  const sent = { camera: [] as Buffer[], mic: [] as Buffer[], bob: [] as Buffer[] };
  // A keyframe every 10 frames, as an encoder answering keyframe requests would send: on a busy machine
  // the first one can reach sfu-a before the link's section for the camera is bound, and this publisher
  // does not answer PLIs.
  const key = (i: number) => i % 10 === 0;
  for (let i = 0; i < 60; i++) {
    const c = randomBytes(800);
    const a = randomBytes(100);
    const m = randomBytes(90);
    sent.camera.push(Buffer.concat([Buffer.from([0x10, key(i) ? 0x00 : 0x01, 0x00, 0x9d]), c]));
    sent.mic.push(a);
    sent.bob.push(m);
    camera.writeRtp(vp8(100 + i, key(i), c));
    mic.writeRtp(opus(900 + i, a));
    bobMic.writeRtp(opus(300 + i, m));
    await new Promise((r) => setTimeout(r, 10));
  }
  await waitFor(() => bobGotCamera.length >= 40 && bobGotMic.length >= 40 && aliceGotBob.length >= 40, {
    timeoutMs: 15_000,
    description: `media across the link (bob: camera ${bobGotCamera.length}, mic ${bobGotMic.length}; alice: ${aliceGotBob.length})`,
  });
  expectIntact(bobGotCamera, sent.camera);
  expectIntact(bobGotMic, sent.mic);
  expectIntact(aliceGotBob, sent.bob);

  // The link carries each stream once: two out of sfu-a, one out of sfu-b.
  const stats = (id: string) => mod(id).app.cascade.linkStats()[0];
  expect([stats('sfu-a')?.streamsOut, stats('sfu-a')?.streamsIn]).toEqual([2, 1]);
  expect([stats('sfu-b')?.streamsOut, stats('sfu-b')?.streamsIn]).toEqual([1, 2]);

  // Closing the link: alice is gone from sfu-b's meeting and bob from sfu-a's.
  expect(mod('sfu-a').app.cascade.closeLinks(MeetingId(MEETING), 'test')).toBe(1);
  await waitFor(() => onB()?.remote.size === 0 && mod('sfu-a').app.media.existingMeeting(MeetingId(MEETING))?.remote.size === 0, {
    timeoutMs: 10_000,
    description: 'remote participants gone on both sides',
  });
  expect(onB()?.publishedTracks().map((t) => t.participantId)).toEqual(['bob']);
});

it('an internal-only meeting: the first module claims top, the second links east-west to it by itself, and both sides hear each other', async () => {
  const meetingId = MeetingId('m-east-west');
  // Both modules are live in the cluster state with their cascade addresses (as the ZCPs record them).
  for (const id of ['sfu-a', 'sfu-b']) {
    await state.registerModule(
      {
        id: ModuleId(id),
        zoneId: ZoneId('hq'),
        nodeId: NodeId(`node-${id}`),
        role: 'edge',
        mediaUrl: `${mod(id).url.replace('http:', 'ws:')}/v1/media`,
        capacityUnits: 400,
        version: '0.1.0',
        cascadeAddress: `127.0.0.1:${mod(id).app.cascade.boundPort}`,
      },
      600_000,
    );
  }
  const carol = await join('sfu-a', 'carol', meetingId);
  await waitFor(async () => (await state.getTop(meetingId)) === 'sfu-a', { description: 'sfu-a is top' });
  const carolMic = new MediaStreamTrack({ kind: 'audio' });
  const carolIds = await carol.publish([{ source: 'microphone', track: carolMic }]);

  const dave = await join('sfu-b', 'dave', meetingId);
  // sfu-b lost the claim and opened one link, to sfu-a.
  await waitFor(() => mod('sfu-b').app.cascade.linkStats().some((l) => l.meetingId === meetingId && l.role === 'opener'), { timeoutMs: 15_000, description: 'east-west link' });
  expect(mod('sfu-b').app.cascade.linkStats().filter((l) => l.meetingId === meetingId)).toEqual([expect.objectContaining({ peerServerId: 'sfu-a', role: 'opener' })]);
  expect(await state.getTop(meetingId)).toBe('sfu-a');
  const daveMic = new MediaStreamTrack({ kind: 'audio' });
  const daveIds = await dave.publish([{ source: 'microphone', track: daveMic }]);
  await Promise.all([carol.receive(), dave.receive()]);
  await Promise.all([carol.connected(), dave.connected()]);
  const daveGot = await collectTrack(dave, carolIds.get('microphone') as string);
  const carolGot = await collectTrack(carol, daveIds.get('microphone') as string);
  const sent = { carol: [] as Buffer[], dave: [] as Buffer[] };
  for (let i = 0; i < 50; i++) {
    const c = randomBytes(80);
    const d = randomBytes(70);
    sent.carol.push(c);
    sent.dave.push(d);
    carolMic.writeRtp(opus(100 + i, c));
    daveMic.writeRtp(opus(500 + i, d));
    await new Promise((r) => setTimeout(r, 10));
  }
  await waitFor(() => daveGot.length >= 30 && carolGot.length >= 30, { timeoutMs: 15_000, description: `audio both ways (${daveGot.length}, ${carolGot.length})` });
  expectIntact(daveGot, sent.carol);
  expectIntact(carolGot, sent.dave);
  // Each sees the other in its roster, as a participant of the meeting.
  expect(mod('sfu-a').app.media.existingMeeting(meetingId)?.roster().map((p) => p.participantId).sort()).toEqual(['carol', 'dave']);
  expect(mod('sfu-b').app.media.existingMeeting(meetingId)?.roster().map((p) => p.participantId).sort()).toEqual(['carol', 'dave']);

  // The link is east-west: its bytes are counted (dave's 70-byte payloads out of sfu-b, carol's 80-byte ones in), none leaves.
  const daveReceived = daveGot.length;
  const ew = mod('sfu-b').app.cascade.linkStats().find((l) => l.meetingId === meetingId);
  expect(ew).toMatchObject({ scope: 'east-west', streamsIn: 1, streamsOut: 1 });
  expect(ew?.packetsIn).toBeGreaterThanOrEqual(daveReceived);
  expect([ew?.bytesIn, ew?.bytesOut]).toEqual([(ew?.packetsIn ?? 0) * (12 + 80), (ew?.packetsOut ?? 0) * (12 + 70)]);
  expect(mod('sfu-a').app.cascade.linkStats().find((l) => l.meetingId === meetingId)?.scope).toBe('east-west');
  const onB = mod('sfu-b').app.media.meetingStats().find((m) => m.meetingId === meetingId);
  expect(onB).toMatchObject({ externalStreams: 0, externalBytes: 0, wouldHaveLeftBytes: 0, savedBytes: 0 });
  expect(onB?.cascade['east-west']).toMatchObject({ links: 1, streams: 2 });
});

it('bandwidth accounting: a module and the cloud MMR count client-link and link bytes apart, the link as external, the saving, and keep the totals when the link closes', async () => {
  await startModule('mmr', { MEETEDGE_ROLE: 'cloud' });
  const meetingId = MeetingId('m-bytes');
  // On sfu-a: frank speaks, erin only listens. On the cloud MMR (from outside the network): grace speaks.
  const frank = await join('sfu-a', 'frank', meetingId, 'cloud-hybrid');
  const erin = await join('sfu-a', 'erin', meetingId, 'cloud-hybrid');
  const grace = await join('mmr', 'grace', meetingId, 'cloud-hybrid');
  const frankMic = new MediaStreamTrack({ kind: 'audio' });
  const graceMic = new MediaStreamTrack({ kind: 'audio' });
  const frankTrack = (await frank.publish([{ source: 'microphone', track: frankMic }])).get('microphone') as string;
  const graceTrack = (await grace.publish([{ source: 'microphone', track: graceMic }])).get('microphone') as string;
  const mmr = mod('mmr').app;
  const a = mod('sfu-a').app;
  const opened = await a.cascade.ensureLink(meetingId, { serverId: 'mmr', address: `127.0.0.1:${mmr.cascade.boundPort}` });
  expect(opened).toMatchObject({ scope: 'north-south', role: 'opener' });
  const tracksOn = (app: SfuService) => app.media.existingMeeting(meetingId)?.publishedTracks().length;
  await waitFor(() => tracksOn(a) === 2 && tracksOn(mmr) === 2, { timeoutMs: 15_000, description: 'both microphones on both servers' });
  await Promise.all([frank.receive(), erin.receive(), grace.receive()]);
  await Promise.all([frank.connected(), erin.connected(), grace.connected()]);
  const got = {
    erinFrank: await collectTrack(erin, frankTrack),
    erinGrace: await collectTrack(erin, graceTrack),
    frankGrace: await collectTrack(frank, graceTrack),
    graceFrank: await collectTrack(grace, frankTrack),
  };

  // RTP sizes as counted: 12-byte header + payload (audio is never retransmitted, so every packet counts once).
  const N = 50;
  const FRANK = 12 + 200;
  const GRACE = 12 + 120;
  for (let i = 0; i < N; i++) {
    frankMic.writeRtp(opus(1000 + i, randomBytes(200)));
    graceMic.writeRtp(opus(2000 + i, randomBytes(120)));
    await new Promise((r) => setTimeout(r, 10));
  }
  await waitFor(() => Object.values(got).every((g) => g.length >= 40), {
    timeoutMs: 15_000,
    description: `audio everywhere (${Object.values(got).map((g) => g.length).join(', ')})`,
  });

  // One synchronous snapshot of every server and client in this process: what one has counted, the next one on the path has not passed.
  const received = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.length])) as Record<keyof typeof got, number>;
  const aLink = a.cascade.linkStats().find((l) => l.meetingId === meetingId);
  const mmrLink = mmr.cascade.linkStats().find((l) => l.meetingId === meetingId);
  const aMeeting = a.media.meetingStats().find((m) => m.meetingId === meetingId);
  const mmrMeeting = mmr.media.meetingStats().find((m) => m.meetingId === meetingId);
  const aModule = a.media.stats();
  if (!aLink || !mmrLink || !aMeeting || !mmrMeeting) throw new Error('link or meeting missing');

  // sfu-a's client links: frank's packets in; out, frank's to erin and grace's to both.
  const aClient = aMeeting.client;
  expect(aClient.bytesIn).toBe(aClient.packetsIn * FRANK);
  expect(aClient.packetsIn).toBeLessThanOrEqual(N);
  expect(aClient.packetsIn).toBeGreaterThanOrEqual(Math.max(received.erinFrank, aLink.packetsOut));
  expect(aClient.bytesOut).toBeGreaterThanOrEqual(received.erinFrank * FRANK + (received.erinGrace + received.frankGrace) * GRACE);
  expect(aClient.bytesOut).toBeLessThanOrEqual(aClient.packetsIn * FRANK + 2 * aLink.packetsIn * GRACE);
  // The link: frank's stream out of sfu-a into the MMR, grace's the other way, each packet counted at both ends.
  expect(aLink).toMatchObject({ scope: 'north-south', streamsOut: 1, streamsIn: 1 });
  expect(mmrLink).toMatchObject({ scope: 'north-south', role: 'answerer', streamsOut: 1, streamsIn: 1 });
  expect([aLink.bytesOut, aLink.bytesIn]).toEqual([aLink.packetsOut * FRANK, aLink.packetsIn * GRACE]);
  expect([mmrLink.bytesIn, mmrLink.bytesOut]).toEqual([mmrLink.packetsIn * FRANK, mmrLink.packetsOut * GRACE]);
  expect(mmrLink.packetsIn).toBeLessThanOrEqual(aLink.packetsOut);
  expect(mmrLink.packetsIn).toBeGreaterThanOrEqual(received.graceFrank);
  expect(aLink.packetsIn).toBeLessThanOrEqual(mmrLink.packetsOut);
  expect(aLink.packetsIn).toBeGreaterThanOrEqual(Math.max(received.erinGrace, received.frankGrace));
  expect(mmrLink.packetsOut).toBeLessThanOrEqual(mmrMeeting.client.packetsIn);
  expect(mmrMeeting.client.packetsIn).toBeLessThanOrEqual(N);
  // Client links and links together are all the meeting moved.
  const ns = aMeeting.cascade['north-south'];
  expect([aClient.packetsIn + ns.packetsIn, aClient.bytesIn + ns.bytesIn, aClient.packetsOut + ns.packetsOut, aClient.bytesOut + ns.bytesOut]).toEqual([
    aMeeting.packetsIn,
    aMeeting.bytesIn,
    aMeeting.packetsOut,
    aMeeting.bytesOut,
  ]);

  // The figures: on the module, what its participants moved would have left; the link is what did.
  const external = aLink.bytesIn + aLink.bytesOut;
  const wouldHaveLeft = aClient.bytesIn + aClient.bytesOut;
  expect(aMeeting).toMatchObject({ externalStreams: 2, externalBytes: external, wouldHaveLeftBytes: wouldHaveLeft, savedBytes: wouldHaveLeft - external });
  // Erin's copy of frank's stream and the second copy of grace's never left the network.
  expect(aMeeting.savedBytes).toBeGreaterThanOrEqual(received.erinFrank * FRANK + (received.erinGrace + received.frankGrace - aLink.packetsIn) * GRACE);
  expect(aMeeting.savedBytes).toBeGreaterThan(0);
  // sfu-a's other meetings are internal-only: the module's external figures are this meeting's.
  expect(aModule).toMatchObject({ role: 'edge', externalStreams: 2, externalBytes: external, wouldHaveLeftBytes: wouldHaveLeft });
  expect(aModule.cascade['north-south']).toMatchObject({ links: 1, streams: 2, bytesIn: aLink.bytesIn, bytesOut: aLink.bytesOut });
  // On the cloud MMR the link is external too; its own participants are outside anyway: nothing saved there.
  expect(mmrMeeting).toMatchObject({ externalStreams: 2, externalBytes: mmrLink.bytesIn + mmrLink.bytesOut, wouldHaveLeftBytes: 0, savedBytes: 0 });
  expect(mmr.media.stats()).toMatchObject({ role: 'cloud', externalBytes: mmrLink.bytesIn + mmrLink.bytesOut, wouldHaveLeftBytes: 0, savedBytes: 0 });

  // Closing the link (in the same tick as the snapshot, so nothing was counted in between) keeps what it moved.
  const before = a.media.stats();
  expect(a.cascade.closeLinks(meetingId, 'test')).toBe(1);
  const after = a.media.stats();
  expect(after).toMatchObject({ externalStreams: 0, externalBytes: before.externalBytes });
  expect(after.cascade['north-south']).toMatchObject({ links: 0, streams: 0, bytesIn: before.cascade['north-south'].bytesIn, bytesOut: before.cascade['north-south'].bytesOut });
  const mmrBefore = mmr.media.stats().externalBytes;
  await waitFor(() => mmr.cascade.linkStats().every((l) => l.meetingId !== meetingId), { timeoutMs: 10_000, description: 'link closed on the MMR' });
  expect(mmr.media.stats()).toMatchObject({ externalStreams: 0 });
  expect(mmr.media.stats().externalBytes).toBeGreaterThanOrEqual(mmrBefore);

  // /v1/stats and /metrics show the same figures.
  const json = (await (await fetch(`${mod('sfu-a').url}/v1/stats`)).json()) as {
    module: { externalBytes: number; externalStreams: number };
    meetings: { meetingId: string; externalBytes: number }[];
  };
  expect(json.module).toMatchObject({ externalBytes: before.externalBytes, externalStreams: 0 });
  expect(json.meetings.find((m) => m.meetingId === meetingId)?.externalBytes).toBe(before.externalBytes);
  const metrics = await (await fetch(`${mod('sfu-a').url}/metrics`)).text();
  expect(metricValue(metrics, 'meetedge_sfu_external_bytes_total')).toBe(before.externalBytes);
  expect(metricValue(metrics, 'meetedge_sfu_external_streams')).toBe(0);
  expect(metricValue(metrics, 'meetedge_sfu_cascade_links', 'scope="north-south"')).toBe(0);
  expect(metricValue(metrics, 'meetedge_sfu_cascade_bytes_out_total', 'scope="north-south"')).toBe(before.cascade['north-south'].bytesOut);
  expect(metricValue(metrics, 'meetedge_sfu_would_have_left_bytes_total')).toBeGreaterThanOrEqual(before.wouldHaveLeftBytes);

  // The meeting ends on sfu-a when its participants leave: the module's totals stay.
  await Promise.all([frank.leave(), erin.leave()]);
  await waitFor(() => a.media.existingMeeting(meetingId) === undefined, { timeoutMs: 10_000, description: 'meeting ended on sfu-a' });
  const ended = a.media.stats();
  expect(ended.externalBytes).toBe(before.externalBytes);
  expect(ended.wouldHaveLeftBytes).toBeGreaterThanOrEqual(before.wouldHaveLeftBytes);
  expect(ended.cascade['north-south'].bytesOut).toBe(before.cascade['north-south'].bytesOut);
});

it('links of several meetings between the same two modules each carry their own media', async () => {
  // Every link between two servers comes from the same address to the same address: the opener's own
  // socket per link is what lets the answerer's shared port tell them apart.
  const meetings = ['m-pair-1', 'm-pair-2', 'm-pair-3'];
  const b = mod('sfu-b');
  const received: { got: Buffer[]; sent: Buffer[] }[] = [];
  const mics: MediaStreamTrack[] = [];
  for (const [n, m] of meetings.entries()) {
    const speaker = await join('sfu-a', `speaker-${n}`, m);
    const mic = new MediaStreamTrack({ kind: 'audio' });
    const ids = await speaker.publish([{ source: 'microphone', track: mic }]);
    b.app.media.meeting(MeetingId(m), 'internal-only');
    await mod('sfu-a').app.cascade.ensureLink(MeetingId(m), { serverId: 'sfu-b', address: `127.0.0.1:${b.app.cascade.boundPort}` });
    const listener = await join('sfu-b', `listener-${n}`, m);
    await listener.receive();
    await Promise.all([speaker.connected(), listener.connected()]);
    received.push({ got: await collectTrack(listener, ids.get('microphone') as string), sent: [] });
    mics.push(mic);
  }
  for (let i = 0; i < 40; i++) {
    for (const [n, mic] of mics.entries()) {
      // Each meeting's payloads say which meeting they belong to.
      const body = Buffer.concat([Buffer.from(`meeting-${n}:`), randomBytes(60)]);
      received[n]?.sent.push(body);
      mic.writeRtp(opus(2000 + i, body));
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await waitFor(() => received.every((r) => r.got.length >= 25), { timeoutMs: 15_000, description: `media over every link (${received.map((r) => r.got.length).join(', ')})` });
  for (const r of received) expectIntact(r.got, r.sent);
  expect(mod('sfu-a').app.cascade.linkStats().filter((l) => meetings.includes(l.meetingId))).toHaveLength(3);
});
