import {
  FullIntraRequest,
  ReceiverEstimatedMaxBitrate,
  RtcpPacketConverter,
  RtcpPayloadSpecificFeedback,
  useNACK,
  usePLI,
  useREMB,
  useSdesMid,
  useTransportWideCC,
  useTWCC,
  useVP8,
  type RtcpPacket,
  type RTCRtpTransceiver,
} from 'werift';
import { loadFastPath } from '@meetedge/fastpath';
import { createPeerConnection } from './peer-factory';
import { createRemb, rembBitrateFields, sendFir, sendRemb } from './rtcp-feedback';
import { LOOPBACK, PeerRegistry, connected, firstTransceiver, negotiate, repeatUntil, videoTrack } from './testing';
import { UdpMux } from './udp-mux';

/** Resolves with the first RTCP packet `transceiver`'s sender gets that `match` accepts. */
function senderRtcp(transceiver: RTCRtpTransceiver, match: (packet: RtcpPacket) => boolean): Promise<RtcpPacket> {
  return new Promise((resolve) => {
    const { unSubscribe } = transceiver.sender.onRtcp.subscribe((packet) => {
      if (match(packet)) {
        unSubscribe();
        resolve(packet);
      }
    });
  });
}

const isPsfb = (packet: RtcpPacket): packet is RtcpPayloadSpecificFeedback => packet instanceof RtcpPayloadSpecificFeedback;

// Both ways SRTCP is made: werift's SrtcpSession (no shared port), and the
// module's own on the shared port with the native fast path (patch 015).
describe.each([
  ['werift SRTCP', false],
  ['SRTCP on the fast path', true],
])('RTCP feedback between werift peers, %s', (_name, fast) => {
  const peers = new PeerRegistry();
  let udpMux: UdpMux | undefined;
  beforeAll(async () => {
    if (!fast) return;
    const load = loadFastPath();
    if (!load.fastPath) throw new Error(load.error);
    udpMux = await UdpMux.open({ listenIp: LOOPBACK, port: 0, fastPath: load.fastPath });
    expect(udpMux.fastPath).toBeDefined();
  });
  afterEach(() => peers.closeAll());
  afterAll(() => udpMux?.close());

  /** The SFU and a client that both send video on one sendrecv m-line, connected. */
  async function publishingBothWays() {
    const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK, udpMux }));
    const client = peers.client();
    const clientVideo = client.addTransceiver(videoTrack(), { direction: 'sendrecv' });
    await negotiate(client, sfu, () => firstTransceiver(sfu).setDirection('sendrecv'));
    await Promise.all([connected(sfu), connected(client)]);
    // The SFU's SRTCP is the fast path's exactly when it has one.
    expect(sfu.dtlsTransports[0]?.srtcpCodec !== undefined).toBe(fast);
    return { sfuVideo: firstTransceiver(sfu), clientVideo };
  }

  it('a PLI from a peer that also sends reaches our sender, not our receiver of its stream', async () => {
    const { sfuVideo, clientVideo } = await publishingBothWays();
    // werift, like Chromium, puts its own outgoing SSRC in the PLI's sender SSRC:
    // the SSRC the SFU's receiver of the client's camera is registered under.
    expect(clientVideo.receiver.rtcpSsrc).toBe(clientVideo.sender.ssrc);
    let pliSeen = false;
    const pli = new Promise<void>((resolve) =>
      sfuVideo.sender.onPictureLossIndication.subscribe(() => {
        pliSeen = true;
        resolve();
      }),
    );
    await repeatUntil(pli, () => {
      if (!pliSeen) void clientVideo.receiver.sendRtcpPLI(sfuVideo.sender.ssrc);
    });
  });

  it('a FIR reaches the sender named in its FCI entry', async () => {
    const { sfuVideo, clientVideo } = await publishingBothWays();
    const fir = senderRtcp(sfuVideo, (packet) => isPsfb(packet) && packet.feedback instanceof FullIntraRequest);
    const packet = (await repeatUntil(fir, () => void sendFir(clientVideo.receiver, sfuVideo.sender.ssrc, 7))) as RtcpPayloadSpecificFeedback;
    expect((packet.feedback as FullIntraRequest).fir).toEqual([{ ssrc: sfuVideo.sender.ssrc, sequenceNumber: 7 }]);
  });

  it('a REMB sent by the SFU reaches the sender of the stream it names', async () => {
    const { sfuVideo, clientVideo } = await publishingBothWays();
    const remb = senderRtcp(clientVideo, (packet) => isPsfb(packet) && packet.feedback instanceof ReceiverEstimatedMaxBitrate);
    const packet = (await repeatUntil(remb, () => void sendRemb(sfuVideo.receiver, [clientVideo.sender.ssrc], 1_500_000))) as RtcpPayloadSpecificFeedback;
    expect((packet.feedback as ReceiverEstimatedMaxBitrate).ssrcFeedbacks).toEqual([clientVideo.sender.ssrc]);
    expect(clientVideo.sender.receiverEstimatedMaxBitrate).toBe(1_500_000n);
  });

  it('answers an offer with transport-cc without transport-cc, keeping NACK, PLI and REMB', async () => {
    const sfu = peers.add(createPeerConnection({ announcedIp: LOOPBACK, udpMux }));
    // Offers transport-cc the way Chromium does.
    const client = peers.client({
      codecs: { video: [useVP8({ rtcpFeedback: [useNACK(), usePLI(), useREMB(), useTWCC()] })] },
      headerExtensions: { video: [useSdesMid(), useTransportWideCC()] },
    });
    client.addTransceiver('video', { direction: 'sendrecv' });
    const { offer, answer } = await negotiate(client, sfu);

    expect(offer.sdp).toMatch(/^a=rtcp-fb:\d+ transport-cc$/m);
    expect(offer.sdp).toContain('transport-wide-cc');
    expect(answer.sdp).not.toContain('transport-cc');
    expect(answer.sdp).not.toContain('transport-wide-cc');
    expect(answer.sdp).toMatch(/^a=rtcp-fb:\d+ goog-remb$/m);
    expect(answer.sdp).toMatch(/^a=rtcp-fb:\d+ nack$/m);
    expect(answer.sdp).toMatch(/^a=rtcp-fb:\d+ nack pli$/m);
  });
});

describe('REMB encoding', () => {
  it('fits the bitrate into an 18-bit mantissa and a 6-bit exponent, rounding down', () => {
    expect(rembBitrateFields(0)).toEqual({ mantissa: 0, exponent: 0 });
    expect(rembBitrateFields(0x3ffff)).toEqual({ mantissa: 0x3ffff, exponent: 0 });
    expect(rembBitrateFields(1_500_000)).toEqual({ mantissa: 187_500, exponent: 3 });
    expect(rembBitrateFields(1_500_001)).toEqual({ mantissa: 187_500, exponent: 3 });
    expect(() => rembBitrateFields(-1)).toThrow(RangeError);
  });

  it('serializes a REMB that parses back to the same SSRCs and bitrate', () => {
    const packet = createRemb({ senderSsrc: 1, mediaSsrcs: [0x11111111, 0x22222222], bitrate: 2_000_000 });
    const [parsed] = RtcpPacketConverter.deSerialize(packet.serialize());
    expect(parsed).toBeInstanceOf(RtcpPayloadSpecificFeedback);
    const remb = (parsed as RtcpPayloadSpecificFeedback).feedback as ReceiverEstimatedMaxBitrate;
    expect(remb.ssrcFeedbacks).toEqual([0x11111111, 0x22222222]);
    expect(remb.bitrate).toBe(2_000_000n);
  });
});
