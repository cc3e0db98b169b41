// GrpcMeetingInfoSource against a loopback ZoneController server.
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { AccountId, MeetedgeError, MeetingId, ZcpId, ZoneId } from '@meetedge/core';
import { qualityToProto, toGrpcError, v1 } from '@meetedge/proto';
import { CachedMeetingInfoSource, GrpcMeetingInfoSource, StaticMeetingInfoSource } from './meeting-info';

const HYBRID: v1.MeetingServerInfo = {
  meetingId: 'm-1',
  mode: v1.MeetingMode.CLOUD_HYBRID,
  e2ee: true,
  defaultQuality: qualityToProto('HD'),
  cloudMmrId: 'cloud-mmr-1',
  cloudMmrAddress: 'cloud-mmr:9701',
  cloudSignalingUrl: 'wss://meet.example.com/v1/meetings/m-1/signal',
  accountId: 'acme',
  hostUserId: '',
  topic: '',
  onTopLoss: v1.TopLossPolicy.UNSPECIFIED,
};
const INTERNAL: v1.MeetingServerInfo = { ...HYBRID, meetingId: 'm-2', mode: v1.MeetingMode.INTERNAL_ONLY, cloudMmrId: '', cloudMmrAddress: '', cloudSignalingUrl: '' };

describe('GrpcMeetingInfoSource', () => {
  let server: Server;
  let port: number;
  let source: GrpcMeetingInfoSource;
  const requests: v1.GetMeetingServerInfoRequest[] = [];

  beforeAll(async () => {
    server = new Server();
    server.addService(v1.ZoneControllerService, {
      getMeetingServerInfo(call: ServerUnaryCall<v1.GetMeetingServerInfoRequest, v1.GetMeetingServerInfoResponse>, callback: sendUnaryData<v1.GetMeetingServerInfoResponse>) {
        requests.push(call.request);
        const id = call.request.meetingId;
        if (id === 'm-1') callback(null, { info: HYBRID });
        else if (id === 'm-2') callback(null, { info: INTERNAL });
        else if (id === 'm-bad') callback(null, { info: { ...HYBRID, mode: v1.MeetingMode.UNSPECIFIED } });
        else if (id === 'm-other') callback(toGrpcError(new MeetedgeError('FORBIDDEN', 'zone hq may not host meeting m-other')));
        else callback(toGrpcError(new MeetedgeError('NOT_FOUND', `no meeting ${id}`)));
      },
      watchCascadeNeeds(call) {
        call.end();
      },
    } satisfies v1.ZoneControllerServer);
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    source = new GrpcMeetingInfoSource({ address: `127.0.0.1:${port}`, zoneId: ZoneId('hq'), zcpId: ZcpId('zcp-1') });
  });

  afterAll(async () => {
    await source.close();
    server.forceShutdown();
  });

  it('maps a cloud-hybrid answer to the domain form and says who asks', async () => {
    await expect(source.get(MeetingId('m-1'))).resolves.toEqual({
      meetingId: 'm-1',
      accountId: 'acme',
      mode: 'cloud-hybrid',
      e2ee: true,
      defaultQuality: 'HD',
      cloudMmrId: 'cloud-mmr-1',
      cloudMmrAddress: 'cloud-mmr:9701',
      cloudSignalingUrl: 'wss://meet.example.com/v1/meetings/m-1/signal',
    });
    expect(requests.at(-1)).toEqual({ meetingId: 'm-1', zoneId: 'hq', zcpId: 'zcp-1' });
  });

  it('leaves the cloud fields out of an internal-only answer', async () => {
    await expect(source.get(MeetingId('m-2'))).resolves.toEqual({ meetingId: 'm-2', accountId: 'acme', mode: 'internal-only', e2ee: true, defaultQuality: 'HD' });
  });

  it.each([
    ['m-other', 'FORBIDDEN', 'zone hq may not host meeting m-other'],
    ['m-none', 'NOT_FOUND', 'no meeting m-none'],
  ])('turns the controller\'s refusal for %s into %s', async (id, code, message) => {
    await expect(source.get(MeetingId(id))).rejects.toMatchObject({ code, message });
  });

  it('treats a malformed answer as UNAVAILABLE', async () => {
    await expect(source.get(MeetingId('m-bad'))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('answers UNAVAILABLE when the controller cannot be reached, and after close', async () => {
    const down = new GrpcMeetingInfoSource({ address: '127.0.0.1:1', zoneId: ZoneId('hq'), zcpId: ZcpId('zcp-1'), deadlineMs: 500 });
    await expect(down.get(MeetingId('m-1'))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await down.close();
    await down.close();
    await expect(down.get(MeetingId('m-1'))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('CachedMeetingInfoSource', () => {
  const m1 = MeetingId('m-1');
  const info = { meetingId: m1, accountId: AccountId('acme'), mode: 'internal-only', e2ee: false, defaultQuality: 'SD' } as const;

  it('shares one call among concurrent asks and keeps the answer for its TTL', async () => {
    const source = new StaticMeetingInfoSource([info]);
    let now = 1_000;
    const cached = new CachedMeetingInfoSource(source, { ttlMs: 5000, now: () => now });
    const answers = await Promise.all(Array.from({ length: 50 }, () => cached.get(m1)));
    expect(answers.every((a) => a === info)).toBe(true);
    expect(source.calls).toBe(1);
    now += 4999;
    await cached.get(m1);
    expect(source.calls).toBe(1);
    now += 1;
    await cached.get(m1);
    expect(source.calls).toBe(2);
  });

  it('does not keep refusals', async () => {
    const source = new StaticMeetingInfoSource();
    const cached = new CachedMeetingInfoSource(source, { ttlMs: 5000 });
    await expect(cached.get(m1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    source.set(m1, info);
    await expect(cached.get(m1)).resolves.toBe(info);
    expect(source.calls).toBe(2);
  });
});
