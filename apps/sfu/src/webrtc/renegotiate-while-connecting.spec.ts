import type dgram from 'node:dgram';
import type { Address, UdpTransportFactory } from 'werift';
import { createPeerConnection } from './peer-factory';
import { LOOPBACK, PeerRegistry, connected, interceptingUdpTransports, negotiate, videoTrack, type SendNow } from './testing';
import { UdpMux } from './udp-mux';

const DTLS_HANDSHAKE = 22;

/**
 * werift's `iceUdpTransportFactory` for a client: a socket of its own on
 * loopback that holds back every DTLS handshake record it sends until
 * `release()`: the connection set-up (ICE checks, then DTLS) is still running
 * when the renegotiation arrives, as it is for a MediaClient publishing then receiving.
 */
function holdingDtls(sockets: dgram.Socket[]): { factory: UdpTransportFactory; release: () => void; held: () => number } {
  let holding = true;
  const held: Array<[Buffer, Address, SendNow]> = [];
  const factory = interceptingUdpTransports(sockets, (data, addr, now) => {
    if (holding && data[0] === DTLS_HANDSHAKE) held.push([data, addr, now]);
    else now(data, addr);
  });
  const release = () => {
    holding = false;
    for (const [data, to, send] of held.splice(0)) send(data, to);
  };
  return { factory, release, held: () => held.length };
}

describe('a renegotiation while the first connection is still being set up (patch 016)', () => {
  let mux: UdpMux;
  const peers = new PeerRegistry();
  const sockets: dgram.Socket[] = [];

  beforeEach(async () => {
    mux = await UdpMux.open({ listenIp: LOOPBACK, port: 0 });
  });

  afterEach(async () => {
    await peers.closeAll();
    for (const socket of sockets.splice(0)) {
      try {
        socket.close();
      } catch {
        // closed by werift already
      }
    }
    await mux.close();
  });

  it('does not start ICE a second time: both sides connect once, and ICE stays connected', async () => {
    const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK, udpMux: mux }));
    const hold = holdingDtls(sockets);
    const client = peers.client({ iceUdpTransportFactory: hold.factory });
    client.addTransceiver(videoTrack(), { direction: 'sendonly' });
    const iceStates = { client: [] as string[], sfu: [] as string[] };
    client.iceConnectionStateChange.subscribe((state) => iceStates.client.push(state));
    sfu.iceConnectionStateChange.subscribe((state) => iceStates.sfu.push(state));

    await negotiate(client, sfu);
    // ICE is still checking: the renegotiation comes at once, as MediaSession.receive() right after publish().
    expect(client.iceConnectionState).toBe('checking');
    client.addTransceiver('audio', { direction: 'recvonly' });
    await negotiate(client, sfu);
    hold.release();
    await Promise.all([connected(sfu), connected(client)]);
    // Give a second ICE pass, if one was started, the time to show itself.
    await new Promise((r) => setTimeout(r, 300));

    // Unpatched, the second answer starts connect() again: ICE goes back to
    // "checking" on a connected agent (and may end "failed").
    expect(iceStates.client.filter((s) => s === 'checking')).toHaveLength(1);
    expect(iceStates.sfu.filter((s) => s === 'checking')).toHaveLength(1);
    expect(client.iceConnectionState).not.toBe('checking');
    expect(sfu.iceConnectionState).not.toBe('checking');
    expect([client.connectionState, sfu.connectionState]).toEqual(['connected', 'connected']);
  });
  it('still restarts ICE when the restart comes during the first set-up, and both sides connect', async () => {
    const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK, udpMux: mux }));
    const hold = holdingDtls(sockets);
    const client = peers.client({ iceUdpTransportFactory: hold.factory });
    client.addTransceiver(videoTrack(), { direction: 'sendonly' });
    await negotiate(client, sfu);
    expect(client.iceConnectionState).toBe('checking');
    // An ICE restart (new credentials, a new check list) before the first run ended:
    // connect() must start the new generation, not wait on the old run, which never ends.
    client.restartIce();
    const { offer } = await negotiate(client, sfu);
    expect(offer.sdp).toMatch(/a=ice-ufrag:/);
    hold.release();
    await Promise.all([connected(sfu), connected(client)]);
    expect([client.connectionState, sfu.connectionState]).toEqual(['connected', 'connected']);
  });
});
