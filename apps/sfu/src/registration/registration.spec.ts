// The module's registration, against fake ZCPs (real gRPC servers on
// loopback that record what the module sends and can send it commands). The
// real ZCP's side is tested in apps/zcp.
import { Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import { MeetingId, ModuleId, ParticipantId, ReservationId, generateTicketKeys, signTicket } from '@meetedge/core';
import { v1 } from '@meetedge/proto';
import { createLogger, type Service } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { waitFor } from '@meetedge/test-kit';
import WebSocket from 'ws';
import { buildApp, type SfuService } from '../app';
import { loadSfuConfig, parseZcpAddresses } from '../config';

jest.setTimeout(30_000);

const keys = generateTicketKeys();
const logger = createLogger({ level: 'silent' });

/** A ZCP that acknowledges every Register and records every message of every stream. */
class FakeZcp {
  readonly server = new Server();
  readonly streams: { call: ServerDuplexStream<v1.ModuleMessage, v1.ZcpMessage>; messages: v1.ModuleMessage[]; ended: boolean }[] = [];
  port = 0;

  constructor(readonly zcpId: string) {
    this.server.addService(v1.ZoneControllerProxyService, {
      connect: (call: ServerDuplexStream<v1.ModuleMessage, v1.ZcpMessage>) => {
        const entry = { call, messages: [] as v1.ModuleMessage[], ended: false };
        this.streams.push(entry);
        call.on('data', (m: v1.ModuleMessage) => {
          entry.messages.push(m);
          if (m.kind?.$case === 'register') {
            call.write({ kind: { $case: 'registerAck', value: { zcpId, heartbeatIntervalMs: 100, ttlMs: 3000 } } });
          }
          if (m.kind?.$case === 'deregister') call.end();
        });
        call.on('end', () => {
          entry.ended = true;
        });
        call.on('error', () => undefined);
      },
    } satisfies v1.ZoneControllerProxyServer);
  }

  async listen(port = 0): Promise<this> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return this;
  }

  /** Every message of every stream, of one kind. */
  all<K extends NonNullable<v1.ModuleMessage['kind']>['$case']>(kind: K): Extract<NonNullable<v1.ModuleMessage['kind']>, { $case: K }>['value'][] {
    return this.streams.flatMap((s) => s.messages.flatMap((m) => (m.kind?.$case === kind ? [m.kind.value as never] : [])));
  }

  /** The latest stream. */
  last(): FakeZcp['streams'][number] {
    const s = this.streams[this.streams.length - 1];
    if (!s) throw new Error('no stream yet');
    return s;
  }
}

/** A join ticket of meeting m-1 on sfu-1. */
function ticketFor(reservationId: string, participantId: string, expiresInMs = 60_000): string {
  const now = Date.now();
  return signTicket(
    {
      ticketId: ReservationId(reservationId),
      meetingId: MeetingId('m-1'),
      participantId: ParticipantId(participantId),
      moduleId: ModuleId('sfu-1'),
      quality: 'HD',
      mode: 'cloud-hybrid',
      displayName: participantId,
      issuedAt: now,
      expiresAt: now + expiresInMs,
    },
    keys.privateKey,
  );
}

/** Opens a media session and joins with `ticket`; resolves with the socket once `joined` arrived. */
async function joined(url: string, ticket: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url}/v1/media`);
  const first = new Promise<{ type: string }>((resolve, reject) => {
    ws.once('message', (d) => resolve(JSON.parse(d.toString())));
    ws.once('error', reject);
  });
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ type: 'join', ticket }));
  const message = await first;
  if (message.type !== 'joined') throw new Error(`join answered ${JSON.stringify(message)}`);
  return ws;
}

describe('module registration with the ZCPs', () => {
  let zcps: FakeZcp[] = [];
  let app: Service | undefined;
  let state: MemoryClusterState;

  beforeEach(async () => {
    state = new MemoryClusterState();
    zcps = [await new FakeZcp('zcp-1').listen(), await new FakeZcp('zcp-2').listen()];
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    for (const z of zcps) z.server.forceShutdown();
    await state.close();
  });

  async function startModule(addresses = zcps.map((z) => `127.0.0.1:${z.port}`).join(',')): Promise<string> {
    const config = loadSfuConfig({
      MEETEDGE_MODULE_ID: 'sfu-1',
      MEETEDGE_ZONE_ID: 'hq',
      MEETEDGE_NODE_ID: 'node-a',
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_MEDIA_PORT: '0',
      MEETEDGE_CASCADE_PORT: '0',
      MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
      MEETEDGE_CAPACITY_UNITS: '300',
      MEETEDGE_TICKET_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      MEETEDGE_ZCP_ADDRESSES: addresses,
    });
    app = buildApp(config, { logger, state });
    return app.start();
  }

  it('registers with every listed ZCP, announcing who it is and where clients reach it', async () => {
    const url = await startModule();
    for (const zcp of zcps) {
      await waitFor(() => zcp.all('register').length === 1, { description: `register on ${zcp.zcpId}` });
      expect(zcp.all('register')[0]).toEqual(
        v1.Register.create({
          moduleId: 'sfu-1',
          zoneId: 'hq',
          nodeId: 'node-a',
          role: v1.ModuleRole.EDGE,
          mediaUrl: `ws://127.0.0.1:${new URL(url).port}/v1/media`,
          capacityUnits: 300,
          version: expect.stringMatching(/^\d+\.\d+\.\d+/) as unknown as string,
          // Where other media servers open east-west links to it: its Cascade port on the announced IP.
          cascadeAddress: `127.0.0.1:${(app as SfuService).cascade.boundPort}`,
          // This run of the process: one for every ZCP, another at the next start.
          instanceId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown as string,
        }),
      );
    }
    expect(new Set(zcps.map((z) => z.all('register')[0]?.instanceId)).size).toBe(1);
  });

  it('heartbeats at the interval the ZCP asked for, with growing seq and its load', async () => {
    await startModule();
    for (const zcp of zcps) {
      await waitFor(() => zcp.all('heartbeat').length >= 3, { description: `heartbeats on ${zcp.zcpId}` });
      const beats = zcp.all('heartbeat');
      expect(beats.map((b) => b.seq).slice(0, 3)).toEqual([1, 2, 3]);
      expect(beats[0]).toMatchObject({ participants: 0, meetings: 0, usedUnits: 0 });
    }
  });

  it('reconnects and registers again when a ZCP drops its stream', async () => {
    await startModule();
    const zcp = zcps[0];
    if (!zcp) throw new Error('no zcp');
    await waitFor(() => zcp.all('heartbeat').length >= 1);
    zcp.last().call.emit('error', Object.assign(new Error('ZCP went away'), { code: status.UNAVAILABLE }));
    await waitFor(() => zcp.all('register').length === 2, { description: 'second register' });
    // The new stream counts heartbeats from 1 again.
    await waitFor(() => zcp.last().messages.some((m) => m.kind?.$case === 'heartbeat'));
    expect(zcp.last().messages.find((m) => m.kind?.$case === 'heartbeat')?.kind).toMatchObject({ value: { seq: 1 } });
  });

  it('keeps trying a ZCP that is down until it comes up', async () => {
    const late = new FakeZcp('zcp-late');
    const port = await late.listen().then((z) => z.port);
    late.server.forceShutdown();
    await startModule(`127.0.0.1:${port}`);
    const again = new FakeZcp('zcp-late');
    zcps.push(again);
    await again.listen(port);
    await waitFor(() => again.all('register').length === 1, { timeoutMs: 15_000, description: 'register after the ZCP came up' });
  });

  it('a graceful close sends Deregister on every stream', async () => {
    await startModule();
    for (const zcp of zcps) await waitFor(() => zcp.all('heartbeat').length >= 1);
    await app?.close();
    for (const zcp of zcps) {
      expect(zcp.all('deregister')).toHaveLength(1);
      const messages = zcp.last().messages;
      expect(messages[messages.length - 1]?.kind?.$case).toBe('deregister');
    }
  });

  it('after Drain it refuses a new participant with a coded error', async () => {
    const url = await startModule();
    const zcp = zcps[1];
    if (!zcp) throw new Error('no zcp');
    await waitFor(() => zcp.all('heartbeat').length >= 1);
    zcp.last().call.write({ kind: { $case: 'drain', value: { reason: 'upgrade', deadlineUnixMs: 0 } } });

    const ticket = ticketFor('r-1', 'alice');
    // The Drain arrives asynchronously: try until the module refuses.
    const answer = await waitFor(async () => {
      const ws = new WebSocket(`${url}/v1/media`);
      const first = new Promise<{ type: string; code?: string; message?: string; fatal?: boolean }>((resolve, reject) => {
        ws.once('message', (d) => resolve(JSON.parse(d.toString())));
        ws.once('error', reject);
      });
      await new Promise((resolve) => ws.once('open', resolve));
      ws.send(JSON.stringify({ type: 'join', ticket }));
      const message = await first;
      ws.close();
      return message.type === 'error' ? message : undefined;
    }, { description: 'join refused' });
    expect(answer).toEqual({
      type: 'error',
      code: 'CONFLICT',
      message: 'this module is draining (upgrade) and takes no new participants; ask a ZCP for another module',
      fatal: true,
    });
  });

  it('reports a participant arriving and leaving to one ZCP, naming its reservation', async () => {
    const url = await startModule();
    await waitFor(() => zcps.every((z) => z.all('heartbeat').length >= 1), { description: 'registered with both' });
    const ws = await joined(url, ticketFor('r-7', 'alice'));
    const reported = () => zcps.flatMap((z) => z.all('participantArrived'));
    await waitFor(() => reported().length === 1, { description: 'participant_arrived' });
    expect(reported()).toEqual([{ meetingId: 'm-1', participantId: 'alice', reservationId: 'r-7', quality: v1.Quality.HD }]);
    ws.send(JSON.stringify({ type: 'leave' }));
    const gone = () => zcps.flatMap((z) => z.all('participantLeft'));
    await waitFor(() => gone().length === 1, { description: 'participant_left' });
    expect(gone()).toEqual([{ meetingId: 'm-1', participantId: 'alice', reservationId: 'r-7', reason: v1.LeaveReason.HANGUP, meetingEmpty: true }]);
    ws.close();
  });

  it('an announced participant that never comes is reported TICKET_EXPIRED', async () => {
    await startModule();
    const zcp = zcps[0];
    if (!zcp) throw new Error('no zcp');
    await waitFor(() => zcp.all('heartbeat').length >= 1);
    const info = { meetingId: 'm-1', mode: v1.MeetingMode.INTERNAL_ONLY, e2ee: false, defaultQuality: v1.Quality.SD, cloudMmrId: '', cloudMmrAddress: '', cloudSignalingUrl: '', accountId: 'acme', hostUserId: '', topic: '', onTopLoss: v1.TopLossPolicy.UNSPECIFIED };
    zcp.last().call.write({ kind: { $case: 'meetingServerInfo', value: info } });
    zcp.last().call.write({
      kind: { $case: 'expectParticipant', value: { meetingId: 'm-1', participantId: 'bob', reservationId: 'r-9', quality: v1.Quality.SD, ticketExpiresAtUnixMs: Date.now() + 500 } },
    });
    // Malformed commands are refused (logged) and change nothing.
    zcp.last().call.write({ kind: { $case: 'expectParticipant', value: { meetingId: 'm 1', participantId: 'eve', reservationId: 'r-10', quality: v1.Quality.SD, ticketExpiresAtUnixMs: 1 } } });
    zcp.last().call.write({ kind: { $case: 'meetingServerInfo', value: { ...info, meetingId: 'm-2', mode: v1.MeetingMode.UNSPECIFIED } } });
    await waitFor(async () => (await app?.http.inject({ method: 'GET', url: '/v1/stats' }))?.json().module.expected === 1, { description: 'expected' });
    const gone = () => zcps.flatMap((z) => z.all('participantLeft'));
    await waitFor(() => gone().length === 1, { timeoutMs: 5000, description: 'ticket expired' });
    expect(gone()).toEqual([{ meetingId: 'm-1', participantId: 'bob', reservationId: 'r-9', reason: v1.LeaveReason.TICKET_EXPIRED, meetingEmpty: true }]);
    expect((await app?.http.inject({ method: 'GET', url: '/v1/stats' }))?.json().module.expected).toBe(0);
  });

  it('with no ZCP up, events wait; the first ZCP to come up gets the held participants and the events in order', async () => {
    const late = new FakeZcp('zcp-late');
    const port = await late.listen().then((z) => z.port);
    late.server.forceShutdown();
    const url = await startModule(`127.0.0.1:${port}`);
    const alice = await joined(url, ticketFor('r-1', 'alice'));
    const bob = await joined(url, ticketFor('r-2', 'bob'));
    bob.close();
    await waitFor(async () => (await app?.http.inject({ method: 'GET', url: '/v1/stats' }))?.json().module.participants === 1, { description: 'bob gone' });
    const zcp = new FakeZcp('zcp-late');
    zcps.push(zcp);
    await zcp.listen(port);
    await waitFor(() => zcp.all('participantLeft').length === 1, { timeoutMs: 15_000, description: 'queued events delivered' });
    expect(zcp.all('register')[0]?.heldMeetings).toEqual([
      { meetingId: 'm-1', participants: [{ participantId: 'alice', reservationId: 'r-1', quality: v1.Quality.HD }] },
    ]);
    const kinds = zcp.last().messages.map((m) => m.kind?.$case).filter((k) => k !== 'heartbeat');
    expect(kinds).toEqual(['register', 'participantArrived', 'participantArrived', 'participantLeft']);
    expect(zcp.all('participantLeft')[0]).toMatchObject({ reservationId: 'r-2', meetingEmpty: false });
    alice.close();
  });

  it('with no ZCP listed it registers nowhere (standalone)', async () => {
    await startModule('');
    // Nothing to wait for: no stream may ever open. Its HTTP side answers.
    expect((await app?.http.inject({ method: 'GET', url: '/v1/module' }))?.statusCode).toBe(200);
    expect(zcps.every((z) => z.streams.length === 0)).toBe(true);
  });
});

describe('MEETEDGE_ZCP_ADDRESSES', () => {
  it('takes comma-separated host:port entries', () => {
    expect(parseZcpAddresses('zcp-1.corp:8091, 10.0.0.2:8091,[::1]:8091')).toEqual(['zcp-1.corp:8091', '10.0.0.2:8091', '[::1]:8091']);
  });

  it.each(['zcp-1', 'zcp-1:0', 'zcp-1:99999', 'http://zcp-1:8091', 'a:1,a:1'])('refuses %p', (raw) => {
    expect(() => parseZcpAddresses(raw)).toThrow();
  });
});
