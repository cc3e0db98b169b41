/**
 * A link a module opened serves its own participants: when the last of them
 * leaves, the module closes it, so the meeting ends on both sides instead of
 * the link keeping it alive for ever (found by
 * apps/all-in-one/test/cascade-processes.spec.ts: an internal-only meeting's
 * east-west link, its meeting on both modules and the top claim all stayed
 * after everyone had left). A link the far side opened stays while it serves
 * someone there. Two real modules in one process on one cluster state.
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
const modules = new Map<string, { app: SfuService; url: string }>();
const state = new MemoryClusterState();
const clients: MediaClient[] = [];

const mod = (id: string) => {
  const m = modules.get(id);
  if (!m) throw new Error(`no module ${id}`);
  return m;
};

async function join(moduleId: string, participant: string, meetingId: string, mode: MeetingMode): Promise<MediaClient> {
  const now = Date.now();
  const ticket = signTicket(
    {
      ticketId: ReservationId(`r-${participant}`),
      meetingId: MeetingId(meetingId),
      participantId: ParticipantId(participant),
      moduleId: ModuleId(moduleId),
      quality: 'SD',
      mode,
      displayName: participant,
      issuedAt: now,
      expiresAt: now + 60_000,
    },
    keys.privateKey,
  );
  const client = await MediaClient.join({ url: `${mod(moduleId).url}/v1/media`, ticket });
  clients.push(client);
  return client;
}

/** Resolves once `listener` got audio of `speaker` (who publishes a microphone for it): the link between them is fully up. */
async function hears(listener: MediaClient, speaker: MediaClient): Promise<void> {
  const mic = new MediaStreamTrack({ kind: 'audio' });
  const trackId = (await speaker.publish([{ source: 'microphone', track: mic }])).get('microphone');
  await waitFor(() => trackId !== undefined && listener.tracks.has(trackId), { timeoutMs: 15_000, description: `told of ${speaker.participantId}'s microphone` });
  await listener.receive();
  const slot = await waitFor(() => [...listener.remote.values()].find((r) => r.trackId === trackId), { timeoutMs: 15_000, description: 'a slot for it' });
  let got = 0;
  slot.onRtp(() => got++);
  let seq = 0;
  const pump = setInterval(() => {
    seq++;
    mic.writeRtp(new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: seq * 960, ssrc: 7 }), randomBytes(40)));
  }, 10);
  try {
    await waitFor(() => got > 0, { timeoutMs: 15_000, description: `${listener.participantId} hears ${speaker.participantId}` });
  } finally {
    clearInterval(pump);
  }
}

const linksOf = (id: string, meetingId: string) => mod(id).app.cascade.linkStats().filter((l) => l.meetingId === meetingId);
const carries = (id: string, meetingId: string) => mod(id).app.media.existingMeeting(MeetingId(meetingId)) !== undefined;

beforeAll(async () => {
  for (const id of ['sfu-a', 'sfu-b']) {
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
    await state.registerModule(
      {
        id: ModuleId(id),
        zoneId: ZoneId('hq'),
        nodeId: NodeId(`node-${id}`),
        role: 'edge',
        mediaUrl: `${mod(id).url.replace('http:', 'ws:')}/v1/media`,
        capacityUnits: 400,
        version: '0.1.0',
        cascadeAddress: `127.0.0.1:${app.cascade.boundPort}`,
      },
      600_000,
    );
  }
});

afterAll(async () => {
  for (const c of clients) await c.leave().catch(() => undefined);
  for (const m of modules.values()) await m.app.close();
  await state.close();
});

it('internal-only: the last participant leaving the linked module closes its east-west link; the top keeps the link while it serves someone there; when everyone left, the meeting ends on both and the top claim is released', async () => {
  const meeting = 'm-idle-east-west';
  const carol = await join('sfu-a', 'carol', meeting, 'internal-only');
  await waitFor(async () => (await state.getTop(MeetingId(meeting))) === 'sfu-a', { description: 'sfu-a is top' });
  const dave = await join('sfu-b', 'dave', meeting, 'internal-only');
  await hears(carol, dave);
  expect([linksOf('sfu-a', meeting).length, linksOf('sfu-b', meeting).length]).toEqual([1, 1]);

  // Dave leaves: sfu-b has nobody of the meeting, its link closes and the meeting ends there; carol stays on the top.
  await dave.leave();
  await waitFor(() => linksOf('sfu-a', meeting).length === 0 && !carries('sfu-b', meeting), { timeoutMs: 15_000, description: "sfu-b's link closed and its meeting ended" });
  expect(mod('sfu-a').app.media.existingMeeting(MeetingId(meeting))?.roster().map((p) => p.participantId)).toEqual(['carol']);

  // Someone comes back to sfu-b: it links again. Then the top's own participant leaves first: the link stays for erin.
  const erin = await join('sfu-b', 'erin', meeting, 'internal-only');
  await hears(carol, erin);
  expect(linksOf('sfu-b', meeting)).toHaveLength(1);
  await carol.leave();
  await waitFor(() => mod('sfu-b').app.media.existingMeeting(MeetingId(meeting))?.roster().length === 1, { timeoutMs: 15_000, description: 'carol gone from sfu-b' });
  expect([linksOf('sfu-a', meeting).length, linksOf('sfu-b', meeting).length, carries('sfu-a', meeting)]).toEqual([1, 1, true]);

  // The last one leaves: nothing of the meeting stays anywhere.
  await erin.leave();
  await waitFor(() => !carries('sfu-a', meeting) && !carries('sfu-b', meeting), { timeoutMs: 15_000, description: 'the meeting ended on both modules' });
  expect([linksOf('sfu-a', meeting), linksOf('sfu-b', meeting)]).toEqual([[], []]);
  await waitFor(async () => (await state.getTop(MeetingId(meeting))) === undefined, { description: 'the top claim released' });
});

it('cloud-hybrid: a module whose last participant leaves closes the link it opened, even while the need for it lasts', async () => {
  const meeting = 'm-idle-north-south';
  const frank = await join('sfu-a', 'frank', meeting, 'cloud-hybrid');
  const grace = await join('sfu-b', 'grace', meeting, 'cloud-hybrid');
  // sfu-b stands in for the cloud MMR: sfu-a was told to link the meeting to it.
  await mod('sfu-a').app.cascade.ensureLink(MeetingId(meeting), { serverId: ModuleId('sfu-b'), address: `127.0.0.1:${mod('sfu-b').app.cascade.boundPort}` });
  expect(linksOf('sfu-a', meeting)).toEqual([expect.objectContaining({ role: 'opener', peerServerId: 'sfu-b' })]);
  await hears(grace, frank);

  // Grace (on the far side) leaving changes nothing on sfu-a.
  await grace.leave();
  await waitFor(() => mod('sfu-b').app.media.existingMeeting(MeetingId(meeting))?.participants.size === 0, { description: 'grace gone' });
  expect(linksOf('sfu-a', meeting)).toHaveLength(1);
  // Frank leaving: sfu-a closes its link, and the meeting ends on both sides.
  await frank.leave();
  await waitFor(() => !carries('sfu-a', meeting) && !carries('sfu-b', meeting), { timeoutMs: 15_000, description: 'the meeting ended on both sides' });
  expect(linksOf('sfu-a', meeting)).toEqual([]);
});
