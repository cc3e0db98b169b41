/**
 * The cloud meeting server's counters on the control plane's /metrics: a real
 * dashboard on port 0 and SDK signaling clients over loopback WebSockets.
 * What it holds now follows the rooms; the totals never go down, and a hello
 * for an internal-only meeting is counted as refused with no room opened.
 */
import { MeetingSignalClient } from '@meetedge/client';
import { generateTicketKeys, signAccessToken, type MemberClaims } from '@meetedge/core';
import { MemoryDirectory } from '@meetedge/directory';
import { createLogger } from '@meetedge/service-kit';
import { waitFor } from '@meetedge/test-kit';
import { buildApp, type DashboardService } from '../app';
import { loadDashboardConfig } from '../config';

const keys = generateTicketKeys();
let app: DashboardService;
let signalBase: string;
let admin: MemberClaims;

beforeAll(async () => {
  app = buildApp(
    loadDashboardConfig({
      MEETEDGE_TOKEN_PRIVATE_KEY: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      MEETEDGE_STATE: 'memory',
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_GRPC_PORT: '0',
    }),
    { logger: createLogger({ level: 'silent' }), directory: new MemoryDirectory(), ownsDirectory: true, passwordParams: { N: 2 ** 10, r: 8, p: 1 } },
  );
  signalBase = (await app.start()).replace(/^http/, 'ws');
  const { user } = await app.controlPlane.createAccount({ name: 'Acme', admin: { email: 'ada@acme.example', displayName: 'Ada', password: 'correct horse battery' } }, true);
  admin = { kind: 'member', userId: user.id, accountId: user.accountId, role: 'admin', displayName: user.displayName };
});

afterAll(async () => {
  await app.close();
});

function token(): string {
  const issuedAt = Math.floor(Date.now() / 1000);
  return signAccessToken({ ...admin, tokenId: `t-${issuedAt}`, issuedAt, expiresAt: issuedAt + 900 }, keys.privateKey);
}

/** The meeting server's series on /metrics, by name (with labels). */
async function scrape(): Promise<Record<string, number>> {
  const res = await app.http.inject({ method: 'GET', url: '/metrics' });
  const out: Record<string, number> = {};
  for (const line of res.body.split('\n')) {
    const m = /^(meetedge_meeting_server_\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m?.[1] && m[2]) out[m[1].replace(/,?service="dashboard",?/, '').replace('{}', '')] = Number(m[2]);
  }
  return out;
}

const connect = (meetingId: string) => MeetingSignalClient.connect({ url: `${signalBase}/v1/meetings/${meetingId}/signal`, token: token(), timeoutMs: 5000 });

it('counts sessions, hellos and rooms: what it holds now follows the rooms, the totals never go down', async () => {
  const hybrid = await app.controlPlane.scheduleMeeting(admin, { topic: 'Weekly', mode: 'cloud-hybrid' });
  const internal = await app.controlPlane.scheduleMeeting(admin, { topic: 'Secret', mode: 'internal-only' });
  expect(await scrape()).toEqual({
    meetedge_meeting_server_rooms: 0,
    meetedge_meeting_server_participants: 0,
    meetedge_meeting_server_sessions: 0,
    meetedge_meeting_server_sessions_opened_total: 0,
    meetedge_meeting_server_rooms_opened_total: 0,
    'meetedge_meeting_server_hellos_total{result="admitted"}': 0,
    'meetedge_meeting_server_hellos_total{result="refused"}': 0,
  });

  const first = await connect(hybrid.id);
  expect(await scrape()).toMatchObject({
    meetedge_meeting_server_rooms: 1,
    meetedge_meeting_server_participants: 1,
    meetedge_meeting_server_sessions: 1,
    meetedge_meeting_server_sessions_opened_total: 1,
    meetedge_meeting_server_rooms_opened_total: 1,
    'meetedge_meeting_server_hellos_total{result="admitted"}': 1,
  });

  // An internal-only meeting's signaling is not the cloud's: refused, no room.
  await expect(connect(internal.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  await waitFor(async () => (await scrape()).meetedge_meeting_server_sessions === 1, { description: 'the refused session closed' });
  expect(await scrape()).toMatchObject({
    meetedge_meeting_server_rooms: 1,
    meetedge_meeting_server_sessions_opened_total: 2,
    meetedge_meeting_server_rooms_opened_total: 1,
    'meetedge_meeting_server_hellos_total{result="admitted"}': 1,
    'meetedge_meeting_server_hellos_total{result="refused"}': 1,
  });

  // The room empties and closes; joining again opens it anew.
  await first.leave();
  await waitFor(async () => (await scrape()).meetedge_meeting_server_rooms === 0, { description: 'the room closed' });
  const again = await connect(hybrid.id);
  expect(await scrape()).toMatchObject({
    meetedge_meeting_server_rooms: 1,
    meetedge_meeting_server_participants: 1,
    meetedge_meeting_server_sessions_opened_total: 3,
    meetedge_meeting_server_rooms_opened_total: 2,
    'meetedge_meeting_server_hellos_total{result="admitted"}': 2,
    'meetedge_meeting_server_hellos_total{result="refused"}': 1,
  });
  await again.leave();
});
