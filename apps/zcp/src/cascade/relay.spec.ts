// Cascade needs from a loopback zone controller to the modules of a real ZCP
// (buildApp): modules are played by plain gRPC clients of ZoneControllerProxy.
import { credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { AccountId, ModuleId, MeetingId, UserId } from '@meetedge/core';
import { v1 } from '@meetedge/proto';
import { createLogger, createServiceMetrics, type ServiceMetrics } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { sleep, waitFor } from '@meetedge/test-kit';
import { buildApp, type ZcpService } from '../app';
import { loadZcpConfig } from '../config';
import { StaticMeetingInfoSource } from '../join';
import { accessToken, zcpKeyEnv } from '../join/test-support';
import { FakeZoneController } from './test-support';

jest.setTimeout(20_000);

const logger = createLogger({ level: 'silent' });
const m1 = MeetingId('m-1');
const meetingInfo = new StaticMeetingInfoSource([
  {
    meetingId: m1,
    accountId: AccountId('acme'),
    mode: 'cloud-hybrid',
    e2ee: false,
    defaultQuality: 'SD',
    cloudMmrId: ModuleId('cloud-mmr-1'),
    cloudMmrAddress: '127.0.0.1:9701',
    cloudSignalingUrl: 'wss://meet.example.com/v1/meetings/m-1/signal',
  },
]);
const LINK_M1: v1.SetCascade = { meetingId: 'm-1', enabled: true, targetServerId: 'cloud-mmr-1', targetAddress: '127.0.0.1:9701', reason: v1.CascadeReason.REMOTE_PARTICIPANT };
/** A member of the meeting's account (the join API checks her token). */
const alice = { kind: 'member', userId: UserId('alice'), accountId: AccountId('acme'), role: 'member', displayName: 'Alice' } as const;
const UNLINK_M1: v1.SetCascade = { meetingId: 'm-1', enabled: false, targetServerId: '', targetAddress: '', reason: v1.CascadeReason.UNSPECIFIED };

/** The meeting state fails `meetingModules` while `failing` > 0 (a Redis blip). */
class FlakyState extends MemoryClusterState {
  failing = 0;
  override async meetingModules(meetingId: MeetingId): Promise<ModuleId[]> {
    if (this.failing > 0) {
      this.failing--;
      throw new Error('store down');
    }
    return super.meetingModules(meetingId);
  }
}

/** A module's end of its Connect stream. */
interface FakeModule {
  readonly call: ClientDuplexStream<v1.ModuleMessage, v1.ZcpMessage>;
  readonly received: v1.ZcpMessage[];
}
const setCascades = (m: FakeModule): v1.SetCascade[] => m.received.flatMap((msg) => (msg.kind?.$case === 'setCascade' ? [msg.kind.value] : []));

describe('cascade needs relayed to modules as SetCascade', () => {
  let fake: FakeZoneController;
  let state: FlakyState;
  let metrics: ServiceMetrics;
  let zcp: ZcpService;
  let client: v1.ZoneControllerProxyClient;
  let modules: FakeModule[];

  beforeEach(async () => {
    fake = await FakeZoneController.start();
    // Each test says when the ZCP's stream gets its replay.
    fake.holdReplay = true;
    state = new FlakyState();
    metrics = createServiceMetrics('zcp', false);
    const config = loadZcpConfig({ ...zcpKeyEnv(), MEETEDGE_ZCP_ID: 'zcp-1', MEETEDGE_ZONE_ID: 'hq', MEETEDGE_HTTP_PORT: '0', MEETEDGE_GRPC_PORT: '0' });
    zcp = buildApp(config, { logger, state, metrics, meetingInfo, zoneControllerAddress: () => fake.address });
    await zcp.start();
    client = new v1.ZoneControllerProxyClient(`127.0.0.1:${zcp.grpcPort()}`, credentials.createInsecure());
    modules = [];
    await waitFor(() => fake.streams() === 1, { description: 'the ZCP watching' });
  });

  afterEach(async () => {
    for (const m of modules) m.call.cancel();
    client.close();
    await zcp.close();
    await fake.close();
    await state.close();
  });

  /** A module registers; `held` meetings come with one participant each (as after a ZCP restart). */
  async function connect(id: string, held: string[] = []): Promise<FakeModule> {
    const call = client.connect();
    const m: FakeModule = { call, received: [] };
    call.on('data', (msg: v1.ZcpMessage) => m.received.push(msg));
    call.on('error', () => undefined);
    modules.push(m);
    const heldMeetings = held.map((meetingId, i) => ({ meetingId, participants: [{ participantId: `p-${id}-${i}`, reservationId: `r-${id}-${i}`, quality: v1.Quality.SD }] }));
    const register = v1.Register.create({ moduleId: id, zoneId: 'hq', nodeId: 'node-a', role: v1.ModuleRole.EDGE, mediaUrl: `ws://${id}.corp/v1/media`, capacityUnits: 400, version: '0.1.0', heldMeetings });
    call.write({ kind: { $case: 'register', value: register } });
    await waitFor(() => zcp.registry.connectedModules().includes(ModuleId(id)), { description: `${id} registered` });
    return m;
  }
  const carry = async (meetingId: string, moduleId: string) => expect(await state.addMeetingModule(MeetingId(meetingId), ModuleId(moduleId))).toBe(true);
  const sent = async (enabled: boolean) => (await metrics.registry.getSingleMetric('meetedge_zcp_set_cascade_sent_total')?.get())?.values.find((v) => v.labels.enabled === String(enabled))?.value ?? 0;

  it('a need replayed at connect reaches the modules carrying the meeting, and no other', async () => {
    const [a, b, c] = [await connect('sfu-a'), await connect('sfu-b'), await connect('sfu-c')];
    await carry('m-1', 'sfu-a');
    await carry('m-1', 'sfu-b');
    await carry('m-2', 'sfu-c');
    fake.need('m-1');
    fake.release();
    await waitFor(() => setCascades(a).length > 0 && setCascades(b).length > 0, { description: 'SetCascade on sfu-a and sfu-b' });
    await sleep(100);
    expect(setCascades(a)).toEqual([LINK_M1]);
    expect(setCascades(b)).toEqual([LINK_M1]);
    expect(c.received.map((msg) => msg.kind?.$case)).toEqual(['registerAck']);
    expect(await sent(true)).toBe(2);
  });

  it('an ended need closes the link on every module told to link, even one that left the meeting', async () => {
    const [a, b] = [await connect('sfu-a'), await connect('sfu-b')];
    await carry('m-1', 'sfu-a');
    await carry('m-1', 'sfu-b');
    fake.need('m-1');
    fake.release();
    await waitFor(() => setCascades(a).length > 0 && setCascades(b).length > 0);
    await state.removeMeetingModule(m1, ModuleId('sfu-b'));
    fake.end('m-1');
    await waitFor(() => setCascades(a).length === 2 && setCascades(b).length === 2, { description: 'the ends' });
    expect(setCascades(a)).toEqual([LINK_M1, UNLINK_M1]);
    expect(setCascades(b)).toEqual([LINK_M1, UNLINK_M1]);
    expect(await sent(false)).toBe(2);
  });

  it('a need missing from the replay after the stream dropped ends at synced', async () => {
    const a = await connect('sfu-a');
    await carry('m-1', 'sfu-a');
    fake.need('m-1');
    fake.release();
    await waitFor(() => setCascades(a).length === 1);
    fake.forget('m-1');
    fake.drop();
    await waitFor(() => setCascades(a).length === 2, { description: 'the end after the new replay' });
    expect(setCascades(a)[1]).toEqual(UNLINK_M1);
    expect(fake.requests).toHaveLength(2);
  });

  it('a module that registers carrying the meeting gets the current need', async () => {
    fake.need('m-1');
    fake.release();
    await waitFor(async () => (await metrics.registry.getSingleMetric('meetedge_zcp_cascade_needs')?.get())?.values[0]?.value === 1, { description: 'the need known' });
    const late = await connect('sfu-late', ['m-1']);
    const other = await connect('sfu-other', ['m-2']);
    await waitFor(() => setCascades(late).length > 0, { description: 'SetCascade on the late module' });
    await sleep(100);
    expect(setCascades(late)).toEqual([LINK_M1]);
    expect(setCascades(other)).toEqual([]);
  });

  it('a module placed in the meeting after the need started links too, after it hears of its participant', async () => {
    const a = await connect('sfu-a');
    fake.need('m-1');
    fake.release();
    await waitFor(async () => (await metrics.registry.getSingleMetric('meetedge_zcp_cascade_needs')?.get())?.values[0]?.value === 1);
    await sleep(50);
    expect(setCascades(a)).toEqual([]);
    const token = accessToken(alice);
    const res = await zcp.http.inject({ method: 'POST', url: '/v1/assign', headers: { authorization: `Bearer ${token}` }, payload: { meetingId: 'm-1', quality: 'SD' } });
    expect(res.json()).toMatchObject({ moduleId: 'sfu-a', cloud: false });
    await waitFor(() => setCascades(a).length > 0, { description: 'SetCascade after placement' });
    expect(a.received.map((msg) => msg.kind?.$case)).toEqual(['registerAck', 'meetingServerInfo', 'expectParticipant', 'setCascade']);
    expect(setCascades(a)).toEqual([LINK_M1]);
  });

  it('a step the cluster state failed is tried again', async () => {
    const a = await connect('sfu-a');
    await carry('m-1', 'sfu-a');
    state.failing = 1;
    fake.need('m-1');
    fake.release();
    await waitFor(() => setCascades(a).length > 0, { description: 'SetCascade after the retry' });
    expect(state.failing).toBe(0);
    expect(setCascades(a)).toEqual([LINK_M1]);
  });
});
