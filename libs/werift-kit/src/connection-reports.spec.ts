import { RtcpPacketConverter, RtcpReceiverInfo, RtcpRrPacket, RtcpSenderInfo, RtcpSrPacket } from 'werift';
import { MAX_COMPOUND_BYTES, MAX_REPORT_BLOCKS, compoundReports } from './connection-reports';

function sr(ssrc: number): RtcpSrPacket {
  return new RtcpSrPacket({
    ssrc,
    senderInfo: new RtcpSenderInfo({ ntpTimestamp: 0x0102030405060708n, rtpTimestamp: ssrc * 10, packetCount: ssrc, octetCount: ssrc * 100 }),
  });
}

function block(ssrc: number): RtcpReceiverInfo {
  return new RtcpReceiverInfo({ ssrc, fractionLost: ssrc % 256, packetsLost: ssrc * 3, highestSequence: 70_000 + ssrc, jitter: ssrc * 7, lsr: ssrc * 11, dlsr: ssrc * 13 });
}

/** Each compound as the far side reads it: serialized, then parsed by werift. */
function onTheWire(compounds: (RtcpSrPacket | RtcpRrPacket)[][]): { bytes: number; packets: ReturnType<typeof RtcpPacketConverter.deSerialize> }[] {
  return compounds.map((compound) => {
    const bytes = Buffer.concat(compound.map((p) => p.serialize()));
    return { bytes: bytes.length, packets: RtcpPacketConverter.deSerialize(bytes) };
  });
}

describe('compoundReports', () => {
  it('reports nothing when nothing was sent or received', () => {
    expect(compoundReports([], [], 1)).toEqual([]);
  });

  it('puts the sender reports and one receiver report with every block into one compound', () => {
    const [compound, ...rest] = onTheWire(compoundReports([sr(10), sr(11)], [block(1), block(2), block(3)], 99));
    expect(rest).toEqual([]);
    const packets = compound?.packets ?? [];
    expect(packets.map((p) => p.type)).toEqual([RtcpSrPacket.type, RtcpSrPacket.type, RtcpRrPacket.type]);
    expect(packets.slice(0, 2).map((p) => (p as RtcpSrPacket).ssrc)).toEqual([10, 11]);
    const rr = packets[2] as RtcpRrPacket;
    expect(rr.ssrc).toBe(99);
    expect(rr.reports.map((r) => r.toJSON())).toEqual([block(1), block(2), block(3)].map((b) => b.toJSON()));
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

  it('splits a large report into datagrams under the MTU, every one starting with a report, nothing lost or reordered', () => {
    const srs = Array.from({ length: 60 }, (_, i) => sr(1000 + i));
    const blocks = Array.from({ length: 70 }, (_, i) => block(i + 1));
    const wire = onTheWire(compoundReports(srs, blocks, 3));
    expect(wire.length).toBeGreaterThan(1);
    for (const compound of wire) {
      expect(compound.bytes).toBeLessThanOrEqual(MAX_COMPOUND_BYTES);
      expect([RtcpSrPacket.type, RtcpRrPacket.type]).toContain(compound.packets[0]?.type);
    }
    const packets = wire.flatMap((c) => c.packets);
    expect(packets.filter((p) => p instanceof RtcpSrPacket).map((p) => (p as RtcpSrPacket).ssrc)).toEqual(srs.map((s) => s.ssrc));
    expect(packets.flatMap((p) => (p instanceof RtcpRrPacket ? p.reports.map((r) => r.ssrc) : []))).toEqual(blocks.map((b) => b.ssrc));
  });
});
