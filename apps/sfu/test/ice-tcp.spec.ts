/**
 * ICE-TCP end to end, in one process: a real module (fastify, WebSocket,
 * werift, the shared UDP and TCP media ports) and werift clients that have no
 * UDP at all, as behind a firewall that lets only TCP out. Everything runs on
 * 127.0.0.1. Payloads must arrive byte for byte over TCP; the module's stats
 * must show the TCP port carried them; garbage on the TCP port is refused
 * without disturbing anyone.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { MediaClient } from '@meetedge/client';
import { MeetingId, ModuleId, ParticipantId, ReservationId, generateTicketKeys, signTicket } from '@meetedge/core';
import { createLogger, type Service } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { waitFor } from '@meetedge/test-kit';
import {
  Message,
  MediaStreamTrack,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  classes,
  methods,
  useAbsSendTime,
  useAudioLevelIndication,
  useNACK,
  useOPUS,
  usePLI,
  useREMB,
  useSdesMid,
  useVP8,
  type IceConnection,
} from 'werift';
import { buildApp } from '../src/app';
import { loadSfuConfig } from '../src/config';
import type { TcpMuxStats, UdpMuxStats } from '../src/webrtc';

const LOOPBACK = '127.0.0.1';
const keys = generateTicketKeys();
let app: Service | undefined;
let url: string;
const clients: MediaClient[] = [];
const sockets: net.Socket[] = [];

function ticket(meeting: string, participant: string): string {
  const now = Date.now();
  return signTicket(
    {
      ticketId: ReservationId(`r-${participant}`),
      meetingId: MeetingId(meeting),
      participantId: ParticipantId(participant),
      moduleId: ModuleId('sfu-1'),
      quality: 'SD',
      mode: 'cloud-hybrid',
      displayName: participant,
      issuedAt: now,
      expiresAt: now + 60_000,
    },
    keys.privateKey,
  );
}

async function start(env: Record<string, string> = {}): Promise<Service> {
  const config = loadSfuConfig({
    MEETEDGE_MODULE_ID: 'sfu-1',
    MEETEDGE_ZONE_ID: 'hq',
    MEETEDGE_NODE_ID: 'n1',
    MEETEDGE_HTTP_PORT: '0',
    MEETEDGE_HTTP_HOST: LOOPBACK,
    MEETEDGE_STATE: 'memory',
    MEETEDGE_MEDIA_PORT: '0',
    MEETEDGE_CASCADE_PORT: '0',
    MEETEDGE_MEDIA_LISTEN_IP: LOOPBACK,
    MEETEDGE_ANNOUNCED_IP: LOOPBACK,
    MEETEDGE_TICKET_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ...env,
  });
  app = buildApp(config, { logger: createLogger({ level: 'silent' }), state: new MemoryClusterState(), ownsState: true });
  url = (await app.start()).replace('http:', 'ws:');
  return app;
}

/**
 * A werift client with no UDP: its only candidates are TCP host candidates on
 * 127.0.0.1 (werift's own TCP, client side: an active candidate that connects
 * to the module, and a passive one nobody uses).
 */
function tcpOnlyPeer(): RTCPeerConnection {
  const feedback = () => [useNACK(), usePLI(), useREMB()];
  return new RTCPeerConnection({
    iceServers: [],
    bundlePolicy: 'max-bundle',
    iceUseIpv4: true,
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: LOOPBACK },
    iceAdditionalHostAddresses: [LOOPBACK],
    iceUseTcp: true,
    // werift gathers no UDP host candidate when its transport cannot be had.
    iceUdpTransportFactory: () => Promise.reject(new Error('this client has no UDP')),
    codecs: { audio: [useOPUS()], video: [useVP8({ rtcpFeedback: feedback() })] },
    headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()], video: [useSdesMid(), useAbsSendTime()] },
  });
}

async function join(meeting: string, participant: string, createPeer?: () => RTCPeerConnection): Promise<MediaClient> {
  const client = await MediaClient.join({ url: `${url}/v1/media`, ticket: ticket(meeting, participant), createPeer });
  clients.push(client);
  return client;
}

function iceOf(client: MediaClient): IceConnection {
  const transport = client.pc.iceTransports[0];
  if (!transport) throw new Error('expected an ICE transport');
  return transport.connection;
}

async function stats(): Promise<{ udp: UdpMuxStats; tcp?: TcpMuxStats & { connections: number } }> {
  const res = await app?.http.inject({ method: 'GET', url: '/v1/stats' });
  return res?.json() as { udp: UdpMuxStats; tcp?: TcpMuxStats & { connections: number } };
}

async function mediaPort(): Promise<number> {
  const res = await app?.http.inject({ method: 'GET', url: '/v1/module' });
  return (res?.json() as { mediaPort: number }).mediaPort;
}

/** A raw TCP connection to the media port; resolves when the module closes it. */
async function rawConnection(port: number, send: Buffer): Promise<void> {
  const socket = net.connect({ host: LOOPBACK, port });
  sockets.push(socket);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.once('connect', () => socket.write(send));
  });
}

function vp8Packet(seq: number, key: boolean, body: Buffer): RtpPacket {
  const payload = Buffer.concat([Buffer.from([0x10, key ? 0x00 : 0x01, 0x00, 0x9d]), body]);
  return new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp: seq * 3000, ssrc: 1, marker: true }), payload);
}

function opusPacket(seq: number, body: Buffer): RtpPacket {
  return new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: seq * 960, ssrc: 2, marker: false }), body);
}

function candidateTransports(sdp: string | undefined): string[] {
  return [...(sdp ?? '').matchAll(/^a=candidate:\S+ \d+ (\S+) /gm)].map((m) => (m[1] ?? '').toLowerCase());
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.leave()));
  for (const socket of sockets.splice(0)) socket.destroy();
  await app?.close();
  app = undefined;
});

describe('ICE-TCP on the media port', () => {
  it('carries a meeting between clients without UDP, byte for byte, and refuses garbage on the port meanwhile', async () => {
    await start();
    const port = await mediaPort();

    // Strangers on the TCP port are turned away; the module goes on serving.
    await rawConnection(port, Buffer.from('GET / HTTP/1.1\r\nHost: sfu\r\n\r\n'));
    const stranger = new Message(methods.BINDING, classes.REQUEST).setAttribute('USERNAME', 'nobody:stranger').bytes;
    await rawConnection(port, Buffer.concat([Buffer.from([0, stranger.length]), stranger]));

    const alice = await join('m-1', 'alice', tcpOnlyPeer);
    const mic = new MediaStreamTrack({ kind: 'audio' });
    const camera = new MediaStreamTrack({ kind: 'video' });
    const ids = await alice.publish([
      { source: 'microphone', track: mic },
      { source: 'camera', track: camera },
    ]);
    const bob = await join('m-1', 'bob', tcpOnlyPeer);
    await bob.receive();
    await Promise.all([alice.connected(), bob.connected()]);

    // Both clients offered TCP only, and ICE selected TCP pairs to the module's port.
    for (const client of [alice, bob]) {
      expect(new Set(candidateTransports(client.pc.localDescription?.sdp))).toEqual(new Set(['tcp']));
      const pair = iceOf(client).nominated;
      expect(pair?.localCandidate.transport).toBe('tcp');
      expect(pair?.remoteCandidate).toMatchObject({ transport: 'tcp', tcptype: 'passive', host: LOOPBACK, port });
    }

    const got = new Map<string, Buffer[]>();
    for (const remote of bob.remote.values()) {
      remote.onRtp((packet) => {
        const id = remote.trackId ?? 'unbound';
        got.set(id, [...(got.get(id) ?? []), Buffer.from(packet.payload)]);
      });
    }
    const received = (source: 'camera' | 'microphone') => got.get(ids.get(source) as string) ?? [];
    let seq = 0;
    const send = (key: boolean) => {
      const video = randomBytes(1000);
      const audio = randomBytes(120);
      camera.writeRtp(vp8Packet(100 + seq, key, video));
      mic.writeRtp(opusPacket(900 + seq, audio));
      seq++;
      return { camera: Buffer.concat([Buffer.from([0x10, key ? 0x00 : 0x01, 0x00, 0x9d]), video]), microphone: audio };
    };
    // Bob's client is connected, but the module's side of his connection may
    // finish its handshake a moment later (his last flight and Alice's first
    // packets travel on different TCP connections): warm up with keyframes
    // until media reaches him.
    const warmUp = { camera: new Set<string>(), microphone: new Set<string>() };
    await waitFor(
      async () => {
        const packet = send(true);
        warmUp.camera.add(packet.camera.toString('hex'));
        warmUp.microphone.add(packet.microphone.toString('hex'));
        await new Promise((resolve) => setTimeout(resolve, 20));
        return received('camera').length > 0 && received('microphone').length > 0;
      },
      { timeoutMs: 10_000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sent = { camera: [] as Buffer[], microphone: [] as Buffer[] };
    for (let i = 0; i < 40; i++) {
      const packet = send(false);
      sent.camera.push(packet.camera);
      sent.microphone.push(packet.microphone);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // TCP loses nothing: after the warm-up, every packet arrives, in order, byte for byte.
    const counts = { camera: 0, microphone: 0 };
    const arrived = (source: 'camera' | 'microphone') =>
      received(source).length >= 40 && received(source).slice(-40).every((payload, i) => payload.equals(sent[source][i] as Buffer));
    await waitFor(() => arrived('camera') && arrived('microphone'), { timeoutMs: 10_000 });
    for (const source of ['camera', 'microphone'] as const) {
      const all = received(source);
      expect(all.slice(-40)).toEqual(sent[source]);
      expect(all.slice(0, -40).every((payload) => warmUp[source].has(payload.toString('hex')))).toBe(true);
      counts[source] = all.length;
    }

    const { udp, tcp } = await stats();
    expect(udp.datagramsIn).toBe(0);
    expect(tcp).toMatchObject({ connectionsAssigned: 2, connections: 2, refusedOversized: 1, refusedUnknownUfrag: 1, handlerErrors: 0, framesDroppedOut: 0 });
    expect(tcp?.framesIn).toBeGreaterThan(2 * seq);
    expect(tcp?.framesOut).toBeGreaterThan(counts.camera + counts.microphone);

    const metrics = (await app?.http.inject({ method: 'GET', url: '/metrics' }))?.body ?? '';
    const metric = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, 'm').exec(metrics)?.[1]);
    expect(metric('meetedge_sfu_tcp_frames_in_total')).toBeGreaterThanOrEqual(tcp?.framesIn ?? Infinity);
    expect(metric('meetedge_sfu_tcp_connections_total')).toBe(4);
    expect(metric('meetedge_sfu_tcp_connections')).toBe(2);
    expect(metric('meetedge_sfu_tcp_refused_total')).toBe(2);
    expect(metric('meetedge_sfu_udp_datagrams_in_total')).toBe(0);

    // Leaving releases the TCP connections.
    await Promise.all(clients.splice(0).map((c) => c.leave()));
    await waitFor(async () => (await stats()).tcp?.connections === 0, { timeoutMs: 5_000 });
  });

  it('MEETEDGE_ICE_TCP=false: no TCP candidate and no TCP port; UDP clients are unaffected', async () => {
    await start({ MEETEDGE_ICE_TCP: 'false' });
    const port = await mediaPort();
    const client = await join('m-1', 'carol');
    await client.publish([{ source: 'camera', track: new MediaStreamTrack({ kind: 'video' }) }]);
    await client.connected();
    expect(candidateTransports(client.pc.remoteDescription?.sdp)).toEqual(['udp']);
    expect((await stats()).tcp).toBeUndefined();
    await expect(
      new Promise((resolve, reject) => {
        const socket = net.connect({ host: LOOPBACK, port }, () => resolve(socket));
        sockets.push(socket);
        socket.once('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});
