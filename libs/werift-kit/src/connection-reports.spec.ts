import {
  MediaStreamTrack,
  RTCPeerConnection,
  RtcpPacketConverter,
  RtcpReceiverInfo,
  RtcpRrPacket,
  RtcpSenderInfo,
  RtcpSourceDescriptionPacket,
  RtcpSrPacket,
  RtpHeader,
  RtpPacket,
  useVP8,
  type RTCPeerConnectionConfig,
  type RtcpPacket,
} from 'werift';
import { ConnectionReporter, MAX_COMPOUND_BYTES, MAX_REPORT_BLOCKS, compoundReports } from './connection-reports';

function sr(ssrc: number): RtcpSrPacket {
  return new RtcpSrPacket({
    ssrc,
    senderInfo: new RtcpSenderInfo({ ntpTimestamp: 0x0102030405060708n, rtpTimestamp: ssrc * 10, packetCount: ssrc, octetCount: ssrc * 100 }),
  });
}

function block(ssrc: number): RtcpReceiverInfo {
  return new RtcpReceiverInfo({ ssrc, fractionLost: ssrc % 256, packetsLost: ssrc * 3, highestSequence: 70_000 + ssrc, jitter: ssrc * 7, lsr: ssrc * 11, dlsr: ssrc * 13 });
}

const CNAME = 'c0ffee00-1111-2222-3333-444455556666';

/** Each compound as the far side reads it: serialized into one datagram, then parsed by werift. */
function onTheWire(compounds: readonly { serialize(): Buffer }[][]): { bytes: number; packets: RtcpPacket[] }[] {
  return compounds.map((compound) => {
    const bytes = Buffer.concat(compound.map((p) => p.serialize()));
    return { bytes: bytes.length, packets: RtcpPacketConverter.deSerialize(bytes) };
  });
}

const cnameOf = (packet: RtcpPacket | undefined) =>
  packet instanceof RtcpSourceDescriptionPacket ? packet.chunks.map((c) => [c.source, c.items.map((i) => [i.type, i.text])]) : undefined;

describe('compoundReports', () => {
  it('reports nothing when nothing was sent or heard', () => {
    expect(compoundReports([], [], 1, CNAME)).toEqual([]);
  });

  it('puts the sender reports, one receiver report with every block and the CNAME into one compound', () => {
    const [compound, ...rest] = onTheWire(compoundReports([sr(10), sr(11)], [block(1), block(2), block(3)], 99, CNAME));
    expect(rest).toEqual([]);
    const packets = compound?.packets ?? [];
    expect(packets.map((p) => p.type)).toEqual([RtcpSrPacket.type, RtcpSrPacket.type, RtcpRrPacket.type, RtcpSourceDescriptionPacket.type]);
    expect(packets.slice(0, 2).map((p) => (p as RtcpSrPacket).ssrc)).toEqual([10, 11]);
    const rr = packets[2] as RtcpRrPacket;
    expect(rr.ssrc).toBe(99);
    expect(rr.reports.map((r) => r.toJSON())).toEqual([block(1), block(2), block(3)].map((b) => b.toJSON()));
    expect(cnameOf(packets[3])).toEqual([[99, [[1, CNAME]]]]);
  });

  it('sends a receiver report alone when the connection sent nothing', () => {
    const [compound] = onTheWire(compoundReports([], [block(5)], 42));
    expect(compound?.packets).toHaveLength(1);
    expect((compound?.packets[0] as RtcpRrPacket).ssrc).toBe(42);
    expect((compound?.packets[0] as RtcpRrPacket).reports[0]?.ssrc).toBe(5);
  });

  it('carries at most 31 blocks in one receiver report, the rest in the next', () => {
    const blocks = Array.from({ length: 40 }, (_, i) => block(i + 1));
    const wire = onTheWire(compoundReports([], blocks, 7));
    const rrs = wire.flatMap((c) => c.packets) as RtcpRrPacket[];
    expect(rrs.map((rr) => rr.reports.length)).toEqual([MAX_REPORT_BLOCKS, 40 - MAX_REPORT_BLOCKS]);
    expect(rrs.flatMap((rr) => rr.reports.map((r) => r.ssrc))).toEqual(blocks.map((b) => b.ssrc));
  });

  it('splits a large report into datagrams under the MTU, each starting with a report and ending with the CNAME, nothing lost or reordered', () => {
    const srs = Array.from({ length: 60 }, (_, i) => sr(1000 + i));
    const blocks = Array.from({ length: 70 }, (_, i) => block(i + 1));
    const wire = onTheWire(compoundReports(srs, blocks, 3, CNAME));
    expect(wire.length).toBeGreaterThan(1);
    for (const compound of wire) {
      expect(compound.bytes).toBeLessThanOrEqual(MAX_COMPOUND_BYTES);
      expect([RtcpSrPacket.type, RtcpRrPacket.type]).toContain(compound.packets[0]?.type);
      expect(cnameOf(compound.packets.at(-1))).toEqual([[3, [[1, CNAME]]]]);
    }
    const packets = wire.flatMap((c) => c.packets);
    expect(packets.filter((p) => p instanceof RtcpSrPacket).map((p) => (p as RtcpSrPacket).ssrc)).toEqual(srs.map((s) => s.ssrc));
    expect(packets.flatMap((p) => (p instanceof RtcpRrPacket ? p.reports.map((r) => r.ssrc) : []))).toEqual(blocks.map((b) => b.ssrc));
  });
});

describe('ConnectionReporter', () => {
  const peers: RTCPeerConnection[] = [];
  const reporters: ConnectionReporter[] = [];
  afterEach(async () => {
    for (const reporter of reporters.splice(0)) reporter.close();
    await Promise.allSettled(peers.splice(0).map((pc) => pc.close()));
  });

  function loopbackPeer(config: RTCPeerConnectionConfig = {}): RTCPeerConnection {
    const pc = new RTCPeerConnection({
      iceServers: [],
      iceUseIpv6: false,
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      iceAdditionalHostAddresses: ['127.0.0.1'],
      bundlePolicy: 'max-bundle',
      codecs: { video: [useVP8()] },
      ...config,
    });
    peers.push(pc);
    return pc;
  }

  async function gathered(pc: RTCPeerConnection): Promise<void> {
    while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 10));
  }

  async function connected(pc: RTCPeerConnection): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (pc.connectionState !== 'connected') {
      if (Date.now() > deadline) throw new Error(`not connected: ${pc.connectionState}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** A publisher of one video track and a receiver with `receiverConfig`, connected over loopback. */
  async function pair(receiverConfig: RTCPeerConnectionConfig) {
    const publisher = loopbackPeer();
    const receiver = loopbackPeer(receiverConfig);
    const track = new MediaStreamTrack({ kind: 'video' });
    const sender = publisher.addTransceiver(track, { direction: 'sendonly' }).sender;
    receiver.addTransceiver('video', { direction: 'recvonly' });
    await publisher.setLocalDescription(await publisher.createOffer());
    await gathered(publisher);
    await receiver.setRemoteDescription(publisher.localDescription as never);
    await receiver.setLocalDescription(await receiver.createAnswer());
    await gathered(receiver);
    await publisher.setRemoteDescription(receiver.localDescription as never);
    await Promise.all([connected(publisher), connected(receiver)]);
    // What the receiver sends as RTCP, one entry a datagram.
    const sent: RtcpPacket[][] = [];
    const transport = receiver.dtlsTransports[0];
    if (!transport) throw new Error('no DTLS transport');
    const sendRtcp = transport.sendRtcp.bind(transport);
    transport.sendRtcp = (packets) => {
      sent.push(packets);
      return sendRtcp(packets);
    };
    let seq = 0;
    const write = (count: number) => {
      for (let i = 0; i < count; i++, seq++) {
        track.writeRtp(new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp: seq * 3000, ssrc: 1 }), Buffer.from([0x10, 0, 0, 0x9d])));
      }
    };
    return { publisher, receiver, sender, sent, write };
  }

  const blocksIn = (datagrams: RtcpPacket[][]) => datagrams.flatMap((d) => d.flatMap((p) => (p instanceof RtcpRrPacket ? p.reports : [])));
  const until = async (condition: () => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('reports what a connection hears, with its CNAME, and leaves out a source that went quiet', async () => {
    const { receiver, sender, sent, write } = await pair({ receiverReportLoop: false });
    // A stream of its own that always has an SR, so that every report is a datagram to count.
    reporters.push(new ConnectionReporter(receiver, () => [{ senderReport: () => sr(77) }], 100));
    write(5);
    await until(() => blocksIn(sent).some((b) => b.ssrc === sender.ssrc), 'a block on the publisher');
    const datagram = sent.find((d) => blocksIn([d]).length > 0) ?? [];
    expect(datagram.map((p) => p.type)).toEqual([RtcpSrPacket.type, RtcpRrPacket.type, RtcpSourceDescriptionPacket.type]);
    expect(cnameOf(datagram.at(-1))).toEqual([[77, [[1, receiver.cname]]]]);
    // Nothing more from the publisher: after one more report its block is no longer sent.
    const quietFrom = sent.length + 2;
    await until(() => sent.length >= quietFrom + 3, 'three more report intervals');
    expect(blocksIn(sent.slice(quietFrom))).toEqual([]);
    // It speaks again: it is reported again.
    write(3);
    const again = sent.length;
    await until(() => blocksIn(sent.slice(again)).some((b) => b.ssrc === sender.ssrc), 'the block again');
  });

  it('leaves the blocks to werift when its receivers report themselves, so the loss fraction is read once', async () => {
    const { receiver, sent, write } = await pair({});
    reporters.push(new ConnectionReporter(receiver, () => [], 100));
    write(5);
    // werift's own loop reports within 0.5-1.5 s; the reporter, with nothing to send, sends nothing.
    await until(() => blocksIn(sent).length > 0, "werift's receiver report");
    // werift's RR goes alone; nothing of the reporter's (its compounds end with an SDES) went out.
    expect(sent.filter((d) => d.some((p) => p instanceof RtcpRrPacket)).every((d) => d.length === 1)).toBe(true);
    expect(sent.filter((d) => d.some((p) => p instanceof RtcpSourceDescriptionPacket))).toEqual([]);
  });

  it('closes when its connection closes', async () => {
    const { receiver, sent, write } = await pair({ receiverReportLoop: false });
    const reporter = new ConnectionReporter(receiver, () => [], 100);
    reporters.push(reporter);
    write(5);
    await until(() => sent.length > 0, 'a report');
    expect(reporter.closed).toBe(false);
    await receiver.close();
    expect(reporter.closed).toBe(true);
  });
});
