/**
 * The whole join (issue [4] item 5), end to end on the all-in-one system
 * itself (what `npm start` runs), with real sockets on 127.0.0.1: the
 * control plane (REST, meeting server, zone controller over gRPC), zone
 * "local" with two ZCPs and two modules that registered with both over gRPC,
 * and the cloud MMR. The SDK's joinMeeting signs in, asks to join, probes the
 * zone, gets a module and a ticket from a ZCP, opens media on the module and,
 * for a cloud-hybrid meeting, the cloud signaling, where the roster shows
 * media on the module.
 */
import { joinMeeting, MediaClient, MeetingSignalClient } from '@meetedge/client';
import { MeetingId, ModuleId, ZoneId, type MemberClaims } from '@meetedge/core';
import { createLogger } from '@meetedge/service-kit';
import { waitFor } from '@meetedge/test-kit';
import { loadAllInOneConfig } from '../src/config';
import { DEMO, LOCAL_ZONE, buildSystem, seedDemo, type AllInOneSystem } from '../src/system';
import { freePort } from './support/processes';

jest.setTimeout(30_000);

const logger = createLogger({ level: 'silent' });
let system: AllInOneSystem;
let dashboardUrl: string;
let admin: MemberClaims;
const clients: { leave(): Promise<void> }[] = [];

beforeAll(async () => {
  const ports = Object.fromEntries(
    ['ZCP', 'ZCP2', 'SFU', 'SFU2', 'CLOUD_MMR'].flatMap((s) => [[`MEETEDGE_${s}_PORT`, '0']]).concat(
      ['ZCP_GRPC', 'ZCP2_GRPC', 'SFU_MEDIA', 'SFU2_MEDIA', 'CLOUD_MMR_MEDIA', 'DASHBOARD_GRPC', 'CLOUD_MMR_CASCADE', 'SFU_CASCADE', 'SFU2_CASCADE'].map((s) => [`MEETEDGE_${s}_PORT`, '0']),
    ),
  );
  system = buildSystem(loadAllInOneConfig({ ...ports, MEETEDGE_DASHBOARD_PORT: String(await freePort()), MEETEDGE_LOG_LEVEL: 'silent' }), logger);
  const urls: string[] = [];
  for (const service of system.services) urls.push(await service.start());
  dashboardUrl = urls[0] ?? '';
  ({ admin } = await seedDemo(system, system.zcps.map((z) => urls[system.services.indexOf(z)] ?? '')));
  // Both modules registered with both ZCPs over gRPC: any ZCP can place on either.
  await waitFor(async () => (await system.state.listModules(ZoneId(LOCAL_ZONE))).length === 2, { description: 'sfu-1 and sfu-2 registered' });
  await waitFor(() => system.zcps.every((z) => z.registry.connectedModules().length === 2), { description: 'both on both ZCPs' });
});

afterAll(async () => {
  for (const c of clients) await c.leave().catch(() => undefined);
  for (const service of [...system.services].reverse()) await service.close();
  await system.state.close();
});

const open = {
  openMedia: async (url: string, ticket: string) => {
    const media = await MediaClient.join({ url, ticket });
    clients.push(media);
    return media;
  },
  openSignal: async (url: string, token: string) => {
    const signal = await MeetingSignalClient.connect({ url, token });
    clients.push(signal);
    return signal;
  },
};

const join = (meetingId: string) =>
  joinMeeting({ controlPlaneUrl: dashboardUrl, email: DEMO.email, password: DEMO.password, meetingId, probeSamples: 2, ...open });

/** Participants the ZCPs were told arrived (reservations confirmed), over both ZCPs. */
async function arrivedTotal(): Promise<number> {
  let total = 0;
  for (const zcp of system.zcps) {
    const metrics = await zcp.http.inject({ method: 'GET', url: '/metrics' });
    total += Number(/meetedge_zcp_participants_arrived_total\{[^}]*\} (\d+)/.exec(metrics.body)?.[1] ?? 0);
  }
  return total;
}

it('joins a cloud-hybrid meeting in one call: media on a module of the zone, signaling in the cloud, the roster saying where media is', async () => {
  const meeting = await system.dashboard.controlPlane.scheduleMeeting(admin, { topic: 'All hands', mode: 'cloud-hybrid' });
  const joined = await join(meeting.id);
  expect(joined.zoneOrder).toEqual([LOCAL_ZONE]);
  expect(joined.assignment).toMatchObject({ cloud: false, mode: 'cloud-hybrid' });
  expect(['sfu-1', 'sfu-2']).toContain(joined.assignment.moduleId);
  expect(joined.attachedTo).toBe('module');
  expect(joined.status).toBe('Your media is attached to a data center controlled by your account owner.');
  expect(joined.media.meetingId).toBe(meeting.id);
  const signal = joined.signal as MeetingSignalClient;
  await waitFor(() => signal.roster.get(signal.participantId)?.media?.kind === 'module', { description: 'the roster showing media on the module' });
  expect(signal.roster.get(signal.participantId)?.media).toEqual({ kind: 'module', moduleId: joined.assignment.moduleId });
});

it('holds the participant\'s units while it is there: confirmed when media opens, freed when it leaves', async () => {
  const meeting = await system.dashboard.controlPlane.scheduleMeeting(admin, { topic: 'Standup', mode: 'internal-only' });
  const before = await arrivedTotal();
  const joined = await join(meeting.id);
  const moduleId = ModuleId(joined.assignment.moduleId);
  // Its signaling is the module's (the meeting's top holds the roster); the ZCP's meeting info gave it the topic, and the host's ticket its mark.
  const signal = joined.signal as MeetingSignalClient;
  expect(signal.meeting).toMatchObject({ id: meeting.id, topic: 'Standup', mode: 'internal-only' });
  expect(signal.isHost).toBe(true);
  await waitFor(() => signal.roster.get(signal.participantId)?.media?.kind === 'module', { description: 'the roster showing media on the module' });
  // The module told a ZCP the participant arrived: its reservation no longer expires with the ticket.
  await waitFor(async () => (await arrivedTotal()) === before + 1, { description: 'participant_arrived reached a ZCP' });
  const unitsBefore = (await system.state.getModule(moduleId))?.reservedUnits ?? 0;
  expect(unitsBefore).toBeGreaterThanOrEqual(1);
  expect(await system.state.meetingModules(MeetingId(meeting.id))).toEqual([moduleId]);
  await (joined.media as MediaClient).leave();
  // It left: its units are free and the meeting no longer points at the module.
  await waitFor(async () => (await system.state.meetingModules(MeetingId(meeting.id))).length === 0, { description: 'meeting record gone' });
  const unitsAfter = (await system.state.getModule(moduleId))?.reservedUnits ?? 0;
  // SD holds 1 unit, HD 2: exactly what it held is free again.
  expect([1, 2]).toContain(unitsBefore - unitsAfter);
});

it('puts a second participant of a meeting on the module that already has it', async () => {
  const meeting = await system.dashboard.controlPlane.scheduleMeeting(admin, { topic: 'Pairing', mode: 'internal-only' });
  const first = await join(meeting.id);
  const second = await join(meeting.id);
  expect(second.assignment.moduleId).toBe(first.assignment.moduleId);
});

it('says clearly when the password is wrong', async () => {
  const meeting = await system.dashboard.controlPlane.scheduleMeeting(admin, { topic: 'x', mode: 'internal-only' });
  await expect(
    joinMeeting({ controlPlaneUrl: dashboardUrl, email: DEMO.email, password: 'wrong horse battery', meetingId: meeting.id, ...open }),
  ).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'wrong e-mail address or password' });
});

it('joins through the zone\'s other ZCP when one is down', async () => {
  await system.zcps[0]?.close();
  const meeting = await system.dashboard.controlPlane.scheduleMeeting(admin, { topic: 'Failover', mode: 'internal-only' });
  const joined = await join(meeting.id);
  expect(joined.attachedTo).toBe('module');
  expect(joined.media.meetingId).toBe(meeting.id);
});
