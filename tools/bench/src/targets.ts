/**
 * The two forwarders under test, each in its own process, and how the bench's
 * clients (one publisher, N subscribers, all in the bench process so they
 * share one clock) connect to them.
 */
import type { ChildProcess } from 'node:child_process';
import { MediaClient } from '@meetedge/client';
import { MeetingId, ModuleId, ParticipantId, ReservationId, generateTicketKeys, signTicket } from '@meetedge/core';
import type { ConnectionReporter } from '@meetedge/werift-kit';
import { MediaStreamTrack, type RTCPeerConnection, type RtpPacket } from 'werift';
import { clientPeer, reportReceived } from './client-peer';
import { LOOPBACK, connected, gathered } from './peers';
import { freeTcpPort, freeUdpPort, spawnNode, stopChild, waitForHttp } from './proc';

export type TargetName = 'meetedge' | 'plain';

/** What a subscriber hands each received packet to. */
export type OnPacket = (subscriber: number, packet: RtpPacket) => void;

export interface Publisher {
  readonly track: MediaStreamTrack;
  /** Called when a keyframe is requested (PLI) from the publisher. */
  onKeyframeRequest(listener: () => void): void;
}

export interface Target {
  readonly name: TargetName;
  readonly pid: number;
  /** Packets received from publishers and handed to subscribers' senders, since start. */
  counters(): Promise<{ packetsIn: number; packetsOut: number }>;
  publish(): Promise<Publisher>;
  subscribe(index: number, onPacket: OnPacket): Promise<void>;
  close(): Promise<void>;
}

const LIFETIME_MS = 30 * 60_000;

function publisherOf(pc: RTCPeerConnection, track: MediaStreamTrack): Publisher {
  const sender = pc.getTransceivers().find((t) => t.sender.track === track)?.sender;
  if (!sender) throw new Error('no sender for the published track');
  return { track, onKeyframeRequest: (listener) => void sender.onPictureLossIndication.subscribe(listener) };
}

/** A running module process: its HTTP base URL, media-session URL and ticket signing. */
export interface ModuleProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly base: string;
  readonly mediaUrl: string;
  ticket(meetingId: string, participantId: string): string;
  stats(): Promise<{ packetsIn: number; packetsOut: number; bytesOut: number; packetsDropped: number; usedUnits: number; participants: number }>;
}

/** meetedge's module (`apps/sfu/src/main.ts`) in its own process, on the memory store, 127.0.0.1 only. */
export async function startModule(capacityUnits: number): Promise<ModuleProcess> {
  const [httpPort, mediaPort] = [await freeTcpPort(), await freeUdpPort()];
  const keys = generateTicketKeys();
  const child = spawnNode(
    'apps/sfu/src/main.ts',
    {
      MEETEDGE_MODULE_ID: 'bench-sfu',
      MEETEDGE_ZONE_ID: 'bench',
      MEETEDGE_NODE_ID: 'bench-node',
      MEETEDGE_STATE: 'memory',
      MEETEDGE_HTTP_PORT: String(httpPort),
      MEETEDGE_MEDIA_PORT: String(mediaPort),
      // Its Cascade gRPC server on any free port, not the default 9701 a test run may hold.
      MEETEDGE_CASCADE_PORT: '0',
      MEETEDGE_MEDIA_LISTEN_IP: LOOPBACK,
      MEETEDGE_ANNOUNCED_IP: LOOPBACK,
      MEETEDGE_CAPACITY_UNITS: String(capacityUnits),
      MEETEDGE_TICKET_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      MEETEDGE_LOG_LEVEL: process.env.BENCH_MODULE_LOG_LEVEL ?? 'warn',
      // BENCH_MODULE_FAST_PATH=off measures the module's JavaScript path (docs/fastpath.md).
      MEETEDGE_MEDIA_FAST_PATH: process.env.BENCH_MODULE_FAST_PATH ?? 'auto',
    },
    LIFETIME_MS,
  );
  const base = `http://${LOOPBACK}:${httpPort}`;
  await waitForHttp(`${base}/v1/stats`, 60_000, child);
  return {
    child,
    pid: pidOf(child),
    base,
    mediaUrl: `ws://${LOOPBACK}:${httpPort}/v1/media`,
    ticket(meetingId, participantId) {
      const now = Date.now();
      return signTicket(
        {
          ticketId: ReservationId(`r-${meetingId}-${participantId}`),
          meetingId: MeetingId(meetingId),
          participantId: ParticipantId(participantId),
          moduleId: ModuleId('bench-sfu'),
          quality: 'SD',
          mode: 'cloud-hybrid',
          displayName: participantId,
          issuedAt: now,
          expiresAt: now + 3_600_000,
        },
        keys.privateKey,
      );
    },
    async stats() {
      return ((await (await fetch(`${base}/v1/stats`)).json()) as { module: Awaited<ReturnType<ModuleProcess['stats']>> }).module;
    },
  };
}

/** Scenario (a) on meetedge's module; clients are libs/client MediaClients in the bench process. */
export async function startMeetedge(): Promise<Target> {
  const module = await startModule(1000);
  const clients: MediaClient[] = [];
  const join = async (participant: string): Promise<MediaClient> => {
    const client = await MediaClient.join({ url: module.mediaUrl, ticket: module.ticket('bench', participant), createPeer: clientPeer });
    clients.push(client);
    return client;
  };
  return {
    name: 'meetedge',
    pid: module.pid,
    async counters() {
      const stats = await module.stats();
      return { packetsIn: stats.packetsIn, packetsOut: stats.packetsOut };
    },
    async publish() {
      const client = await join('publisher');
      const camera = new MediaStreamTrack({ kind: 'video' });
      await client.publish([{ source: 'camera', track: camera }]);
      await client.connected(20_000);
      return publisherOf(client.pc, camera);
    },
    async subscribe(index, onPacket) {
      const client = await join(`subscriber-${index}`);
      await client.receive();
      await client.connected(20_000);
      const video = [...client.remote.values()].filter((r) => r.kind === 'video');
      if (video.length !== 1) throw new Error(`subscriber ${index} has ${video.length} video slots, expected 1`);
      for (const remote of video) remote.track.onReceiveRtp.subscribe((packet) => onPacket(index, packet));
    },
    async close() {
      await Promise.allSettled(clients.splice(0).map((c) => c.leave()));
      await stopChild(module.child);
    },
  };
}

/** The naive werift forwarder (plain-forwarder.ts); clients are bare werift connections with the same options. */
export async function startPlain(): Promise<Target> {
  const port = await freeTcpPort();
  const child = spawnNode('tools/bench/src/plain-forwarder.ts', { BENCH_PORT: String(port) }, LIFETIME_MS);
  const base = `http://${LOOPBACK}:${port}`;
  await waitForHttp(`${base}/stats`, 60_000, child);
  const peers: RTCPeerConnection[] = [];
  const reporters: ConnectionReporter[] = [];
  const negotiate = async (pc: RTCPeerConnection, path: '/publish' | '/subscribe') => {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sdp: pc.localDescription?.sdp }),
    });
    const reply = (await response.json()) as { sdp?: string; error?: string };
    if (!response.ok || !reply.sdp) throw new Error(`plain forwarder ${path}: ${reply.error ?? response.status}`);
    await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    await connected(pc);
  };
  return {
    name: 'plain',
    pid: pidOf(child),
    async counters() {
      return (await (await fetch(`${base}/stats`)).json()) as { packetsIn: number; packetsOut: number };
    },
    async publish() {
      const pc = clientPeer();
      peers.push(pc);
      reporters.push(reportReceived(pc));
      const camera = new MediaStreamTrack({ kind: 'video' });
      pc.addTransceiver(camera, { direction: 'sendonly' });
      await negotiate(pc, '/publish');
      return publisherOf(pc, camera);
    },
    async subscribe(index, onPacket) {
      const pc = clientPeer();
      peers.push(pc);
      reporters.push(reportReceived(pc));
      const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
      transceiver.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((packet) => onPacket(index, packet)));
      await negotiate(pc, '/subscribe');
    },
    async close() {
      for (const reporter of reporters.splice(0)) reporter.close();
      await Promise.allSettled(peers.splice(0).map((pc) => pc.close()));
      await stopChild(child);
    },
  };
}

function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('child process did not start');
  return child.pid;
}
