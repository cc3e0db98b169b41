import type { RTCIceCandidate } from 'werift';
import { createPeerConnection } from './peer-factory';
import { LOOPBACK, PeerRegistry, connected, localDescription, videoTrack } from './testing';

describe('an answer that rejects the first m-line', () => {
  const peers = new PeerRegistry();
  afterEach(() => peers.closeAll());

  it('leaves the rejected mid out of BUNDLE, tags candidates with the accepted one, and connects', async () => {
    const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK }));
    const client = peers.client();
    // The client wants to receive audio the SFU has nothing to send for: werift
    // answers that m-line inactive, i.e. rejected (port 0). Video is accepted.
    client.addTransceiver('audio', { direction: 'recvonly' });
    client.addTransceiver(videoTrack(), { direction: 'sendrecv' });
    const trickled: RTCIceCandidate[] = [];
    sfu.onIceCandidate.subscribe((candidate) => {
      if (candidate) trickled.push(candidate);
    });

    await client.setLocalDescription(await client.createOffer());
    expect(localDescription(client).sdp).toMatch(/^a=group:BUNDLE 0 1$/m);
    await sfu.setRemoteDescription(localDescription(client));
    await sfu.setLocalDescription(await sfu.createAnswer());
    const answer = localDescription(sfu).sdp;

    const mLines = answer.match(/^m=.*$/gm);
    expect(mLines?.[0]).toMatch(/^m=audio 0 /);
    expect(mLines?.[1]).toMatch(/^m=video 9 /);
    // RFC 8843: no rejected m-line in the group, so the tag (first mid) is "1".
    expect(answer.match(/^a=group:.*$/gm)).toEqual(['a=group:BUNDLE 1']);
    expect(trickled.length).toBeGreaterThan(0);
    for (const candidate of trickled) {
      expect(candidate.sdpMid).toBe('1');
      expect(candidate.sdpMLineIndex).toBe(1);
    }

    await client.setRemoteDescription(localDescription(sfu));
    await Promise.all([connected(client), connected(sfu)]);
  });

  it('omits the BUNDLE group when every m-line is rejected', async () => {
    const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK }));
    const client = peers.client();
    client.addTransceiver('audio', { direction: 'recvonly' });
    await client.setLocalDescription(await client.createOffer());
    await sfu.setRemoteDescription(localDescription(client));
    await sfu.setLocalDescription(await sfu.createAnswer());
    const answer = localDescription(sfu).sdp;
    expect(answer).toMatch(/^m=audio 0 /m);
    expect(answer).not.toMatch(/^a=group:BUNDLE/m);
  });
});
