import dgram from 'node:dgram';
import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { DEFAULT_UDP_RECV_BUFFER_SIZE, assertWeriftPatched, createPeerConnection, peerConfig } from './peer-factory';
import { TcpMux } from './tcp-mux';
import { LOOPBACK, PeerRegistry, connected, iceAgent, negotiate } from './testing';

/** The destination host of a dgram send(msg, port, host) / send(msg, offset, length, port, host) call. */
function destination(args: unknown[]): unknown {
  return args.find((arg) => typeof arg === 'string');
}

function candidateAddresses(sdp: string): string[] {
  return [...sdp.matchAll(/^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ/gm)].map((match) => String(match[1]));
}

describe('createPeerConnection', () => {
  const peers = new PeerRegistry();

  afterEach(async () => {
    await peers.closeAll();
    jest.restoreAllMocks();
  });

  it('with no ICE servers contacts no server: no name lookup, every datagram to loopback, and it connects', async () => {
    const lookup = jest.spyOn(dns, 'lookup');
    const promisesLookup = jest.spyOn(dns.promises, 'lookup');
    const send = jest.spyOn(dgram.Socket.prototype, 'send');

    const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK }));
    const client = peers.client();
    client.addTransceiver('video', { direction: 'sendrecv' });
    const { offer, answer } = await negotiate(client, sfu);
    await Promise.all([connected(client), connected(sfu)]);

    // werift used to fall back to stun.l.google.com:19302 here (patch 001).
    expect(iceAgent(sfu).stunServer).toBeUndefined();
    // dgram passes IP literals through dns.lookup, which answers them without a
    // query; a name (a STUN server's) would be a real DNS lookup.
    const looked = [...lookup.mock.calls, ...promisesLookup.mock.calls].map((args) => args[0]);
    expect(looked.filter((host) => isIP(host) === 0)).toEqual([]);
    expect(send.mock.calls.length).toBeGreaterThan(0);
    expect(new Set(send.mock.calls.map(destination))).toEqual(new Set([LOOPBACK]));
    // One host candidate each, both on loopback (patch 002).
    expect(candidateAddresses(answer.sdp)).toEqual([LOOPBACK]);
    expect(candidateAddresses(offer.sdp)).toEqual([LOOPBACK]);
  });

  it('sets SO_RCVBUF on its UDP socket to the configured size or the kernel maximum', async () => {
    const createSocket = jest.spyOn(dgram, 'createSocket');
    const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK, udpRecvBufferSize: DEFAULT_UDP_RECV_BUFFER_SIZE }));
    sfu.addTransceiver('video', { direction: 'sendrecv' });
    await sfu.setLocalDescription(await sfu.createOffer());

    const sockets = createSocket.mock.results.map((result) => result.value as dgram.Socket);
    expect(sockets).toHaveLength(1);
    const [socket] = sockets;
    // Linux grants min(requested, net.core.rmem_max) and reports twice that.
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    expect(socket?.getRecvBufferSize()).toBeGreaterThanOrEqual(Math.min(DEFAULT_UDP_RECV_BUFFER_SIZE, rmemMax));
  });

  it('runs on werift with every patch applied', () => {
    expect(() => assertWeriftPatched()).not.toThrow();
  });

  it('offers ICE-TCP only through the shared TCP port: a passive candidate there, never a listener of its own', async () => {
    expect(peerConfig({ announcedIp: LOOPBACK })).toMatchObject({ iceUseTcp: false, iceTcpTransportFactory: undefined });
    const mux = await TcpMux.open({ listenIp: LOOPBACK, port: 0 });
    try {
      expect(peerConfig({ announcedIp: LOOPBACK, tcpMux: mux })).toMatchObject({ iceUseTcp: true, iceTcpTransportFactory: mux.transportFactory });
      expect(() => peerConfig({ announcedIp: '::1', tcpMux: mux })).toThrow(/not of the TCP mux's family \(tcp4\)/);
      const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK, tcpMux: mux }));
      sfu.addTransceiver('video', { direction: 'sendrecv' });
      await sfu.setLocalDescription(await sfu.createOffer());
      const tcp = (sfu.localDescription?.sdp ?? '').split('\r\n').filter((line) => / tcp /i.test(line) && line.startsWith('a=candidate'));
      expect(tcp).toHaveLength(1);
      expect(tcp[0]).toContain(`${LOOPBACK} ${mux.port} typ host tcptype passive`);
    } finally {
      await peers.closeAll();
      await mux.close();
    }
  });

  it('refuses an announced address that is not an IP', () => {
    expect(() => peerConfig({ announcedIp: 'sfu.example.com' })).toThrow(/must be an IP address/);
  });
});
