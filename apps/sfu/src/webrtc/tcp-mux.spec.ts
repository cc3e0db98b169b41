import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Message, classes, methods, type Address, type InjectedTcpTransport, type InjectedUdpTransport, type MediaStreamTrack, type RTCPeerConnection } from 'werift';
import { createPeerConnection } from './peer-factory';
import { TcpMux, type TcpMuxOptions } from './tcp-mux';
import { LOOPBACK, PeerRegistry, connected, firstTransceiver, iceAgent, negotiate, receivePayloads, repeatUntil, videoPacket, videoTrack } from './testing';
import { UdpMux } from './udp-mux';

function bindingRequest(username: string): Buffer {
  return new Message(methods.BINDING, classes.REQUEST).setAttribute('USERNAME', username).bytes;
}

/** RFC 4571: a 2-byte length, then the packet. */
function frame(packet: Buffer): Buffer {
  const header = Buffer.alloc(2);
  header.writeUInt16BE(packet.length);
  return Buffer.concat([header, packet]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds; fails after 5 s so that every test ends by itself. */
async function eventually(check: () => boolean, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A bare TCP connection to the mux standing in for a client: frames it receives, and whether the mux closed it. */
interface RawClient {
  socket: net.Socket;
  /** Its address as the mux sees it. */
  address: Address;
  frames: Buffer[];
  closed: () => boolean;
}

describe('TcpMux', () => {
  const muxes: TcpMux[] = [];
  const clients: net.Socket[] = [];
  let mux: TcpMux;

  async function openMux(options: Partial<TcpMuxOptions> = {}): Promise<TcpMux> {
    const opened = await TcpMux.open({ listenIp: LOOPBACK, port: 0, ...options });
    muxes.push(opened);
    return opened;
  }

  async function connect(to: TcpMux = mux): Promise<RawClient> {
    const socket = net.connect({ host: LOOPBACK, port: to.port });
    clients.push(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    let isClosed = false;
    socket.on('close', () => {
      isClosed = true;
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const frames: Buffer[] = [];
    let rest = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      rest = Buffer.concat([rest, chunk]);
      while (rest.length >= 2 && rest.length >= 2 + rest.readUInt16BE(0)) {
        frames.push(rest.subarray(2, 2 + rest.readUInt16BE(0)));
        rest = rest.subarray(2 + rest.readUInt16BE(0));
      }
    });
    return { socket, address: [LOOPBACK, socket.localPort as number], frames, closed: () => isClosed };
  }

  /** A transport as werift would get it, recording what it receives. */
  async function transport(ufrags: string[], on: TcpMux = mux): Promise<{ transport: InjectedTcpTransport; got: Array<[Buffer, Address]> }> {
    const created = await on.transportFactory({ socketType: 'tcp4', address: LOOPBACK, localUsernames: () => ufrags });
    const got: Array<[Buffer, Address]> = [];
    created.onData = (data, addr) => got.push([Buffer.from(data), addr]);
    return { transport: created, got };
  }

  beforeEach(async () => {
    mux = await openMux();
  });

  afterEach(async () => {
    for (const socket of clients.splice(0)) socket.destroy();
    await Promise.all(muxes.splice(0).map((m) => m.close()));
  });

  it('gives a connection to the transport its first Binding request names; frames split across reads or sharing one arrive whole and in order', async () => {
    const ufrags = ['aaaa'];
    const first = await transport(ufrags);
    const second = await transport(['bbbb']);
    expect(second.transport.address).toMatchObject({ address: LOOPBACK, port: mux.port });

    const alice = await connect();
    const check = bindingRequest('bbbb:alice');
    const request = frame(check);
    // The first frame a byte at a time, each in a segment of its own.
    for (const byte of request) {
      alice.socket.write(Buffer.from([byte]));
      await sleep(2);
    }
    await eventually(() => second.got.length === 1, 'the Binding request');
    expect(second.got[0]).toEqual([check, alice.address]);

    // Three frames in one write, and a fourth cut in the middle of its length.
    const packets = [randomBytes(1200), Buffer.from('dtls'), randomBytes(300), randomBytes(900)];
    const stream = Buffer.concat(packets.map(frame));
    const cut = stream.length - 900 - 1;
    alice.socket.write(stream.subarray(0, cut));
    await sleep(20);
    alice.socket.write(stream.subarray(cut));
    await eventually(() => second.got.length === 5, 'four more frames');
    expect(second.got.slice(1)).toEqual(packets.map((packet) => [packet, alice.address]));

    // Replies go out framed on the connection they are addressed to.
    await second.transport.send(Buffer.from('reply'), alice.address);
    await eventually(() => alice.frames.length === 1, 'the reply');
    expect(alice.frames[0]).toEqual(Buffer.from('reply'));
    await expect(second.transport.send(Buffer.from('x'), [LOOPBACK, 9])).rejects.toThrow(/no TCP connection/);

    // The connection belongs to its transport for good, whatever it sends later.
    const later = bindingRequest('aaaa:alice');
    alice.socket.write(frame(later));
    await eventually(() => second.got.length === 6, 'a later Binding request');
    expect(first.got).toEqual([]);

    // A new ICE generation's ufrag is learnt when a connection names it.
    ufrags.unshift('cccc');
    const bob = await connect();
    const nextGeneration = bindingRequest('cccc:bob');
    bob.socket.write(frame(nextGeneration));
    await eventually(() => first.got.length === 1, 'the new generation');

    expect(mux.stats()).toMatchObject({
      connectionsAccepted: 2,
      connectionsAssigned: 2,
      framesIn: 7,
      framesOut: 1,
      bytesOut: 5,
      handlerErrors: 0,
    });
    expect(mux.stats().bytesIn).toBe(
      [check, ...packets, later, nextGeneration].reduce((sum, p) => sum + p.length, 0),
    );
    expect(second.transport.connectionCount).toBe(1);
    expect(mux.connectionCount).toBe(2);
  });

  it('holds the frames after a DTLS record until the promise callbacks it started have run, as between datagrams', async () => {
    const { transport: served } = await transport(['dtls']);
    const order: string[] = [];
    served.onData = (data) => {
      const name = data.toString('latin1', 1);
      order.push(name);
      // werift handles a handshake record in a chain of promise callbacks.
      if (data[0] === 22) void Promise.resolve().then(() => Promise.resolve()).then(() => order.push(`${name} done`));
    };
    const client = await connect();
    const rtp = (name: string) => Buffer.concat([Buffer.from([0x80]), Buffer.from(name)]);
    const dtls = (name: string) => Buffer.concat([Buffer.from([22]), Buffer.from(name)]);
    const check = bindingRequest('dtls:client');
    client.socket.write(Buffer.concat([check, dtls('flight'), rtp('a'), rtp('b'), dtls('alert'), rtp('c')].map(frame)));
    await eventually(() => order.length === 8, 'every frame');
    expect(order.slice(1)).toEqual(['flight', 'flight done', 'a', 'b', 'alert', 'alert done', 'c']);

    // Record after record (the connection stops reading while 256 wait): all arrive, in order.
    order.length = 0;
    const names = Array.from({ length: 2000 }, (_, i) => `r${i}`);
    client.socket.write(Buffer.concat(names.map((name) => frame(dtls(name)))));
    await eventually(() => order.filter((name) => !name.endsWith('done')).length === names.length, 'every record');
    expect(order.filter((name) => !name.endsWith('done'))).toEqual(names);
  });

  it('closes connections that send garbage, oversized frames or unknown ufrags, counts them, and keeps serving the others', async () => {
    const { transport: served, got } = await transport(['good']);
    const good = await connect();
    good.socket.write(frame(bindingRequest('good:client')));
    await eventually(() => got.length === 1, 'the good connection');

    const bad = await Promise.all(Array.from({ length: 7 }, () => connect()));
    const [garbage, empty, response, unknown, huge, http, tls] = bad as [RawClient, RawClient, RawClient, RawClient, RawClient, RawClient, RawClient];
    garbage.socket.write(frame(randomBytes(100)));
    empty.socket.write(frame(Buffer.alloc(0)));
    response.socket.write(frame(new Message(methods.BINDING, classes.RESPONSE).setAttribute('USERNAME', 'good:x').bytes));
    unknown.socket.write(frame(bindingRequest('nobody:client')));
    // Refused on the length alone, without waiting for the 60,000 bytes.
    huge.socket.write(Buffer.from([0xea, 0x60]));
    http.socket.write('GET / HTTP/1.1\r\nHost: sfu\r\n\r\n');
    tls.socket.write(Buffer.from('16030100c8010000c40303', 'hex'));
    await eventually(() => bad.every((client) => client.closed()), 'the bad connections to close');

    expect(mux.stats()).toMatchObject({
      connectionsAccepted: 8,
      connectionsAssigned: 1,
      refusedGarbage: 3,
      refusedUnknownUfrag: 1,
      refusedOversized: 3,
      refusedTimeout: 0,
      refusedOverLimit: 0,
    });
    for (const client of bad) expect(client.frames).toEqual([]);
    expect(got).toHaveLength(1);

    // The good connection still works both ways.
    good.socket.write(frame(Buffer.from('still here')));
    await served.send(Buffer.from('so am I'), good.address);
    await eventually(() => got.length === 2 && good.frames.length === 1, 'the good connection');
    expect(good.frames[0]).toEqual(Buffer.from('so am I'));
    expect(mux.connectionCount).toBe(1);

    // An oversized frame later on closes that connection too.
    good.socket.write(Buffer.from([0xff, 0xff]));
    await eventually(() => good.closed(), 'the oversized frame');
    expect(mux.stats().refusedOversized).toBe(4);
    expect(served.connectionCount).toBe(0);
  });

  it('closes a connection whose first frame is not complete in time', async () => {
    const quick = await openMux({ firstFrameTimeoutMs: 200 });
    const { got } = await transport(['slow'], quick);
    const silent = await connect(quick);
    const partial = await connect(quick);
    const request = frame(bindingRequest('slow:client'));
    partial.socket.write(request.subarray(0, 10));
    const started = Date.now();
    await eventually(() => silent.closed() && partial.closed(), 'the timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(quick.stats()).toMatchObject({ refusedTimeout: 2, connectionsAssigned: 0 });
    expect(got).toEqual([]);
    expect(quick.connectionCount).toBe(0);
  });

  it('limits connections waiting for a first frame, and connections per werift connection', async () => {
    const limited = await openMux({ maxPendingConnections: 2, maxConnectionsPerTransport: 1 });
    const { got } = await transport(['only'], limited);
    const waiting = [await connect(limited), await connect(limited)];
    const third = await connect(limited);
    await eventually(() => third.closed(), 'the third pending connection to close');
    expect(waiting.some((client) => client.closed())).toBe(false);

    for (const client of waiting) client.socket.write(frame(bindingRequest('only:client')));
    await eventually(() => got.length === 1 && waiting.some((client) => client.closed()), 'one to be served and one refused');
    expect(limited.stats()).toMatchObject({ refusedOverLimit: 2, connectionsAssigned: 1 });
  });

  it('prune keeps the selected connection and closes the others', async () => {
    const { transport: served, got } = await transport(['pair']);
    const kept = await connect();
    const pruned = await connect();
    for (const client of [kept, pruned]) client.socket.write(frame(bindingRequest('pair:client')));
    await eventually(() => got.length === 2, 'both connections');
    served.prune(kept.address);
    await eventually(() => pruned.closed(), 'the pruned connection to close');
    await served.send(Buffer.from('selected'), kept.address);
    await eventually(() => kept.frames.length === 1, 'the kept connection');
    expect(served.connectionCount).toBe(1);
  });

  it('drops whole frames to a connection that stops reading, and counts them', async () => {
    const small = await openMux({ maxWriteBufferBytes: 64 * 1024 });
    const { transport: served, got } = await transport(['stalled'], small);
    const client = await connect(small);
    client.socket.write(frame(bindingRequest('stalled:client')));
    await eventually(() => got.length === 1, 'the connection');
    client.socket.pause();
    // Fill the kernel buffers (a few MB on loopback), then the mux's 64 KiB.
    let sent = 0;
    for (let i = 0; i < 20_000 && small.stats().framesDroppedOut === 0; i++) {
      await served.send(Buffer.alloc(4000, i % 251), client.address);
      sent++;
    }
    const stats = small.stats();
    expect(stats.framesDroppedOut).toBe(1);
    expect(stats.framesOut).toBe(sent - 1);
    client.socket.resume();
    await eventually(() => client.frames.length === stats.framesOut, 'every frame that was sent');
    // Nothing was cut: every frame arrives whole, in order.
    client.frames.forEach((received, i) => expect(received.equals(Buffer.alloc(4000, i % 251))).toBe(true));
  });

  it('closing a transport closes its connections and forgets its ufrag; closing the mux closes everything', async () => {
    const first = await transport(['one']);
    const second = await transport(['two']);
    const a = await connect();
    const b = await connect();
    const pending = await connect();
    a.socket.write(frame(bindingRequest('one:a')));
    b.socket.write(frame(bindingRequest('two:b')));
    await eventually(() => first.got.length === 1 && second.got.length === 1, 'both connections');

    await first.transport.close();
    await eventually(() => a.closed(), 'the closed transport’s connection');
    expect(mux.transportCount).toBe(1);
    const late = await connect();
    late.socket.write(frame(bindingRequest('one:late')));
    await eventually(() => late.closed(), 'the late connection');
    expect(mux.stats().refusedUnknownUfrag).toBe(1);

    await mux.close();
    await eventually(() => b.closed() && pending.closed(), 'every connection to close');
    expect(mux.transportCount).toBe(0);
    expect(mux.connectionCount).toBe(0);
    await expect(mux.transportFactory({ socketType: 'tcp4', address: LOOPBACK, localUsernames: () => ['x'] })).rejects.toThrow(/closed/);
    await expect(connect()).rejects.toThrow(/ECONNREFUSED/);
    await expect(second.transport.send(Buffer.from('x'), b.address)).resolves.toBeUndefined();
  });

  it('refuses a candidate of the other address family, and a port that is taken', async () => {
    await expect(mux.transportFactory({ socketType: 'tcp6', address: '::1', localUsernames: () => ['x'] })).rejects.toThrow(/tcp4/);
    await expect(TcpMux.open({ listenIp: LOOPBACK, port: mux.port })).rejects.toThrow(/EADDRINUSE/);
  });

  describe('with werift connections', () => {
    const peers = new PeerRegistry();
    const sockets: dgram.Socket[] = [];
    let udp: UdpMux;

    beforeEach(async () => {
      udp = await UdpMux.open({ listenIp: LOOPBACK, port: 0 });
      await mux.close();
      muxes.splice(0);
      mux = await openMux({ port: udp.port });
    });

    afterEach(async () => {
      jest.restoreAllMocks();
      await peers.closeAll();
      for (const socket of sockets.splice(0)) socket.close();
      await udp.close();
    });

    /** A client without UDP: its network drops UDP, or (`offersUdp` false) it offers TCP candidates only. */
    async function tcpOnlyClient(offersUdp: boolean): Promise<RTCPeerConnection> {
      let blackHole: dgram.Socket | undefined;
      if (offersUdp) {
        blackHole = dgram.createSocket('udp4');
        sockets.push(blackHole);
        await new Promise<void>((resolve) => blackHole?.bind(0, LOOPBACK, resolve));
      }
      const port = blackHole?.address().port ?? 0;
      return peers.client({
        iceUseTcp: true,
        // werift's own TCP for the client: an active candidate that connects to the mux.
        iceUdpTransportFactory: async ({ address }) => {
          if (!offersUdp) throw new Error('no UDP on this client');
          // A host candidate whose datagrams never arrive anywhere.
          const dropped: InjectedUdpTransport = {
            type: 'udp',
            socketType: 'udp4',
            closed: false,
            onData: () => undefined,
            address: { address, family: 'IPv4', port },
            send: async () => undefined,
            close: async () => undefined,
          };
          return dropped;
        },
      });
    }

    interface Pair {
      sfu: RTCPeerConnection;
      client: RTCPeerConnection;
      atSfu: Promise<MediaStreamTrack>;
      atClient: MediaStreamTrack;
      sendToSfu: (body: Buffer) => void;
      sendToClient: (body: Buffer) => void;
      offer: string;
      answer: string;
    }

    async function connectPair(offersUdp = false): Promise<Pair> {
      const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK, udpMux: udp, tcpMux: mux }));
      const client = await tcpOnlyClient(offersUdp);
      const published = videoTrack();
      const clientVideo = client.addTransceiver(published, { direction: 'sendrecv' });
      const atSfu = new Promise<MediaStreamTrack>((resolve) => sfu.onTrack.subscribe(resolve));
      const { offer, answer } = await negotiate(client, sfu, () => firstTransceiver(sfu).setDirection('sendrecv'));
      await Promise.all([connected(sfu), connected(client)]);
      const sfuVideo = firstTransceiver(sfu);
      let clientSeq = 0;
      let sfuSeq = 0;
      return {
        sfu,
        client,
        atSfu,
        atClient: clientVideo.receiver.track,
        sendToSfu: (body) => published.writeRtp(videoPacket(clientSeq++, body)),
        sendToClient: (body) => void sfuVideo.sender.sendRtp(videoPacket(sfuSeq++, body)),
        offer: offer.sdp,
        answer: answer.sdp,
      };
    }

    /** Media both ways on one pair, each payload tagged so cross-talk would show. */
    async function exchange(pair: Pair, tag: string): Promise<void> {
      const up = Buffer.from(`${tag} up`);
      const down = Buffer.from(`${tag} down`);
      const atSfu = await pair.atSfu;
      const [fromClient, fromSfu] = await Promise.all([
        repeatUntil(receivePayloads(atSfu, 3), () => pair.sendToSfu(up)),
        repeatUntil(receivePayloads(pair.atClient, 3), () => pair.sendToClient(down)),
      ]);
      for (const payload of fromClient) expect(payload.subarray(1)).toEqual(up);
      for (const payload of fromSfu) expect(payload.subarray(1)).toEqual(down);
    }

    function candidates(sdp: string): string[] {
      return [...sdp.matchAll(/^a=candidate:\S+ \d+ (\S+) \d+ (\S+) (\d+) typ (\S+)(?: tcptype (\S+))?/gim)].map(
        ([, transport, host, port, type, tcptype]) => [transport?.toLowerCase(), host, port, type, tcptype].filter(Boolean).join(' '),
      );
    }

    it('serves three TCP-only clients on the one TCP port, media both ways, without a listener of its own', async () => {
      const createServer = jest.spyOn(net, 'createServer');
      const pairs = await Promise.all([connectPair(), connectPair(), connectPair()]);

      // The clients' own passive candidates listen; the SFU side only has the mux.
      expect(createServer).toHaveBeenCalledTimes(pairs.length);
      expect(mux.transportCount).toBe(3);
      for (const pair of pairs) {
        expect(candidates(pair.offer).every((c) => c.startsWith('tcp'))).toBe(true);
        // One UDP and one passive TCP host candidate, both on the media port; no active one.
        expect(candidates(pair.answer)).toEqual([`udp ${LOOPBACK} ${mux.port} host`, `tcp ${LOOPBACK} ${mux.port} host passive`]);
        const nominated = iceAgent(pair.client).nominated;
        expect(nominated?.localCandidate.transport).toBe('tcp');
        expect(nominated?.remoteCandidate.port).toBe(mux.port);
        expect(iceAgent(pair.sfu).nominated?.localCandidate.tcptype).toBe('passive');
      }
      await Promise.all(pairs.map((pair, i) => exchange(pair, `connection ${i}`)));
      expect(mux.stats()).toMatchObject({ connectionsAssigned: 3, refusedGarbage: 0, refusedUnknownUfrag: 0, handlerErrors: 0, framesDroppedOut: 0 });
      expect(udp.stats().datagramsIn).toBe(0);

      // One connection closing releases its transport and TCP connection; the others keep working.
      const [closing, ...staying] = pairs;
      await closing?.sfu.close();
      expect(mux.transportCount).toBe(2);
      await eventually(() => mux.connectionCount === 2, 'the closed connection’s TCP connection to go');
      await Promise.all(staying.map((pair, i) => exchange(pair, `after close ${i}`)));
    });

    it('connects over TCP a client whose UDP is blocked', async () => {
      const pair = await connectPair(true);
      expect(candidates(pair.offer)[0]).toMatch(/^udp /);
      expect(iceAgent(pair.client).nominated?.localCandidate.transport).toBe('tcp');
      await exchange(pair, 'udp blocked');
      expect(mux.stats().connectionsAssigned).toBe(1);
    });
  });
});
