import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadFastPath, type FastPath } from '@meetedge/fastpath';
import { Message, classes, methods, type Address, type MediaStreamTrack, type RTCPeerConnection } from 'werift';
import { DEFAULT_UDP_RECV_BUFFER_SIZE, createPeerConnection } from './peer-factory';
import { LOOPBACK, PeerRegistry, connected, firstTransceiver, iceAgent, negotiate, receivePayloads, repeatUntil, videoPacket, videoTrack } from './testing';
import { UdpMux } from './udp-mux';

function bindingRequest(username: string): Buffer {
  return new Message(methods.BINDING, classes.REQUEST).setAttribute('USERNAME', username).bytes;
}

function candidatePorts(sdp: string): number[] {
  return [...sdp.matchAll(/^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ/gim)].map((match) => Number(match[1]));
}

/** Polls until `check` holds (the mux counts datagrams asynchronously). */
async function eventually(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** A bare UDP socket on loopback standing in for a remote peer. */
async function rawPeer(): Promise<{ socket: dgram.Socket; address: Address; received: Buffer[] }> {
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (datagram) => received.push(datagram));
  await new Promise<void>((resolve) => socket.bind(0, LOOPBACK, resolve));
  return { socket, address: [LOOPBACK, socket.address().port], received };
}

function fastPath(): FastPath {
  const load = loadFastPath();
  if (!load.fastPath) throw new Error(load.error);
  return load.fastPath;
}

// Without the fast path, and with it (the module's default): then forwarded
// RTP leaves through the batch, and SRTP/SRTCP are the addon's.
describe.each([
  ['dgram', false],
  ['the fast path', true],
])('UdpMux, media through %s', (_name, fast) => {
  let mux: UdpMux;
  const peers = new PeerRegistry();
  const sockets: dgram.Socket[] = [];

  beforeEach(async () => {
    mux = await UdpMux.open({ listenIp: LOOPBACK, port: 0, recvBufferSize: DEFAULT_UDP_RECV_BUFFER_SIZE, fastPath: fast ? fastPath() : undefined });
    expect(mux.fastPath !== undefined).toBe(fast);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await peers.closeAll();
    for (const socket of sockets.splice(0)) socket.close();
    await mux.close();
  });

  async function remote() {
    const peer = await rawPeer();
    sockets.push(peer.socket);
    return peer;
  }

  it('routes a Binding request by the ufrag it names, then that address’s datagrams to the same transport', async () => {
    const ufrags = ['aaaa'];
    const first = await mux.transportFactory({ socketType: 'udp4', address: LOOPBACK, localUsernames: () => ufrags });
    const second = await mux.transportFactory({ socketType: 'udp4', address: LOOPBACK, localUsernames: () => ['bbbb'] });
    const got: Array<[string, Buffer]> = [];
    first.onData = (data) => got.push(['first', data]);
    second.onData = (data) => got.push(['second', data]);
    expect(first.address).toMatchObject({ address: LOOPBACK, port: mux.port });

    const alice = await remote();
    const bob = await remote();
    alice.socket.send(bindingRequest('bbbb:alice'), mux.port, LOOPBACK);
    await eventually(() => got.length === 1);
    alice.socket.send(Buffer.from('dtls or srtp'), mux.port, LOOPBACK);
    await eventually(() => got.length === 2);
    expect(got.map(([to]) => to)).toEqual(['second', 'second']);

    // A new ICE generation: the ufrag list is read when an unknown ufrag arrives.
    ufrags.unshift('cccc');
    bob.socket.send(bindingRequest('cccc:bob'), mux.port, LOOPBACK);
    await eventually(() => got.length === 3);
    expect(got[2]?.[0]).toBe('first');

    // Sending claims the destination for the sender, so replies come back to it.
    const carol = await remote();
    await first.send(Buffer.from('check'), carol.address);
    await eventually(() => carol.received.length === 1);
    carol.socket.send(Buffer.from('reply'), mux.port, LOOPBACK);
    await eventually(() => got.length === 4);
    expect(got[3]).toEqual(['first', Buffer.from('reply')]);

    // After close, the transport's addresses and ufrags route nowhere.
    await second.close();
    alice.socket.send(Buffer.from('late'), mux.port, LOOPBACK);
    alice.socket.send(bindingRequest('bbbb:alice'), mux.port, LOOPBACK);
    await eventually(() => mux.stats().droppedUnknownUfrag === 1 && mux.stats().droppedUnknownSource === 1);
    expect(got).toHaveLength(4);
    expect(mux.transportCount).toBe(1);
  });

  it('drops garbage and Binding requests for unknown ufrags, and counts them', async () => {
    const stranger = await remote();
    stranger.socket.send(randomBytes(200), mux.port, LOOPBACK);
    stranger.socket.send(bindingRequest('nobody:stranger'), mux.port, LOOPBACK);
    stranger.socket.send(Buffer.alloc(0), mux.port, LOOPBACK);
    await eventually(() => mux.stats().datagramsIn === 3);
    expect(mux.stats()).toMatchObject({ droppedUnknownSource: 2, droppedUnknownUfrag: 1, datagramsOut: 0 });
    expect(stranger.received).toEqual([]);
  });

  it('refuses a candidate of the other address family, and sending to a name', async () => {
    await expect(mux.transportFactory({ socketType: 'udp6', address: '::1', localUsernames: () => ['x'] })).rejects.toThrow(/udp4/);
    const transport = await mux.transportFactory({ socketType: 'udp4', address: LOOPBACK, localUsernames: () => ['x'] });
    await expect(transport.send(Buffer.from('x'), ['localhost', 9])).rejects.toThrow(/IP addresses only/);
  });

  it('refuses to open on a port that is taken', async () => {
    await expect(UdpMux.open({ listenIp: LOOPBACK, port: mux.port })).rejects.toThrow(/EADDRINUSE/);
  });

  it('sets SO_RCVBUF on the shared socket to the configured size or the kernel maximum', () => {
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    expect(mux.recvBufferSize).toBeGreaterThanOrEqual(Math.min(DEFAULT_UDP_RECV_BUFFER_SIZE, rmemMax));
  });

  describe('with werift connections', () => {
    interface Pair {
      sfu: RTCPeerConnection;
      client: RTCPeerConnection;
      /** What the SFU receives from this client. */
      atSfu: Promise<MediaStreamTrack>;
      sendToSfu: (body: Buffer) => void;
      sendToClient: (body: Buffer) => void;
      /** What the client receives from the SFU. */
      atClient: MediaStreamTrack;
      answer: string;
    }

    /** A client publishing video to an SFU connection on the mux, and the SFU sending video back. */
    async function connectPair(): Promise<Pair> {
      const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK, udpMux: mux }));
      const client = peers.client();
      const published = videoTrack();
      const clientVideo = client.addTransceiver(published, { direction: 'sendrecv' });
      const atSfu = new Promise<MediaStreamTrack>((resolve) => sfu.onTrack.subscribe(resolve));
      const { answer } = await negotiate(client, sfu, () => firstTransceiver(sfu).setDirection('sendrecv'));
      await Promise.all([connected(sfu), connected(client)]);
      const sfuVideo = firstTransceiver(sfu);
      let clientSeq = 0;
      let sfuSeq = 0;
      return {
        sfu,
        client,
        atSfu,
        sendToSfu: (body) => published.writeRtp(videoPacket(clientSeq++, body)),
        sendToClient: (body) => void sfuVideo.sender.sendRtp(videoPacket(sfuSeq++, body)),
        atClient: clientVideo.receiver.track,
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
      // Payloads after the one-byte VP8 descriptor arrive byte for byte.
      for (const payload of fromClient) expect(payload.subarray(1)).toEqual(up);
      for (const payload of fromSfu) expect(payload.subarray(1)).toEqual(down);
    }

    it('serves three connections on one UDP port, with media both ways on each and no other SFU socket', async () => {
      // Everything the SFU side binds would show up here; the clients bind one socket each.
      const createSocket = jest.spyOn(dgram, 'createSocket');
      const pairs = await Promise.all([connectPair(), connectPair(), connectPair()]);

      expect(createSocket).toHaveBeenCalledTimes(pairs.length);
      expect(mux.transportCount).toBe(3);
      for (const pair of pairs) {
        expect(candidatePorts(pair.answer)).toEqual([mux.port]);
        expect(iceAgent(pair.client).nominated?.remoteCandidate.port).toBe(mux.port);
      }
      await Promise.all(pairs.map((pair, i) => exchange(pair, `connection ${i}`)));
      expect(mux.stats()).toMatchObject({ droppedUnknownSource: 0, droppedUnknownUfrag: 0, handlerErrors: 0 });

      // One connection closing leaves the others working.
      const [closing, ...staying] = pairs;
      await closing?.sfu.close();
      expect(mux.transportCount).toBe(2);
      await Promise.all(staying.map((pair, i) => exchange(pair, `after close ${i}`)));
    });
  });
});
