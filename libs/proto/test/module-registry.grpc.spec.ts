// A real gRPC round trip of ZoneControllerProxy.Connect over loopback: the
// generated service definition, client constructor and codecs on both sides,
// grpc-js in between.
import {
  credentials,
  Server,
  type ClientDuplexStream,
  type ServerDuplexStream,
} from '@grpc/grpc-js';
import { v1 } from '../src';
import { listen, nextOf } from './grpc-helpers';

const TICKET_EXPIRY = 1_767_225_600_123; // > 2^32: proves int64 survives as a JS number

const register = v1.Register.create({
  moduleId: 'sfu-1',
  zoneId: 'hq',
  nodeId: 'node-a',
  role: v1.ModuleRole.EDGE,
  mediaUrl: 'https://10.1.2.3:8100',
  capacityUnits: 400,
  version: '0.1.0',
  heldMeetings: [
    {
      meetingId: 'm-1',
      participants: [{ participantId: 'p-9', reservationId: 'r-9', quality: v1.Quality.HD }],
    },
  ],
});

const heartbeat = v1.Heartbeat.create({
  seq: 1,
  participants: 1,
  meetings: 1,
  cpuPercent: 12.5,
  egressKbps: 1200,
  ingressKbps: 1150,
  usedUnits: 2,
  sentAtUnixMs: 1_767_225_000_000,
});

describe('ZoneControllerProxy.Connect over loopback gRPC', () => {
  let server: Server | undefined;
  let client: v1.ZoneControllerProxyClient | undefined;
  let call: ClientDuplexStream<v1.ModuleMessage, v1.ZcpMessage> | undefined;

  afterEach(() => {
    call?.cancel();
    client?.close();
    server?.forceShutdown();
    call = undefined;
    client = undefined;
    server = undefined;
  });

  it('register → register_ack, heartbeat → expect_participant, fields decode as sent', async () => {
    const received: v1.ModuleMessage[] = [];
    const impl: v1.ZoneControllerProxyServer = {
      connect(stream: ServerDuplexStream<v1.ModuleMessage, v1.ZcpMessage>) {
        stream.on('data', (message: v1.ModuleMessage) => {
          received.push(message);
          switch (message.kind?.$case) {
            case 'register':
              stream.write({
                kind: {
                  $case: 'registerAck',
                  value: { zcpId: 'zcp-1', heartbeatIntervalMs: 1000, ttlMs: 5000 },
                },
              });
              break;
            case 'heartbeat':
              stream.write({
                kind: {
                  $case: 'expectParticipant',
                  value: {
                    meetingId: 'm-1',
                    participantId: 'p-1',
                    reservationId: 'r-1',
                    quality: v1.Quality.HD,
                    ticketExpiresAtUnixMs: TICKET_EXPIRY,
                  },
                },
              });
              break;
            default:
              break;
          }
        });
        stream.on('end', () => stream.end());
      },
    };
    server = new Server();
    server.addService(v1.ZoneControllerProxyService, impl);
    const port = await listen(server);

    client = new v1.ZoneControllerProxyClient(`127.0.0.1:${port}`, credentials.createInsecure());
    call = client.connect();
    const replies = call[Symbol.asyncIterator]() as AsyncIterator<v1.ZcpMessage>;

    call.write({ kind: { $case: 'register', value: register } });
    const ack = await nextOf(replies);
    expect(ack.kind).toEqual({
      $case: 'registerAck',
      value: { zcpId: 'zcp-1', heartbeatIntervalMs: 1000, ttlMs: 5000 },
    });

    call.write({ kind: { $case: 'heartbeat', value: heartbeat } });
    const command = await nextOf(replies);
    if (command.kind?.$case !== 'expectParticipant') throw new Error(`unexpected ${command.kind?.$case}`);
    expect(command.kind.value).toEqual({
      meetingId: 'm-1',
      participantId: 'p-1',
      reservationId: 'r-1',
      quality: v1.Quality.HD,
      ticketExpiresAtUnixMs: TICKET_EXPIRY,
    });
    expect(typeof command.kind.value.ticketExpiresAtUnixMs).toBe('number');

    // What the server decoded is what the client encoded, field by field.
    expect(received).toEqual([
      { kind: { $case: 'register', value: register } },
      { kind: { $case: 'heartbeat', value: heartbeat } },
    ]);
    const decodedRegister = received[0]?.kind;
    if (decodedRegister?.$case !== 'register') throw new Error('first message was not register');
    expect(decodedRegister.value.role).toBe(v1.ModuleRole.EDGE);
    expect(decodedRegister.value.heldMeetings[0]?.participants[0]?.quality).toBe(v1.Quality.HD);
  });
});

describe('generated codecs', () => {
  it('encode/decode keep a oneof case and its value', () => {
    const message: v1.ZcpMessage = {
      kind: {
        $case: 'setCascade',
        value: {
          meetingId: 'm-1',
          enabled: true,
          targetServerId: 'cloud-mmr-1',
          targetAddress: 'cloud-mmr:9701',
          reason: v1.CascadeReason.REMOTE_PARTICIPANT,
        },
      },
    };
    expect(v1.ZcpMessage.decode(v1.ZcpMessage.encode(message).finish())).toEqual(message);
  });

  it('an empty oneof decodes as no kind, so receivers must check it', () => {
    expect(v1.ModuleMessage.decode(v1.ModuleMessage.encode({}).finish()).kind).toBeUndefined();
  });
});
