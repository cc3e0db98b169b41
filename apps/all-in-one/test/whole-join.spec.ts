/**
 * The whole join (issue [4] item 5), end to end in one process with real
 * sockets on 127.0.0.1 (here because it composes three apps, as the all-in-one does):
 * the control plane (REST, meeting server, zone controller over gRPC), a ZCP
 * of zone "hq", and a media module that registers with the ZCP over gRPC.
 * The SDK's joinMeeting signs in, asks to join, probes the zone, gets a module
 * and a ticket from the ZCP, opens media on the module and, for a cloud-hybrid
 * meeting, the cloud signaling, where the roster shows media on the module.
 */
import { createServer } from 'node:net';
import { joinMeeting, MediaClient, MeetingSignalClient } from '@meetedge/client';
import { generateTicketKeys, ModuleId, ZoneId, type MemberClaims } from '@meetedge/core';
import { buildApp as buildDashboard, loadDashboardConfig, type DashboardService } from '@meetedge/dashboard';
import { MemoryDirectory } from '@meetedge/directory';
import { createLogger, type Service } from '@meetedge/service-kit';
import { buildApp as buildSfu, loadSfuConfig } from '@meetedge/sfu';
import { MemoryClusterState } from '@meetedge/state';
import { waitFor } from '@meetedge/test-kit';
import { buildApp, loadZcpConfig, type ZcpService } from '@meetedge/zcp';

const logger = createLogger({ level: 'silent' });
const tokenKeys = generateTicketKeys();
const ticketKeys = generateTicketKeys();
const pem = {
  tokenPrivate: tokenKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  tokenPublic: tokenKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  ticketPrivate: ticketKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  ticketPublic: ticketKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
};

let dashboard: DashboardService;
let zcp: ZcpService;
let sfu: Service;
let dashboardUrl: string;
let admin: MemberClaims;
const state = new MemoryClusterState();
const clients: { leave(): Promise<void> }[] = [];

/** A free TCP port on 127.0.0.1 (the control plane tells clients its own URL, so it needs its port before it starts). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

beforeAll(async () => {
  const httpPort = await freePort();
  dashboard = buildDashboard(
    loadDashboardConfig({
      MEETEDGE_TOKEN_PRIVATE_KEY: pem.tokenPrivate,
      MEETEDGE_HTTP_PORT: String(httpPort),
      MEETEDGE_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
      MEETEDGE_GRPC_PORT: '0',
      MEETEDGE_STATE: 'memory',
    }),
    { logger, directory: new MemoryDirectory(), ownsDirectory: true, passwordParams: { N: 2 ** 10, r: 8, p: 1 } },
  );
  dashboardUrl = await dashboard.start();
  zcp = buildApp(
    loadZcpConfig({
      MEETEDGE_ZCP_ID: 'zcp-1',
      MEETEDGE_ZONE_ID: 'hq',
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_GRPC_PORT: '0',
      MEETEDGE_STATE: 'memory',
      MEETEDGE_TOKEN_PUBLIC_KEY: pem.tokenPublic,
      MEETEDGE_TICKET_PRIVATE_KEY: pem.ticketPrivate,
      MEETEDGE_ZONE_CONTROLLER_ADDRESS: `127.0.0.1:${dashboard.grpcPort()}`,
    }),
    { logger, state },
  );
  const zcpUrl = await zcp.start();
  sfu = buildSfu(
    loadSfuConfig({
      MEETEDGE_MODULE_ID: 'sfu-1',
      MEETEDGE_ZONE_ID: 'hq',
      MEETEDGE_NODE_ID: 'node-1',
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_STATE: 'memory',
      MEETEDGE_MEDIA_PORT: '0',
      MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
      MEETEDGE_TICKET_PUBLIC_KEY: pem.ticketPublic,
      MEETEDGE_ZCP_ADDRESSES: `127.0.0.1:${zcp.grpcPort()}`,
    }),
    { logger, state },
  );
  await sfu.start();
  // The account, its zone "hq" with the ZCP (and its URL) and the module, as an admin sets them up.
  const cp = dashboard.controlPlane;
  const { user } = await cp.createAccount({ name: 'Acme', admin: { email: 'ada@acme.example', displayName: 'Ada', password: 'correct horse battery' } }, true);
  admin = { kind: 'member', userId: user.id, accountId: user.accountId, role: 'admin', displayName: 'Ada' };
  await cp.createZone(admin, { name: 'HQ', id: 'hq' });
  const node = await cp.createNode(admin, 'hq', { name: 'rack-1', address: '127.0.0.1' });
  await cp.assignModule(admin, node.id, { id: 'zcp-1', kind: 'zcp', url: zcpUrl });
  await cp.assignModule(admin, node.id, { id: 'sfu-1', kind: 'sfu' });
  // The module registered over gRPC: the ZCP can place on it.
  await waitFor(async () => (await state.listModules(ZoneId('hq'))).some((m) => m.id === ModuleId('sfu-1')), { description: 'sfu-1 registered' });
});

afterAll(async () => {
  for (const c of clients) await c.leave().catch(() => undefined);
  await sfu.close();
  await zcp.close();
  await dashboard.close();
  await state.close();
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

it('joins a cloud-hybrid meeting in one call: media on the zone\'s module, signaling in the cloud, the roster saying where media is', async () => {
  const meeting = await dashboard.controlPlane.scheduleMeeting(admin, { topic: 'All hands', mode: 'cloud-hybrid' });
  const joined = await joinMeeting({ controlPlaneUrl: dashboardUrl, email: 'ada@acme.example', password: 'correct horse battery', meetingId: meeting.id, probeSamples: 2, ...open });
  expect(joined.zoneOrder).toEqual(['hq']);
  expect(joined.assignment).toMatchObject({ cloud: false, moduleId: 'sfu-1', mode: 'cloud-hybrid' });
  expect(joined.attachedTo).toBe('module');
  expect(joined.status).toBe('Your media is attached to a data center controlled by your account owner.');
  expect(joined.media.meetingId).toBe(meeting.id);
  const signal = joined.signal as MeetingSignalClient;
  await waitFor(() => signal.roster.get(signal.participantId)?.media?.kind === 'module', { description: 'the roster showing media on the module' });
  expect(signal.roster.get(signal.participantId)?.media).toEqual({ kind: 'module', moduleId: 'sfu-1' });
});

it('joins an internal-only meeting on the module, with no cloud signaling', async () => {
  const meeting = await dashboard.controlPlane.scheduleMeeting(admin, { topic: 'Board', mode: 'internal-only' });
  const joined = await joinMeeting({ controlPlaneUrl: dashboardUrl, email: 'ada@acme.example', password: 'correct horse battery', meetingId: meeting.id, probeSamples: 2, ...open });
  expect(joined.assignment).toMatchObject({ cloud: false, moduleId: 'sfu-1', mode: 'internal-only' });
  expect(joined.signal).toBeUndefined();
  expect(joined.media.meetingId).toBe(meeting.id);
});

it('says clearly when the password is wrong', async () => {
  const meeting = await dashboard.controlPlane.scheduleMeeting(admin, { topic: 'x', mode: 'internal-only' });
  await expect(
    joinMeeting({ controlPlaneUrl: dashboardUrl, email: 'ada@acme.example', password: 'wrong horse battery', meetingId: meeting.id, ...open }),
  ).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'wrong e-mail address or password' });
});
