import { createPeerConnection } from './peer-factory';
import { LOOPBACK, PeerRegistry, connected, firstTransceiver, negotiate, videoPacket } from './testing';

// Characterizes werift 0.24.4 behaviour the forwarding path must respect
// (docs/werift.md, "sendRtp() mutates its argument").
describe('RTCRtpSender.sendRtp()', () => {
  const peers = new PeerRegistry();
  afterEach(() => peers.closeAll());

  it('rewrites the header of the packet it is given, so a forwarder must pass each sender its own copy', async () => {
    const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK }));
    const client = peers.client();
    client.addTransceiver('video', { direction: 'recvonly' });
    await negotiate(client, sfu, () => firstTransceiver(sfu).setDirection('sendonly'));
    await Promise.all([connected(client), connected(sfu)]);
    const sender = firstTransceiver(sfu).sender;

    const original = videoPacket(1000, Buffer.from('frame'));
    const copy = original.clone();
    await sender.sendRtp(copy);

    expect(copy.header.ssrc).toBe(sender.ssrc);
    expect(copy.header.ssrc).not.toBe(original.header.ssrc);
    expect(copy.header.payloadType).toBe(sender.codec?.payloadType);
    // The clone took the rewrite; the original is still fit for the next sender.
    expect(original.header.ssrc).toBe(1);
    expect(original.header.sequenceNumber).toBe(1000);
  });
});
