import type dgram from 'node:dgram';
import type { Address, MediaStreamTrack, UdpTransportFactory } from 'werift';
import { createPeerConnection } from './peer-factory';
import { LOOPBACK, PeerRegistry, connected, interceptingUdpTransports, negotiate, receivePayloads, repeatUntil, videoPacket, videoTrack, type SendNow } from './testing';
import { UdpMux } from './udp-mux';

const DTLS_HANDSHAKE = 22;
const HELLO_VERIFY_REQUEST = 3;

/** A DTLS record carrying a HelloVerifyRequest: content type 22, handshake type 3 after the 13-byte record header. */
function isHelloVerifyRequest(datagram: Buffer): boolean {
  return datagram.length > 13 && datagram[0] === DTLS_HANDSHAKE && datagram[13] === HELLO_VERIFY_REQUEST;
}

/**
 * werift's `iceUdpTransportFactory` for a client: a socket of its own on
 * loopback that holds back the HelloVerifyRequests it sends until there are
 * `count` of them, then sends them together, in order. The SFU's first
 * ClientHello is answered, but the answer reaches the SFU only after the SFU
 * has retransmitted its ClientHello and that was answered too: the order a
 * busy event loop produces (the retransmission timer fires before the
 * datagram already waiting in the socket is read).
 */
function holdingHelloVerifyRequests(count: number, sockets: dgram.Socket[]): { factory: UdpTransportFactory; sent: () => number } {
  let sent = 0;
  const held: Array<[Buffer, Address, SendNow]> = [];
  const factory = interceptingUdpTransports(sockets, (data, addr, now) => {
    if (!isHelloVerifyRequest(data)) {
      now(data, addr);
      return;
    }
    sent++;
    held.push([data, addr, now]);
    if (held.length < count) return;
    for (const [datagram, to, send] of held.splice(0)) send(datagram, to);
  });
  return { factory, sent: () => sent };
}

describe('DTLS handshake of an SFU connection (patch 010)', () => {
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

  it('connects when its retransmitted ClientHello is answered by a second HelloVerifyRequest', async () => {
    // The SFU answers, so it is the DTLS client (it sends the ClientHellos); the client is the DTLS server.
    const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK, udpMux: mux }));
    const hold = holdingHelloVerifyRequests(2, sockets);
    const client = peers.client({ iceUdpTransportFactory: hold.factory });
    const published = videoTrack();
    client.addTransceiver(published, { direction: 'sendonly' });
    const atSfu = new Promise<MediaStreamTrack>((resolve) => sfu.onTrack.subscribe(resolve));
    const sfuStates: string[] = [];
    sfu.connectionStateChange.subscribe((state) => sfuStates.push(state));

    await negotiate(client, sfu);
    await Promise.all([connected(sfu), connected(client)]);

    // Both HelloVerifyRequests reached the SFU; unpatched, the second failed its DTLS transport
    // ("dtls failed Error" from Flight3.exec) and with it the connection.
    expect(hold.sent()).toBeGreaterThanOrEqual(2);
    expect(sfu.dtlsTransports.map((transport) => transport.state)).toEqual(['connected']);
    expect(sfuStates).not.toContain('failed');
    expect(mux.stats()).toMatchObject({ droppedUnknownSource: 0, handlerErrors: 0 });

    // Both ended up with the same keys: SRTP from the client decrypts at the SFU.
    let seq = 0;
    const payloads = await repeatUntil(receivePayloads(await atSfu, 3), () => published.writeRtp(videoPacket(seq++, Buffer.from('after two HelloVerifyRequests'))));
    for (const payload of payloads) expect(payload.subarray(1)).toEqual(Buffer.from('after two HelloVerifyRequests'));
  });
});
