/**
 * A cascade link between two real modules in one process (werift ↔ werift,
 * DTLS-SRTP over loopback, control over gRPC): participants on either module
 * see and hear the others as if they were local, payloads byte for byte, and
 * closing the link takes the remote participants away again. For an
 * internal-only meeting the first module claims top in the (shared) cluster
 * state and the second links east-west to it by itself.
 */
import { randomBytes } from 'node:crypto';
import { MediaClient } from '@meetedge/client';
import { MeetingId, ModuleId, NodeId, ParticipantId, ReservationId, ZoneId, generateTicketKeys, signTicket } from '@meetedge/core';
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

async function startModule(id: string): Promise<void> {
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

async function join(moduleId: string, participant: string, meetingId = MEETING): Promise<MediaClient> {
  const now = Date.now();
  const ticket = signTicket(
    {
      ticketId: ReservationId(`r-${participant}`),
      meetingId: MeetingId(meetingId),
      participantId: ParticipantId(participant),
      moduleId: ModuleId(moduleId),
      quality: 'HD',
      mode: 'internal-only',
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
  for (let i = 0; i < 60; i++) {
    const c = randomBytes(800);
    const a = randomBytes(100);
    const m = randomBytes(90);
    sent.camera.push(Buffer.concat([Buffer.from([0x10, i === 0 ? 0x00 : 0x01, 0x00, 0x9d]), c]));
    sent.mic.push(a);
    sent.bob.push(m);
    camera.writeRtp(vp8(100 + i, i === 0, c));
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
});
