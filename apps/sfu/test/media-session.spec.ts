/**
 * The media session end to end, in one process: a real module (fastify,
 * WebSocket, werift) and werift clients over loopback. Payload bytes after
 * the codec header are random (they will be end-to-end encrypted later) and
 * must arrive intact; meetings must not see each other; capacity is a hard
 * limit; bad input gets coded errors and the module keeps serving.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { MediaClient } from '@meetedge/client';
import fc from 'fast-check';
import {
  MeetingId,
  ModuleId,
  ParticipantId,
  ReservationId,
  generateTicketKeys,
  signTicket,
  type MeetingMode,
  type Quality,
} from '@meetedge/core';
import { createLogger, type Service } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { waitFor } from '@meetedge/test-kit';
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RtcpPacketConverter,
  RtcpRrPacket,
  RtcpSrPacket,
  RtpHeader,
  RtpPacket,
  SrtpAuthenticationError,
  useAbsSendTime,
  useNACK,
  useOPUS,
  usePLI,
  useSdesMid,
  useVP8,
  type RTCDtlsTransport,
  type RTCRtpTransceiver,
} from 'werift';
import WebSocket from 'ws';
import { buildApp } from '../src/app';
import { loadSfuConfig } from '../src/config';

const keys = generateTicketKeys();
let app: Service;
let url: string;
let state: MemoryClusterState;
const clients: MediaClient[] = [];

function ticket(meeting: string, participant: string, options: { quality?: Quality; mode?: MeetingMode; moduleId?: string; expiresIn?: number } = {}): string {
  const now = Date.now();
  return signTicket(
    {
      ticketId: ReservationId(`r-${participant}`),
      meetingId: MeetingId(meeting),
      participantId: ParticipantId(participant),
      moduleId: ModuleId(options.moduleId ?? 'sfu-1'),
      quality: options.quality ?? 'SD',
      mode: options.mode ?? 'cloud-hybrid',
      displayName: participant,
      issuedAt: now,
      expiresAt: now + (options.expiresIn ?? 60_000),
    },
    keys.privateKey,
  );
}

async function join(
  meeting: string,
  participant: string,
  options: Parameters<typeof ticket>[2] = {},
  createPeer?: () => RTCPeerConnection,
): Promise<MediaClient> {
  const client = await MediaClient.join({ url: `${url}/v1/media`, ticket: ticket(meeting, participant, options), createPeer });
  clients.push(client);
  return client;
}

/** A VP8 RTP packet: 1-byte descriptor (S=1, PID 0), a 3-byte payload header (keyframe when `key`), then random bytes. */
function vp8Packet(seq: number, key: boolean, body: Buffer): RtpPacket {
  const payload = Buffer.concat([Buffer.from([0x10, key ? 0x00 : 0x01, 0x00, 0x9d]), body]);
  return new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp: seq * 3000, ssrc: 1, marker: true }), payload);
}

function opusPacket(seq: number, body: Buffer): RtpPacket {
  return new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: seq * 960, ssrc: 2, marker: false }), body);
}

/** A participant who publishes a camera and a microphone, each a werift track to write RTP into. */
async function publishCameraAndMic(meeting: string, participant: string): Promise<{ client: MediaClient; camera: MediaStreamTrack; mic: MediaStreamTrack }> {
  const client = await join(meeting, participant);
  const camera = new MediaStreamTrack({ kind: 'video' });
  const mic = new MediaStreamTrack({ kind: 'audio' });
  await client.publish([
    { source: 'camera', track: camera },
    { source: 'microphone', track: mic },
  ]);
  return { client, camera, mic };
}

/** Writes a camera and a microphone packet every 20 ms for `ms`, numbered from `from` on, as live tracks send. */
async function keepSending(camera: MediaStreamTrack, mic: MediaStreamTrack, from: number, ms: number): Promise<void> {
  const end = performance.now() + ms;
  for (let seq = from; performance.now() < end; seq++) {
    camera.writeRtp(vp8Packet(seq, false, randomBytes(100)));
    mic.writeRtp(opusPacket(seq, randomBytes(60)));
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Collects the payloads a client receives on its slots, by published track id. */
function collect(client: MediaClient): Map<string, Buffer[]> {
  const got = new Map<string, Buffer[]>();
  for (const remote of client.remote.values()) {
    remote.onRtp((packet) => {
      const id = remote.trackId ?? 'unbound';
      got.set(id, [...(got.get(id) ?? []), Buffer.from(packet.payload)]);
    });
  }
  return got;
}

/** Starts the module under test; `env` adds to (or overrides) the test configuration. */
async function startModule(env: Record<string, string> = {}): Promise<void> {
  state = new MemoryClusterState();
  const config = loadSfuConfig({
    MEETEDGE_MODULE_ID: 'sfu-1',
    MEETEDGE_ZONE_ID: 'hq',
    MEETEDGE_NODE_ID: 'n1',
    MEETEDGE_HTTP_PORT: '0',
    MEETEDGE_STATE: 'memory',
    MEETEDGE_CAPACITY_UNITS: '6',
    MEETEDGE_JOIN_TIMEOUT_MS: '1000',
    MEETEDGE_KEEPALIVE_MS: '300',
    MEETEDGE_MEDIA_PORT: '0',
    MEETEDGE_CASCADE_PORT: '0',
    MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
    MEETEDGE_TICKET_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ...env,
  });
  app = buildApp(config, { logger: createLogger({ level: 'silent' }), state, ownsState: true });
  url = (await app.start()).replace('http:', 'ws:');
}

/** The module's `meetedge_sfu_fast_path` gauge: 1 native, 0 JavaScript. */
async function fastPathGauge(): Promise<number> {
  const metrics = (await app.http.inject({ url: '/metrics' })).body;
  return Number(/^meetedge_sfu_fast_path(?:\{[^}]*\})? (\d+)$/m.exec(metrics)?.[1]);
}

beforeEach(() => startModule());

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.leave()));
  await app.close();
});

/** Three participants exchange audio, camera and screen share; every packet that arrives is one sent, byte for byte, in order. */
async function threeParticipantsExchange(): Promise<void> {
  const alice = await join('m-1', 'alice');
  const mic = new MediaStreamTrack({ kind: 'audio' });
  const camera = new MediaStreamTrack({ kind: 'video' });
  const screen = new MediaStreamTrack({ kind: 'video' });
  const ids = await alice.publish([
    { source: 'microphone', track: mic },
    { source: 'camera', track: camera },
    { source: 'screen', track: screen },
  ]);
  expect([...ids.keys()].sort()).toEqual(['camera', 'microphone', 'screen']);

  const bob = await join('m-1', 'bob');
  const carol = await join('m-1', 'carol');
  expect(bob.tracks.size).toBe(3);
  await Promise.all([bob.receive(), carol.receive()]);
  await Promise.all([alice.connected(), bob.connected(), carol.connected()]);
  const bobGot = collect(bob);
  const carolGot = collect(carol);

  const sent = { camera: [] as Buffer[], screen: [] as Buffer[], microphone: [] as Buffer[] };
  for (let i = 0; i < 40; i++) {
    const c = randomBytes(900);
    const s = randomBytes(700);
    const a = randomBytes(120);
    sent.camera.push(Buffer.concat([Buffer.from([0x10, i === 0 ? 0x00 : 0x01, 0x00, 0x9d]), c]));
    sent.screen.push(Buffer.concat([Buffer.from([0x10, i === 0 ? 0x00 : 0x01, 0x00, 0x9d]), s]));
    sent.microphone.push(a);
    camera.writeRtp(vp8Packet(100 + i, i === 0, c));
    screen.writeRtp(vp8Packet(500 + i, i === 0, s));
    mic.writeRtp(opusPacket(900 + i, a));
    await new Promise((r) => setTimeout(r, 5));
  }
  for (const got of [bobGot, carolGot]) {
    await waitFor(() => (['camera', 'screen', 'microphone'] as const).every((src) => (got.get(ids.get(src) as string)?.length ?? 0) >= 35), {
      timeoutMs: 10_000,
    });
    for (const source of ['camera', 'screen', 'microphone'] as const) {
      const received = got.get(ids.get(source) as string) ?? [];
      // Every packet that arrived is one that was sent, byte for byte, in order.
      const sentHex = sent[source].map((b) => b.toString('hex'));
      const indexes = received.map((b) => sentHex.indexOf(b.toString('hex')));
      expect(indexes.every((i) => i >= 0)).toBe(true);
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    }
  }
  expect(bobGot.get('unbound')).toBeUndefined();
}

describe('media session', () => {
  it('three participants exchange audio, camera and screen share; payloads arrive byte for byte (native fast path)', async () => {
    expect(await fastPathGauge()).toBe(1);
    await threeParticipantsExchange();
  });

  it('forwards the same on the JavaScript path (MEETEDGE_MEDIA_FAST_PATH=off)', async () => {
    await app.close();
    await startModule({ MEETEDGE_MEDIA_FAST_PATH: 'off' });
    expect(await fastPathGauge()).toBe(0);
    await threeParticipantsExchange();
  });

  it('keeps two meetings on one module apart', async () => {
    const publish = async (meeting: string, name: string) => {
      const client = await join(meeting, name);
      const mic = new MediaStreamTrack({ kind: 'audio' });
      const camera = new MediaStreamTrack({ kind: 'video' });
      const ids = await client.publish([
        { source: 'microphone', track: mic },
        { source: 'camera', track: camera },
      ]);
      return { client, mic, camera, ids };
    };
    const alice = await publish('m-1', 'alice');
    const mallory = await publish('m-2', 'mallory');
    const bob = await join('m-1', 'bob');
    const trent = await join('m-2', 'trent');
    expect([...bob.tracks.values()].map((t) => t.participantId)).toEqual(['alice', 'alice']);
    expect([...trent.tracks.values()].map((t) => t.participantId)).toEqual(['mallory', 'mallory']);
    await Promise.all([bob.receive(), trent.receive()]);
    await Promise.all([alice.client, mallory.client, bob, trent].map((c) => c.connected()));
    const bobGot = collect(bob);
    const trentGot = collect(trent);
    for (let i = 0; i < 30; i++) {
      for (const p of [alice, mallory]) {
        p.camera.writeRtp(vp8Packet(i, i === 0, randomBytes(500)));
        p.mic.writeRtp(opusPacket(i, randomBytes(80)));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const aliceIds = new Set(alice.ids.values());
    const malloryIds = new Set(mallory.ids.values());
    await waitFor(() => [...bobGot.values()].flat().length >= 50 && [...trentGot.values()].flat().length >= 50, { timeoutMs: 10_000 });
    // Each receives only its own meeting's tracks.
    expect([...bobGot.keys()].every((id) => aliceIds.has(id))).toBe(true);
    expect([...trentGot.keys()].every((id) => malloryIds.has(id))).toBe(true);
    const stats = (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json();
    const m1 = stats.meetings.find((m: { meetingId: string }) => m.meetingId === 'm-1');
    const m2 = stats.meetings.find((m: { meetingId: string }) => m.meetingId === 'm-2');
    expect(m1).toMatchObject({ participants: 2, tracks: 2 });
    expect(m2).toMatchObject({ participants: 2, tracks: 2 });
    expect(m1.packetsOut).toBeGreaterThanOrEqual(50);
    expect(m2.packetsOut).toBeGreaterThanOrEqual(50);
  });

  it('a reconnecting participant replaces its old session, alone or not, and keeps one hold', async () => {
    const first = await join('m-1', 'alice');
    const closed = new Promise<number>((resolve) => first.once('closed', ({ code }) => resolve(code)));
    const refusals: string[] = [];
    first.on('refused', (e) => refusals.push(e.message));
    const second = await join('m-1', 'alice');
    expect(await closed).toBe(1008);
    expect(refusals).toEqual(['the participant joined again from another session']);
    const bob = await join('m-1', 'bob');
    expect(bob.participantId).toBe('bob');
    const stats = (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json();
    expect(stats.module).toMatchObject({ meetings: 1, participants: 2, usedUnits: 2, sessions: 2 });
    // And the replacing session works: it publishes and bob receives.
    const mic = new MediaStreamTrack({ kind: 'audio' });
    await second.publish([{ source: 'microphone', track: mic }]);
    await bob.receive();
    expect([...bob.remote.values()].some((r) => r.trackId !== undefined)).toBe(true);
  });

  it('holds units per meeting for a participant who sits in two meetings', async () => {
    const inOne = await join('m-1', 'alice', { quality: 'HD' });
    await join('m-2', 'alice', { quality: 'HD' });
    const units = async () => (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module.usedUnits;
    expect(await units()).toBe(4);
    await inOne.leave();
    await waitFor(async () => (await units()) === 2);
  });

  it('carries all media on the one UDP port, and drops stray datagrams there without harm', async () => {
    const mediaPort = (await app.http.inject({ method: 'GET', url: '/v1/module' })).json().mediaPort as number;
    const alice = await join('m-1', 'alice');
    const camera = new MediaStreamTrack({ kind: 'video' });
    const ids = await alice.publish([{ source: 'camera', track: camera }]);
    const bob = await join('m-1', 'bob');
    await bob.receive();
    await Promise.all([alice.connected(), bob.connected()]);
    for (const client of [alice, bob]) {
      const candidates = (client.pc.remoteDescription?.sdp ?? '').split('\r\n').filter((l) => l.startsWith('a=candidate:'));
      expect(candidates.length).toBeGreaterThan(0);
      for (const line of candidates) expect(Number(line.split(' ')[5])).toBe(mediaPort);
    }
    // Garbage from a stranger on the media port.
    const stranger = createSocket('udp4');
    for (let i = 0; i < 50; i++) stranger.send(randomBytes(1 + (i % 200)), mediaPort, '127.0.0.1');
    await waitFor(async () => (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().udp.droppedUnknownSource >= 50);
    stranger.close();
    const got = collect(bob);
    for (let i = 0; i < 20; i++) {
      camera.writeRtp(vp8Packet(i, i === 0, randomBytes(400)));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => (got.get(ids.get('camera') as string)?.length ?? 0) >= 15);
  });

  it('refuses the unit past capacity with a clear error, and frees units when a participant leaves', async () => {
    // Capacity 6: two HD (4 units) and two SD (2 units) fill it.
    const hd1 = await join('m-1', 'hd1', { quality: 'HD' });
    await join('m-1', 'hd2', { quality: 'HD' });
    await join('m-2', 'sd1');
    await join('m-2', 'sd2');
    await expect(join('m-3', 'sd3')).rejects.toMatchObject({
      code: 'CAPACITY_EXCEEDED',
      message: 'module sfu-1 is full: 6 of 6 units in use, 1 more needed',
    });
    // A refused join leaves nothing behind: no meeting m-3.
    const meetings = (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().meetings.map((m: { meetingId: string }) => m.meetingId);
    expect(meetings.sort()).toEqual(['m-1', 'm-2']);
    await hd1.leave();
    await waitFor(async () => (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module.usedUnits === 4);
    await expect(join('m-3', 'sd3')).resolves.toBeInstanceOf(MediaClient);
  });

  it.each([
    ['an expired ticket', () => ticket('m-1', 'p', { expiresIn: -1 }), 'UNAUTHENTICATED', 'join ticket has expired'],
    ['a ticket for another module', () => ticket('m-1', 'p', { moduleId: 'sfu-2' }), 'UNAUTHENTICATED', 'join ticket is for module sfu-2, not sfu-1'],
    [
      'a forged ticket',
      () => {
        // Flip one character in the middle of the signature (the last one may only carry padding bits).
        const [body, signature = ''] = ticket('m-1', 'p').split('.');
        const i = Math.floor(signature.length / 2);
        return `${body}.${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`;
      },
      'UNAUTHENTICATED',
      'join ticket has an invalid signature',
    ],
  ])('refuses %s and closes the socket', async (_what, make, code, message) => {
    await expect(MediaClient.join({ url: `${url}/v1/media`, ticket: make() })).rejects.toMatchObject({ code, message });
  });
});

describe('media forwarding rules', () => {
  const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

  /** Writes Opus-like packets with an RFC 6464 audio level (0 loud … 127 silent) in the negotiated extension. */
  function speak(client: MediaClient, track: MediaStreamTrack, level: number, seq: number): void {
    const transceiver = client.pc.getTransceivers().find((t) => t.sender.track === track);
    const id = transceiver?.headerExtensions.find((e) => e.uri === AUDIO_LEVEL_URI)?.id;
    if (id === undefined) throw new Error('audio level extension not negotiated');
    const packet = opusPacket(seq, randomBytes(80));
    packet.header.extensions = [{ id, payload: Buffer.from([0x80 | level]) }];
    track.writeRtp(packet);
  }

  it('sends each participant only the N loudest others, and tells everyone who speaks', async () => {
    // Published in the reverse order of loudness, so publishing order alone would pick the wrong three.
    const levels: Record<string, number> = { dave: 127, carol: 50, bob: 30, alice: 10, eve: 5 };
    const mics = new Map<string, { client: MediaClient; mic: MediaStreamTrack; trackId: string }>();
    for (const name of Object.keys(levels)) {
      const client = await join('m-1', name);
      const mic = new MediaStreamTrack({ kind: 'audio' });
      const ids = await client.publish([{ source: 'microphone', track: mic }]);
      mics.set(name, { client, mic, trackId: ids.get('microphone') as string });
    }
    const eve = mics.get('eve')?.client as MediaClient;
    const speakers: string[][] = [];
    eve.on('message', (m) => {
      if (m.type === 'speakers') speakers.push(m.participantIds);
    });
    await eve.receive();
    expect([...eve.remote.values()].filter((r) => r.kind === 'audio')).toHaveLength(3);
    await eve.connected();
    await Promise.all([...mics.values()].map((m) => m.client.connected()));
    const got = collect(eve);
    for (let i = 0; i < 60; i++) {
      for (const [name, { client, mic }] of mics) speak(client, mic, levels[name] as number, i);
      await new Promise((r) => setTimeout(r, 20));
    }
    // The three loudest (in an order the hysteresis may hold), never carol or dave.
    await waitFor(() => speakers.some((s) => [...s].sort().join() === 'alice,bob,eve'), { timeoutMs: 10_000 });
    // Eve is the loudest, yet she hears the three loudest others: alice, bob and carol; never dave (silent).
    await waitFor(() => {
      const bound = [...eve.remote.values()].filter((r) => r.kind === 'audio').map((r) => r.trackId).sort();
      return bound.join() === ['alice', 'bob', 'carol'].map((n) => mics.get(n)?.trackId).sort().join();
    });
    const before = got.get(mics.get('dave')?.trackId as string)?.length ?? 0;
    for (let i = 60; i < 90; i++) {
      for (const [name, { client, mic }] of mics) speak(client, mic, levels[name] as number, i);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => (got.get(mics.get('carol')?.trackId as string)?.length ?? 0) >= 80);
    expect(got.get(mics.get('dave')?.trackId as string)?.length ?? 0).toBe(before);
  }, 30_000);

  it('tells a video publisher, with REMB, the most it may send', async () => {
    const alice = await join('m-1', 'alice');
    const camera = new MediaStreamTrack({ kind: 'video' });
    await alice.publish([{ source: 'camera', track: camera }]);
    await alice.connected();
    const sender = alice.pc.getTransceivers().find((t) => t.sender.track === camera)?.sender;
    const advertised: number[] = [];
    sender?.onRtcp.subscribe((packet) => {
      const feedback = (packet as { feedback?: { bitrate?: bigint } }).feedback;
      if (typeof feedback?.bitrate === 'bigint') advertised.push(Number(feedback.bitrate));
    });
    for (let i = 0; i < 40 && advertised.length === 0; i++) {
      camera.writeRtp(vp8Packet(i, i === 0, randomBytes(300)));
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => advertised.length > 0);
    // MEETEDGE_MAX_PUBLISH_KBPS defaults to 2500.
    expect(advertised[0]).toBe(2_500_000);
  });

  it('keeps a gap in the input a gap in the output, so the subscriber NACKs it', async () => {
    const alice = await join('m-1', 'alice');
    const camera = new MediaStreamTrack({ kind: 'video' });
    await alice.publish([{ source: 'camera', track: camera }]);
    const bob = await join('m-1', 'bob');
    await bob.receive();
    await Promise.all([alice.connected(), bob.connected()]);
    const sequenceNumbers: number[] = [];
    for (const remote of bob.remote.values()) remote.onRtp((p) => sequenceNumbers.push(p.header.sequenceNumber));
    for (let i = 0; i < 60; i++) {
      // 20..24 never leave the publisher.
      if (i < 20 || i >= 25) camera.writeRtp(vp8Packet(1000 + i, i === 0, randomBytes(200)));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => sequenceNumbers.length >= 50);
    const sorted = [...new Set(sequenceNumbers)].sort((a, b) => a - b);
    const gaps = sorted.slice(1).map((n, i) => n - (sorted[i] as number)).filter((d) => d > 1);
    expect(gaps).toEqual([6]);
    await waitFor(async () => (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module.nacksReceived > 0);
    // The five the publisher never sent count as lost on the way in.
    expect((await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module.packetsLostIn).toBe(5);
  });

  it('sends subscribers sender reports for the streams they receive, with the counts of what was sent', async () => {
    const alice = await join('m-1', 'alice');
    const camera = new MediaStreamTrack({ kind: 'video' });
    await alice.publish([{ source: 'camera', track: camera }]);
    const bob = await join('m-1', 'bob');
    await bob.receive();
    await Promise.all([alice.connected(), bob.connected()]);
    let ssrc: number | undefined;
    const slot = [...bob.remote.values()].find((r) => r.kind === 'video');
    slot?.onRtp((p) => {
      ssrc = p.header.ssrc;
    });
    for (let i = 0; i < 30; i++) {
      camera.writeRtp(vp8Packet(i, i === 0, randomBytes(100)));
      await new Promise((r) => setTimeout(r, 5));
    }
    // werift's receiver keeps the last SR's counts per SSRC (RFC 3550 §6.4.1).
    const receiver = bob.pc.getTransceivers().find((t) => t.mid === slot?.mid)?.receiver as unknown as {
      remotePacketCountBySsrc: Record<number, number>;
      remoteOctetCountBySsrc: Record<number, number>;
    };
    await waitFor(() => ssrc !== undefined && receiver.remotePacketCountBySsrc[ssrc] === 30, { timeoutMs: 5000, description: 'an SR counting the 30 packets' });
    // Octets: payload bytes, 4-byte VP8 header + 100 random bytes each.
    expect(receiver.remoteOctetCountBySsrc[ssrc as number]).toBe(30 * 104);
  });

  it('counts what subscribers report lost on the way out (receiver reports)', async () => {
    const alice = await join('m-1', 'alice');
    const mic = new MediaStreamTrack({ kind: 'audio' });
    await alice.publish([{ source: 'microphone', track: mic }]);
    const bob = await join('m-1', 'bob');
    await bob.receive();
    await Promise.all([alice.connected(), bob.connected()]);
    // Every 4th audio packet never reaches bob (audio is not NACKed): his reports say so.
    const srtp = (bob.pc.getTransceivers()[0] as RTCRtpTransceiver).receiver.dtlsTransport.srtp;
    const decrypt = srtp.decrypt;
    let count = 0;
    let dropped = 0;
    srtp.decrypt = (data: Buffer) => {
      if (count++ % 4 === 3) {
        dropped++;
        throw new SrtpAuthenticationError('dropped by the test');
      }
      return decrypt(data);
    };
    const stats = async () => (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module;
    for (let i = 0; i < 100; i++) {
      mic.writeRtp(opusPacket(i, randomBytes(60)));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(async () => (await stats()).packetsLostOut >= 20, { timeoutMs: 8000, description: "bob's receiver reports counting the drops" });
    expect((await stats()).packetsLostOut).toBeLessThanOrEqual(dropped);
    expect((await stats()).packetsLostIn).toBe(0);
  });

  it("reports what it received from a publisher once a second in the connection's one compound packet, loss included", async () => {
    const { client: alice, camera, mic } = await publishCameraAndMic('m-1', 'alice');
    await alice.connected();
    // Every SRTCP datagram alice gets, as the RTCP packets it holds.
    const transport = alice.pc.dtlsTransports[0] as RTCDtlsTransport;
    const srtcp = transport.srtcp;
    const decrypt = srtcp.decrypt.bind(srtcp);
    const compounds: { at: number; packets: ReturnType<typeof RtcpPacketConverter.deSerialize> }[] = [];
    srtcp.decrypt = (data: Buffer) => {
      const plain = decrypt(data);
      compounds.push({ at: performance.now(), packets: RtcpPacketConverter.deSerialize(plain) });
      return plain;
    };
    // 40 camera packets with 5 never sent (sequence numbers 20-24), and audio.
    for (let i = 0; i < 45; i++) {
      if (i < 20 || i >= 25) camera.writeRtp(vp8Packet(i, i === 0, randomBytes(100)));
      mic.writeRtp(opusPacket(i, randomBytes(60)));
      await new Promise((r) => setTimeout(r, 5));
    }
    // werift's senders put their own SSRC and sequence offset on what was written.
    const [cameraSender, micSender] = alice.pc.getTransceivers().map((t) => t.sender);
    const cameraSsrc = cameraSender?.ssrc as number;
    const micSsrc = micSender?.ssrc as number;
    // The last sequence number werift's sender put on the wire (it keeps it, privately).
    const lastCameraSeq = (cameraSender as unknown as { sequenceNumber: number }).sequenceNumber;
    const blocksOf = (compound: (typeof compounds)[number]) =>
      compound.packets.flatMap((p) => (p instanceof RtcpRrPacket || p instanceof RtcpSrPacket ? p.reports : []));
    const afterLast = () => compounds.find((c) => blocksOf(c).some((b) => b.ssrc === cameraSsrc && (b.highestSequence & 0xffff) === lastCameraSeq));
    await waitFor(() => afterLast() !== undefined, { timeoutMs: 5000, description: 'a report on the camera after its last packet' });
    const start = performance.now();
    // Sources that keep sending are reported in every report (one that stops is left out, RFC 3550 §6.4).
    await keepSending(camera, mic, 45, 3000);
    const reporting = compounds.filter((c) => blocksOf(c).length > 0 && c.at >= start);
    // One compound every 0.5-1.5 s (2-5 in 3 s but once in thousands) carries both streams' blocks
    // (werift's own loop sent a report per section, each on its own timer: 8 in 3 s, one stream each).
    expect(reporting.length).toBeGreaterThanOrEqual(2);
    expect(reporting.length).toBeLessThanOrEqual(5);
    for (const compound of reporting) expect(blocksOf(compound).map((b) => b.ssrc).sort()).toEqual([cameraSsrc, micSsrc].sort());
    const blocks = blocksOf(afterLast() as (typeof compounds)[number]);
    expect(blocks.find((b) => b.ssrc === cameraSsrc)?.packetsLost).toBe(5);
    expect(blocks.find((b) => b.ssrc === micSsrc)?.packetsLost).toBe(0);
  });

  it('a MediaClient reports all it receives in one compound a second, as a browser does', async () => {
    const { client: alice, camera, mic } = await publishCameraAndMic('m-1', 'alice');
    const bob = await join('m-1', 'bob');
    await bob.receive();
    await Promise.all([alice.connected(), bob.connected()]);
    // What bob sends as RTCP, one entry a datagram.
    const transport = bob.pc.dtlsTransports[0] as RTCDtlsTransport;
    const sendRtcp = transport.sendRtcp.bind(transport);
    const sent: { at: number; packets: Parameters<RTCDtlsTransport['sendRtcp']>[0] }[] = [];
    transport.sendRtcp = (packets) => {
      sent.push({ at: performance.now(), packets });
      return sendRtcp(packets);
    };
    const ssrcs = new Map<string, number>();
    for (const remote of bob.remote.values()) {
      remote.onRtp((packet) => {
        if (remote.trackId) ssrcs.set(remote.trackId, packet.header.ssrc);
      });
    }
    for (let i = 0; i < 60; i++) {
      camera.writeRtp(vp8Packet(i, i === 0, randomBytes(100)));
      mic.writeRtp(opusPacket(i, randomBytes(60)));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => ssrcs.size === 2, { description: 'both of alice tracks at bob' });
    const start = performance.now();
    await keepSending(camera, mic, 60, 3000);
    const reports = sent.filter((s) => s.at >= start && s.packets.some((p) => p instanceof RtcpRrPacket));
    // One every 0.5-1.5 s (werift's own loop sends one per receive slot, each on its own timer) ...
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(reports.length).toBeLessThanOrEqual(5);
    // ... each with a block for every stream bob receives.
    for (const report of reports) {
      const blocks = report.packets.flatMap((p) => (p instanceof RtcpRrPacket ? p.reports.map((b) => b.ssrc) : []));
      expect(blocks.sort()).toEqual([...ssrcs.values()].sort());
    }
  });

  it.each([
    ['resends it as it was', false],
    ['resends it as RTX when the subscriber negotiated RTX', true],
  ])('answers a subscriber\'s NACK from the publisher\'s recent packets: %s, byte for byte', async (_name, rtx) => {
    const alice = await join('m-1', 'alice');
    const camera = new MediaStreamTrack({ kind: 'video' });
    const ids = await alice.publish([{ source: 'camera', track: camera }]);
    const withRtx = () =>
      new RTCPeerConnection({
        iceServers: [],
        bundlePolicy: 'max-bundle',
        codecs: {
          audio: [useOPUS()],
          video: [useVP8({ rtcpFeedback: [useNACK(), usePLI()] }), new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000 })],
        },
        headerExtensions: { video: [useSdesMid(), useAbsSendTime()] },
      });
    const bob = await join('m-1', 'bob', {}, rtx ? withRtx : undefined);
    await bob.receive();
    await Promise.all([alice.connected(), bob.connected()]);
    const dtls: RTCDtlsTransport = (bob.pc.getTransceivers()[0] as RTCRtpTransceiver).receiver.dtlsTransport;
    const srtp = dtls.srtp;
    const decrypt = srtp.decrypt;
    // Every 5th packet of the media stream (not the first: a loss is only seen
    // after a packet arrived) loses its first copy on the way to bob, dropped as
    // werift drops a packet that fails authentication: only a resend fills it.
    let primarySsrc: number | undefined;
    let count = 0;
    const seen = new Set<number>();
    let dropped = 0;
    let onOtherSsrc = 0;
    srtp.decrypt = (data: Buffer) => {
      const ssrc = data.readUInt32BE(8);
      const seq = data.readUInt16BE(2);
      primarySsrc ??= ssrc;
      if (ssrc !== primarySsrc) onOtherSsrc++;
      if (ssrc === primarySsrc && !seen.has(seq)) {
        seen.add(seq);
        if (count++ % 5 === 4) {
          dropped++;
          throw new SrtpAuthenticationError('dropped by the test');
        }
      }
      return decrypt(data);
    };
    const got = collect(bob);
    const trackId = ids.get('camera') as string;
    const sent: string[] = [];
    // 60 packets to check, then 5 more so that a loss among the last ones is noticed.
    const all: string[] = [];
    for (let i = 0; i < 65; i++) {
      const packet = vp8Packet(i, i === 0, randomBytes(300));
      all.push(packet.payload.toString('hex'));
      if (i < 60) sent.push(packet.payload.toString('hex'));
      camera.writeRtp(packet);
      await new Promise((r) => setTimeout(r, 5));
    }
    const received = () => new Set(got.get(trackId)?.map((p) => p.toString('hex')));
    await waitFor(() => sent.every((p) => received().has(p)), {
      description: 'every packet, the lost ones resent',
    });
    // 12 of the 60 checked packets (and perhaps one of the 5 after them) lost their first copy.
    expect(dropped).toBeGreaterThanOrEqual(12);
    // Nothing arrives that was not sent (resent payloads are byte for byte the originals).
    expect([...received()].filter((p) => !all.includes(p))).toEqual([]);
    const stats = (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module;
    expect(stats.packetsRetransmitted).toBeGreaterThanOrEqual(12);
    // RTX resends travel on their own SSRC; plain resends on the stream's.
    if (rtx) expect(onOtherSsrc).toBeGreaterThanOrEqual(12);
    else expect(onOtherSsrc).toBe(0);
    expect(stats.nacksReceived).toBeGreaterThan(0);
  });

  it('a paused track stops reaching the subscriber and resumes with a keyframe request', async () => {
    const alice = await join('m-1', 'alice');
    const camera = new MediaStreamTrack({ kind: 'video' });
    const ids = await alice.publish([{ source: 'camera', track: camera }]);
    const bob = await join('m-1', 'bob');
    await bob.receive();
    await Promise.all([alice.connected(), bob.connected()]);
    const got = collect(bob);
    const trackId = ids.get('camera') as string;
    const count = () => got.get(trackId)?.length ?? 0;
    let seq = 0;
    const send = async (n: number, keyEvery = 0) => {
      for (let i = 0; i < n; i++, seq++) {
        camera.writeRtp(vp8Packet(seq, seq === 0 || (keyEvery > 0 && i % keyEvery === 0), randomBytes(300)));
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await send(20);
    await waitFor(() => count() >= 15);
    bob.setSubscription(trackId, { paused: true });
    await new Promise((r) => setTimeout(r, 200));
    const paused = count();
    await send(20);
    await new Promise((r) => setTimeout(r, 200));
    expect(count()).toBe(paused);

    const plisBefore = (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module.plisSent;
    bob.setSubscription(trackId, { paused: false });
    // Resuming asks the publisher for a keyframe; forwarding restarts at one.
    await waitFor(async () => (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module.plisSent > plisBefore);
    await send(20, 10);
    await waitFor(() => count() > paused + 5);
  });
});

describe('the media session door', () => {
  /** Opens a raw WebSocket and collects what the module answers. */
  async function raw(): Promise<{ ws: WebSocket; messages: { type: string; code?: string; message?: string; fatal?: boolean }[]; closed: Promise<number> }> {
    const ws = new WebSocket(`${url}/v1/media`);
    const messages: { type: string; code?: string; message?: string; fatal?: boolean }[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.once('open', resolve));
    return { ws, messages, closed };
  }

  it('closes a session whose first message is not a join, saying why', async () => {
    const { ws, messages, closed } = await raw();
    ws.send('{"type":"offer","sdp":"v=0","publications":[]}');
    expect(await closed).toBe(1008);
    expect(messages).toEqual([{ type: 'error', code: 'CONFLICT', message: 'offer: join first', fatal: true }]);
  });

  it('answers malformed and unknown messages of a joined session with coded errors and keeps it open', async () => {
    const client = await join('m-1', 'alice');
    const errors: string[] = [];
    client.on('refused', (e) => errors.push(`${e.code}: ${e.message}`));
    client.sendRaw('{"type":');
    client.sendRaw('{"type":"teleport"}');
    client.sendRaw('{"type":"join","ticket":"x.y"}');
    client.sendRaw('{"type":"subscription","trackId":"nope"}');
    client.sendRaw(JSON.stringify({ type: 'offer', sdp: 'not sdp', publications: [] }));
    await waitFor(() => errors.length === 5);
    expect(errors).toEqual([
      'INVALID_ARGUMENT: message is not valid JSON',
      'INVALID_ARGUMENT: unknown message type "teleport"; expected one of join, offer, candidate, subscription, leave',
      'CONFLICT: join: the session has already joined',
      'NOT_FOUND: no track nope of another participant in this meeting',
      'INVALID_ARGUMENT: invalid SDP: must start with "v=0"',
    ]);
    // Still serving: a real negotiation goes through.
    await client.publish([{ source: 'microphone', track: new MediaStreamTrack({ kind: 'audio' }) }]);
  });

  it('survives random frames from joined and unjoined sessions, and keeps serving a meeting in progress', async () => {
    const alice = await join('m-1', 'alice');
    const camera = new MediaStreamTrack({ kind: 'video' });
    const ids = await alice.publish([{ source: 'camera', track: camera }]);
    const bob = await join('m-1', 'bob');
    await bob.receive();
    await Promise.all([alice.connected(), bob.connected()]);

    const frames = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc
          .record(
            {
              type: fc.constantFrom('join', 'offer', 'candidate', 'subscription', 'leave', 'joined', 'answer'),
              ticket: fc.string({ maxLength: 100 }),
              sdp: fc.oneof(fc.string({ maxLength: 300 }), fc.constant('v=0\r\nm=audio 9 X 111\r\na=mid:0\r\na=sendonly\r\n')),
              publications: fc.array(fc.record({ mid: fc.string({ maxLength: 4 }), source: fc.constantFrom('microphone', 'camera', 'screen', 'x') }), { maxLength: 3 }),
              trackId: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(ids.get('camera') as string)),
              candidate: fc.string({ maxLength: 100 }),
              paused: fc.boolean(),
              quality: fc.constantFrom('SD', 'HD', 'UHD'),
            },
            { requiredKeys: ['type'] },
          )
          .filter((m) => m.type !== 'leave')
          .map((m) => JSON.stringify(m)),
      ),
      { numRuns: 300, seed: 42 },
    );
    // A fuzzing participant that joined, and strangers that never did.
    const fuzzer = await join('m-1', 'fuzzer');
    const errors: string[] = [];
    fuzzer.on('refused', (e) => errors.push(e.code));
    for (const frame of frames) fuzzer.sendRaw(frame);
    const strangers = await Promise.all(
      frames.slice(0, 20).map(async (frame) => {
        const ws = new WebSocket(`${url}/v1/media`);
        const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
        await new Promise((resolve) => ws.once('open', resolve));
        ws.send(frame);
        return closed;
      }),
    );
    // Every stranger was closed with a policy error (its first frame was not a valid join).
    expect(new Set(await Promise.all(strangers))).toEqual(new Set([1008]));
    await waitFor(() => errors.length > 0);
    expect(errors.every((code) => ['INVALID_ARGUMENT', 'CONFLICT', 'NOT_FOUND', 'UNAUTHENTICATED'].includes(code))).toBe(true);

    // The meeting in progress still works.
    const got = collect(bob);
    for (let i = 0; i < 20; i++) {
      camera.writeRtp(vp8Packet(i, i === 0, randomBytes(300)));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => (got.get(ids.get('camera') as string)?.length ?? 0) >= 15);
    const stats = (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json();
    expect(stats.module.participants).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('refuses an offer whose sending sections are not all publications', async () => {
    const client = await join('m-1', 'alice');
    const pc = client.pc;
    pc.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendonly' });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const errors: string[] = [];
    client.on('refused', (e) => errors.push(e.message));
    client.sendRaw(JSON.stringify({ type: 'offer', sdp: offer.sdp, publications: [] }));
    await waitFor(() => errors.length === 1);
    expect(errors[0]).toMatch(/^mid \S+ sends but is not in publications$/);
  });

  it('ends a joined session whose client stops answering pings, and frees its units', async () => {
    // autoPong off: the client's connection is dead as far as the module can tell.
    const ws = new WebSocket(`${url}/v1/media`, { autoPong: false });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const joined = new Promise((resolve) => ws.once('message', resolve));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'join', ticket: ticket('m-1', 'ghost', { quality: 'HD' }) }));
    await joined;
    expect((await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module.usedUnits).toBe(2);
    // The module drops the connection without waiting for a closing handshake from a dead peer.
    expect([1006, 1008]).toContain(await closed);
    await waitFor(async () => {
      const stats = (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module;
      return stats.usedUnits === 0 && stats.sessions === 0 && stats.participants === 0;
    });
  });

  it('drops a session that never joins after the join timeout (releasing nothing it never held)', async () => {
    const { closed, messages } = await raw();
    // MEETEDGE_JOIN_TIMEOUT_MS is 1000 here.
    expect(await closed).toBe(1008);
    expect(messages[0]).toMatchObject({ code: 'UNAUTHENTICATED', message: 'no join message within the join timeout', fatal: true });
    const stats = (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module;
    expect(stats).toMatchObject({ sessions: 0, usedUnits: 0, meetings: 0 });
  });
});
