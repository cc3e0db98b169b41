/**
 * The cloud zone controller over real gRPC on loopback, served by the
 * dashboard app itself: meeting-server info for a zone's ZCP, coded refusals,
 * and the cascade-needs stream (replay, synced, live changes, reconnect).
 */
import { credentials, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { MeetingId, ModuleId, ZoneId, generateTicketKeys, type MemberClaims } from '@meetedge/core';
import { MemoryDirectory } from '@meetedge/directory';
import { fromGrpcError, v1 } from '@meetedge/proto';
import { createLogger } from '@meetedge/service-kit';
import { waitFor } from '@meetedge/test-kit';
import { buildApp, type DashboardService } from '../app';
import { loadDashboardConfig } from '../config';

const pem = generateTicketKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
let app: DashboardService;
let client: v1.ZoneControllerClient;
let admin: MemberClaims;
let zoneId: string;
let otherZoneId: string;
let hybridId: string;
let internalId: string;

beforeEach(async () => {
  app = buildApp(
    loadDashboardConfig({
      MEETEDGE_TOKEN_PRIVATE_KEY: pem,
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_GRPC_PORT: '0',
      MEETEDGE_PUBLIC_URL: 'https://meet.acme.example',
      MEETEDGE_CLOUD_MMR_CASCADE_ADDRESS: 'cloud-mmr.acme.example:9701',
    }),
    { logger: createLogger({ level: 'silent' }), directory: new MemoryDirectory(), ownsDirectory: true, passwordParams: { N: 2 ** 10, r: 8, p: 1 } },
  );
  await app.start();
  client = new v1.ZoneControllerClient(`127.0.0.1:${app.grpcPort()}`, credentials.createInsecure());
  const cp = app.controlPlane;
  const { user } = await cp.createAccount({ name: 'Acme', admin: { email: 'ada@acme.example', displayName: 'Ada', password: 'correct horse battery' } }, true);
  admin = { kind: 'member', userId: user.id, accountId: user.accountId, role: 'admin', displayName: 'Ada' };
  zoneId = (await cp.createZone(admin, { name: 'HQ' })).id;
  hybridId = (await cp.scheduleMeeting(admin, { topic: 'All hands', mode: 'cloud-hybrid', e2ee: true, defaultQuality: 'HD' })).id;
  internalId = (await cp.scheduleMeeting(admin, { topic: 'Board', mode: 'internal-only' })).id;
  const { user: other } = await cp.createAccount({ name: 'Globex', admin: { email: 'hank@globex.example', displayName: 'Hank', password: 'correct horse battery' } }, true);
  otherZoneId = (await cp.createZone({ kind: 'member', userId: other.id, accountId: other.accountId, role: 'admin', displayName: 'Hank' }, { name: 'Globex HQ' })).id;
});

afterEach(async () => {
  client.close();
  await app.close();
});

function info(meetingId: string, zone: string, zcpId = 'zcp-1'): Promise<v1.MeetingServerInfo | undefined> {
  return new Promise((resolve, reject) => {
    client.getMeetingServerInfo({ meetingId, zoneId: zone, zcpId }, (err: ServiceError | null, res?: v1.GetMeetingServerInfoResponse) => (err ? reject(err) : resolve(res?.info)));
  });
}

async function refusal(promise: Promise<unknown>): Promise<{ grpc: number; code: string; message: string }> {
  const err = await promise.then(
    () => undefined,
    (e: ServiceError) => e,
  );
  if (!err) throw new Error('expected a refusal');
  const coded = fromGrpcError(err);
  return { grpc: err.code, code: coded.code, message: coded.message };
}

describe('GetMeetingServerInfo', () => {
  it('gives a zone of the meeting\'s account the mode, flags, cloud MMR and signaling URL of a cloud-hybrid meeting', async () => {
    expect(await info(hybridId, zoneId)).toEqual({
      meetingId: hybridId,
      mode: v1.MeetingMode.CLOUD_HYBRID,
      e2ee: true,
      defaultQuality: v1.Quality.HD,
      cloudMmrId: 'cloud-mmr-1',
      cloudMmrAddress: 'cloud-mmr.acme.example:9701',
      cloudSignalingUrl: `wss://meet.acme.example/v1/meetings/${hybridId}/signal`,
      accountId: admin.accountId,
      hostUserId: admin.userId,
      topic: 'All hands',
      onTopLoss: v1.TopLossPolicy.RECOVER,
    });
  });

  it('gives nothing of the cloud for an internal-only meeting', async () => {
    expect(await info(internalId, zoneId)).toMatchObject({
      mode: v1.MeetingMode.INTERNAL_ONLY,
      cloudMmrId: '',
      cloudMmrAddress: '',
      cloudSignalingUrl: '',
      // Its roster lives on the top module, which needs to know who hosts it.
      hostUserId: admin.userId,
      topic: 'Board',
      onTopLoss: v1.TopLossPolicy.RECOVER,
    });
  });

  it('refuses an unknown meeting, a zone of another account, and malformed ids with coded errors', async () => {
    expect(await refusal(info('m-none', zoneId))).toMatchObject({ grpc: status.NOT_FOUND, code: 'NOT_FOUND' });
    expect(await refusal(info(hybridId, otherZoneId))).toMatchObject({ grpc: status.PERMISSION_DENIED, code: 'FORBIDDEN', message: expect.stringMatching(/may not host/) });
    expect(await refusal(info(hybridId, 'z-none'))).toMatchObject({ grpc: status.PERMISSION_DENIED });
    expect(await refusal(info('bad id!', zoneId))).toMatchObject({ grpc: status.INVALID_ARGUMENT, code: 'INVALID_ID' });
    expect(await refusal(info(hybridId, zoneId, ''))).toMatchObject({ grpc: status.INVALID_ARGUMENT });
  });
});

describe('WatchCascadeNeeds', () => {
  function watch(zone: string): { stream: ClientReadableStream<v1.CascadeNeedEvent>; events: v1.CascadeNeedEvent[]; ended: Promise<ServiceError | undefined> } {
    const stream = client.watchCascadeNeeds({ zoneId: zone, zcpId: 'zcp-1' });
    const events: v1.CascadeNeedEvent[] = [];
    stream.on('data', (e: v1.CascadeNeedEvent) => events.push(e));
    const ended = new Promise<ServiceError | undefined>((resolve) => {
      stream.on('error', (err: ServiceError) => resolve(err));
      stream.on('end', () => resolve(undefined));
    });
    return { stream, events, ended };
  }
  const hqModule = (moduleId: string) => ({ kind: 'module' as const, moduleId: ModuleId(moduleId), zoneId: ZoneId(zoneId) });

  it('replays current needs, says synced, then streams changes in order; a new stream gets the full set again', async () => {
    app.cascadeNeeds.update(MeetingId(hybridId), [hqModule('sfu-1'), { kind: 'cloud' }]);
    const first = watch(zoneId);
    await waitFor(() => first.events.length >= 2);
    expect(first.events.slice(0, 2)).toEqual([
      { seq: 1, kind: { $case: 'needed', value: { meetingId: hybridId, targetServerId: 'cloud-mmr-1', targetAddress: 'cloud-mmr.acme.example:9701', reason: v1.CascadeReason.REMOTE_PARTICIPANT } } },
      { seq: 2, kind: { $case: 'synced', value: { replayed: 1 } } },
    ]);
    await waitFor(() => app.cascadeNeeds.watchers(ZoneId(zoneId)) === 1);
    // The guest leaves: the need ends. A second module takes the meeting: it is needed again.
    app.cascadeNeeds.update(MeetingId(hybridId), [hqModule('sfu-1')]);
    app.cascadeNeeds.update(MeetingId(hybridId), [hqModule('sfu-1'), hqModule('sfu-2')]);
    await waitFor(() => first.events.length >= 4);
    expect(first.events.slice(2).map((e) => [e.seq, e.kind?.$case])).toEqual([
      [3, 'ended'],
      [4, 'needed'],
    ]);
    first.stream.cancel();
    await first.ended;
    await waitFor(() => app.cascadeNeeds.watchers(ZoneId(zoneId)) === 0);

    const again = watch(zoneId);
    await waitFor(() => again.events.some((e) => e.kind?.$case === 'synced'));
    expect(again.events.map((e) => e.kind?.$case)).toEqual(['needed', 'synced']);
    again.stream.cancel();
    await again.ended;
  });

  it('sends another zone nothing of this one, and refuses a malformed zone id', async () => {
    const other = watch(otherZoneId);
    await waitFor(() => other.events.length >= 1);
    app.cascadeNeeds.update(MeetingId(hybridId), [hqModule('sfu-1'), { kind: 'cloud' }]);
    await waitFor(() => app.cascadeNeeds.current(ZoneId(zoneId)).length === 1);
    expect(other.events.map((e) => e.kind?.$case)).toEqual(['synced']);
    other.stream.cancel();
    await other.ended;
    const bad = watch('bad zone!');
    expect((await bad.ended)?.code).toBe(status.INVALID_ARGUMENT);
  });
});
