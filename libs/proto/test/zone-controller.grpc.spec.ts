// The cloud zone controller's contract over loopback gRPC: a unary call that
// succeeds, one that fails with a coded error, and the cascade-needs stream.
import {
  credentials,
  Metadata,
  Server,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { MeetedgeError, MeetingId, ZoneId } from '@meetedge/core';
import { ERROR_CODE_METADATA_KEY, fromGrpcError, qualityToProto, toGrpcError, v1 } from '../src';
import { listen, nextOf } from './grpc-helpers';

const HYBRID_INFO: v1.MeetingServerInfo = {
  meetingId: 'm-1',
  mode: v1.MeetingMode.CLOUD_HYBRID,
  e2ee: true,
  defaultQuality: qualityToProto('HD'),
  cloudMmrId: 'cloud-mmr-1',
  cloudMmrAddress: 'cloud-mmr:9701',
  cloudSignalingUrl: 'wss://meet.example.com/signal',
  accountId: 'acme',
  hostUserId: 'u-host',
  topic: 'Weekly',
  onTopLoss: v1.TopLossPolicy.RECOVER,
};

/** A zone controller that knows one meeting; handlers translate errors once, at the door. */
const zoneController: v1.ZoneControllerServer = {
  getMeetingServerInfo(
    call: ServerUnaryCall<v1.GetMeetingServerInfoRequest, v1.GetMeetingServerInfoResponse>,
    callback: sendUnaryData<v1.GetMeetingServerInfoResponse>,
  ) {
    try {
      const meetingId = MeetingId(call.request.meetingId);
      ZoneId(call.request.zoneId);
      if (meetingId !== HYBRID_INFO.meetingId) throw new MeetedgeError('NOT_FOUND', `meeting ${meetingId} not found`);
      callback(null, { info: HYBRID_INFO });
    } catch (err) {
      callback(toGrpcError(err));
    }
  },
  watchCascadeNeeds(call: ServerWritableStream<v1.WatchCascadeNeedsRequest, v1.CascadeNeedEvent>) {
    call.write({
      seq: 1,
      kind: {
        $case: 'needed',
        value: {
          meetingId: 'm-1',
          targetServerId: 'cloud-mmr-1',
          targetAddress: 'cloud-mmr:9701',
          reason: v1.CascadeReason.REMOTE_PARTICIPANT,
        },
      },
    });
    call.write({ seq: 2, kind: { $case: 'synced', value: { replayed: 1 } } });
    call.write({ seq: 3, kind: { $case: 'ended', value: { meetingId: 'm-1' } } });
    call.end();
  },
};

function getInfo(client: v1.ZoneControllerClient, request: v1.GetMeetingServerInfoRequest) {
  return new Promise<v1.GetMeetingServerInfoResponse>((resolve, reject) => {
    client.getMeetingServerInfo(request, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

describe('ZoneController over loopback gRPC', () => {
  let server: Server;
  let client: v1.ZoneControllerClient;

  beforeEach(async () => {
    server = new Server();
    server.addService(v1.ZoneControllerService, zoneController);
    const port = await listen(server);
    client = new v1.ZoneControllerClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterEach(() => {
    client.close();
    server.forceShutdown();
  });

  it('GetMeetingServerInfo answers the meeting-server info', async () => {
    const response = await getInfo(client, { meetingId: 'm-1', zoneId: 'hq', zcpId: 'zcp-1' });
    expect(response.info).toEqual(HYBRID_INFO);
  });

  it('GetMeetingServerInfo rejects a malformed meeting id with INVALID_ARGUMENT and the reason', async () => {
    const err = await getInfo(client, { meetingId: 'no spaces/allowed', zoneId: 'hq', zcpId: 'zcp-1' }).then(
      () => {
        throw new Error('expected the call to fail');
      },
      (e: unknown) => e as ServiceError,
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^MeetingId must be 1-64 characters/);
    expect(err.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['INVALID_ID']);

    const coded = fromGrpcError(err);
    expect(coded).toBeInstanceOf(MeetedgeError);
    expect(coded.code).toBe('INVALID_ID');
    expect(coded.message).toBe(err.details);
  });

  it('GetMeetingServerInfo maps an unknown meeting to NOT_FOUND', async () => {
    const err = await getInfo(client, { meetingId: 'm-404', zoneId: 'hq', zcpId: 'zcp-1' }).catch(
      (e: unknown) => e as ServiceError,
    );
    expect((err as ServiceError).code).toBe(status.NOT_FOUND);
    expect(fromGrpcError(err as ServiceError).code).toBe('NOT_FOUND');
  });

  it('WatchCascadeNeeds streams the replay, the synced marker, then changes', async () => {
    const stream = client.watchCascadeNeeds({ zoneId: 'hq', zcpId: 'zcp-1' }, new Metadata());
    const events = stream[Symbol.asyncIterator]() as AsyncIterator<v1.CascadeNeedEvent>;
    const seen: v1.CascadeNeedEvent[] = [await nextOf(events), await nextOf(events), await nextOf(events)];
    expect(seen.map((e) => [e.seq, e.kind?.$case])).toEqual([
      [1, 'needed'],
      [2, 'synced'],
      [3, 'ended'],
    ]);
    expect(seen[0]?.kind).toEqual({
      $case: 'needed',
      value: {
        meetingId: 'm-1',
        targetServerId: 'cloud-mmr-1',
        targetAddress: 'cloud-mmr:9701',
        reason: v1.CascadeReason.REMOTE_PARTICIPANT,
      },
    });
    expect((await events.next()).done).toBe(true);
  });
});
