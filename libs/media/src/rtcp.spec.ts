import {
  RtcpReader,
  buildFir,
  buildNack,
  buildPli,
  buildRemb,
  createReportBlock,
  isRtcp,
  readFeedbackMediaSsrc,
  readFeedbackSenderSsrc,
  readFirEntries,
  readNackSequenceNumbers,
  readPliMediaSsrc,
  readRemb,
  readReportBlock,
  reportBlockCount,
} from './rtcp';
import { buildRtp, guarded, prng } from './testing';

/** Hand-made RR: sender 0x11111111, two report blocks. */
const rr = Buffer.from([
  0x82, 201, 0, 13, 0x11, 0x11, 0x11, 0x11,
  // block 1: ssrc 0xaaaaaaaa, fraction 64 (25 %), cumulative 1000, highest 0x0001_0005, jitter 90, LSR 0x12345678, DLSR 65536
  0xaa, 0xaa, 0xaa, 0xaa, 64, 0x00, 0x03, 0xe8, 0x00, 0x01, 0x00, 0x05, 0, 0, 0, 90, 0x12, 0x34, 0x56, 0x78, 0, 1, 0, 0,
  // block 2: ssrc 0xbbbbbbbb, fraction 0, cumulative -2 (duplicates), highest 7, jitter 0
  0xbb, 0xbb, 0xbb, 0xbb, 0, 0xff, 0xff, 0xfe, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

/** Hand-made SR with one report block (sender info is 20 bytes). */
const sr = Buffer.from([
  0x81, 200, 0, 12, 0x22, 0x22, 0x22, 0x22,
  1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0, 11,
  0xcc, 0xcc, 0xcc, 0xcc, 255, 0, 0, 1, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

/** Hand-made SDES with one empty chunk (8 bytes). */
const sdes = Buffer.from([0x81, 202, 0, 1, 0x22, 0x22, 0x22, 0x22]);

describe('isRtcp', () => {
  it('is true for packet types 192..223 in version 2', () => {
    for (const type of [192, 200, 201, 205, 206, 223]) {
      expect([type, isRtcp(Buffer.from([0x80, type, 0, 1, 0, 0, 0, 0]))]).toEqual([type, true]);
    }
  });

  it('is false for RTP, with or without the marker bit, and for other versions or short input', () => {
    expect(isRtcp(buildRtp({ payloadType: 96 }))).toBe(false);
    expect(isRtcp(buildRtp({ payloadType: 111, marker: true }))).toBe(false); // 0xEF = 239
    expect(isRtcp(buildRtp({ payloadType: 0, marker: true }))).toBe(false); // 0x80 = 128
    expect(isRtcp(Buffer.from([0x80, 224, 0, 1]))).toBe(false);
    expect(isRtcp(Buffer.from([0x80, 191, 0, 1]))).toBe(false);
    expect(isRtcp(Buffer.from([0x40, 200, 0, 1]))).toBe(false);
    expect(isRtcp(Buffer.from([0x80, 200, 0]))).toBe(false);
  });
});

describe('RtcpReader', () => {
  it('walks every packet of a compound packet', () => {
    const compound = Buffer.concat([sr, sdes, buildPli(1, 2), buildNack(1, 2, [5]) ?? Buffer.alloc(0)]);
    const reader = new RtcpReader().reset(compound);
    const seen: Array<[number, number, number, number]> = [];
    while (reader.next()) seen.push([reader.offset, reader.length, reader.packetType, reader.count]);
    expect(seen).toEqual([
      [0, 52, 200, 1],
      [52, 8, 202, 1],
      [60, 12, 206, 1],
      [72, 16, 205, 1],
    ]);
    expect(reader.malformed).toBe(false);
  });

  it('stops and flags a packet whose length runs past the end', () => {
    const bad = Buffer.concat([buildPli(1, 2), Buffer.from([0x81, 206, 0, 9, 0, 0, 0, 0])]);
    const reader = new RtcpReader().reset(bad);
    expect(reader.next()).toBe(true);
    expect(reader.next()).toBe(false);
    expect(reader.malformed).toBe(true);
    expect(reader.next()).toBe(false);
  });

  it('stops at a version other than 2 and at a trailing partial header', () => {
    const r1 = new RtcpReader().reset(Buffer.from([0x41, 201, 0, 1, 0, 0, 0, 0]));
    expect(r1.next()).toBe(false);
    expect(r1.malformed).toBe(true);
    const r2 = new RtcpReader().reset(Buffer.concat([sdes, Buffer.from([0x80, 201])]));
    expect(r2.next()).toBe(true);
    expect(r2.next()).toBe(false);
    expect(r2.malformed).toBe(true);
  });

  it('is reusable and honours an explicit length', () => {
    const reader = new RtcpReader();
    const pool = Buffer.alloc(100, 0xff);
    sdes.copy(pool);
    reader.reset(pool, sdes.length);
    expect(reader.next()).toBe(true);
    expect(reader.next()).toBe(false);
    expect(reader.malformed).toBe(false);
    reader.reset(Buffer.alloc(0));
    expect(reader.next()).toBe(false);
    expect(reader.malformed).toBe(false);
  });
});

describe('PLI and FIR', () => {
  it('builds a PLI and reads its media SSRC back', () => {
    const pli = buildPli(0x01020304, 0xa0b0c0d0);
    expect([...pli]).toEqual([0x81, 206, 0, 2, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0]);
    expect(readPliMediaSsrc(pli, 0, pli.length)).toBe(0xa0b0c0d0);
    expect(readFeedbackSenderSsrc(pli, 0, pli.length)).toBe(0x01020304);
    expect(readFeedbackMediaSsrc(pli, 0, pli.length)).toBe(0xa0b0c0d0);
  });

  it('builds a FIR with its command sequence number in the FCI', () => {
    const fir = buildFir(7, 0xcafebabe, 258);
    expect([...fir]).toEqual([0x84, 206, 0, 4, 0, 0, 0, 7, 0, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbe, 2, 0, 0, 0]);
    const ssrcs: number[] = [99];
    const seqs: number[] = [];
    expect(readFirEntries(fir, 0, fir.length, ssrcs, seqs)).toBe(1);
    expect(ssrcs).toEqual([0xcafebabe]);
    expect(seqs).toEqual([2]);
    expect(readPliMediaSsrc(fir, 0, fir.length)).toBe(-1);
  });

  it('reads every entry of a FIR naming several streams', () => {
    const fir = Buffer.from([0x84, 206, 0, 6, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0, 0, 2, 6, 0, 0, 0]);
    const ssrcs: number[] = [];
    const seqs: number[] = [];
    expect(readFirEntries(fir, 0, fir.length, ssrcs, seqs)).toBe(2);
    expect(ssrcs).toEqual([1, 2]);
    expect(seqs).toEqual([5, 6]);
  });

  it('answers -1 for other packets and short ones', () => {
    const ssrcs: number[] = [];
    expect(readFirEntries(buildPli(1, 2), 0, 12, ssrcs)).toBe(-1);
    expect(readPliMediaSsrc(rr, 0, rr.length)).toBe(-1);
    expect(readPliMediaSsrc(buildPli(1, 2), 0, 11)).toBe(-1);
    expect(readFeedbackMediaSsrc(sdes, 0, sdes.length)).toBe(-1);
  });

  it('reads a packet in the middle of a compound packet', () => {
    const compound = Buffer.concat([sr, buildPli(1, 0x55667788)]);
    const reader = new RtcpReader().reset(compound);
    reader.next();
    reader.next();
    expect(readPliMediaSsrc(compound, reader.offset, reader.length)).toBe(0x55667788);
  });
});

describe('generic NACK', () => {
  it('expands PID and BLP, across the wrap', () => {
    // PID 65535, BLP 0b101 → 65535, 0, 2; PID 10, BLP 0x8000 → 10, 26
    const nack = Buffer.from([0x81, 205, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0x00, 0x05, 0, 10, 0x80, 0]);
    const out: number[] = [];
    expect(readNackSequenceNumbers(nack, 0, nack.length, out)).toBe(5);
    expect(out).toEqual([65535, 0, 2, 10, 26]);
  });

  it('builds NACKs that read back to the same numbers', () => {
    const out: number[] = [];
    const wrap = [65530, 65531, 65535, 0, 3, 9];
    const pkt = buildNack(1, 2, wrap);
    if (!pkt) throw new Error('no packet');
    expect(pkt.length).toBe(16); // one item covers all six
    readNackSequenceNumbers(pkt, 0, pkt.length, out);
    expect(out).toEqual(wrap);
  });

  it('packs 17 consecutive numbers into one item and starts a new one after', () => {
    const seqs = Array.from({ length: 18 }, (_, i) => 100 + i);
    const pkt = buildNack(1, 2, seqs);
    if (!pkt) throw new Error('no packet');
    expect(pkt.length).toBe(12 + 8);
    expect([...pkt.subarray(12)]).toEqual([0, 100, 0xff, 0xff, 0, 117, 0, 0]);
    const out: number[] = [];
    readNackSequenceNumbers(pkt, 0, pkt.length, out);
    expect(out).toEqual(seqs);
  });

  it('accepts any order and duplicates, and honours count', () => {
    const pkt = buildNack(1, 2, [50, 40, 40, 41, 999], 4);
    if (!pkt) throw new Error('no packet');
    const out: number[] = [];
    readNackSequenceNumbers(pkt, 0, pkt.length, out);
    expect(out.sort((a, b) => a - b)).toEqual([40, 41, 50]);
    expect(buildNack(1, 2, [])).toBeUndefined();
    expect(buildNack(1, 2, [1, 2], 0)).toBeUndefined();
  });

  it('answers -1 for a PLI (same FMT, other type)', () => {
    expect(readNackSequenceNumbers(buildPli(1, 2), 0, 12, [])).toBe(-1);
  });
});

describe('REMB', () => {
  it('reads a hand-made REMB', () => {
    // exp 3, mantissa 150000 → 1,200,000 bit/s, for SSRCs 1 and 2
    const m = 150000;
    const remb = Buffer.from([
      0x8f, 206, 0, 5, 0, 0, 0, 9, 0, 0, 0, 0, 0x52, 0x45, 0x4d, 0x42,
      2, (3 << 2) | (m >> 16), (m >> 8) & 0xff, m & 0xff, 0, 0, 0, 1, 0, 0, 0, 2,
    ]);
    const ssrcs: number[] = [];
    expect(readRemb(remb, 0, remb.length, ssrcs)).toBe(1_200_000);
    expect(ssrcs).toEqual([1, 2]);
  });

  it.each([0, 1, 262143, 262144, 1_234_567, 2_500_000, 1e9])('round-trips %d bit/s within the mantissa precision', (bps) => {
    const pkt = buildRemb(5, bps, [0xdeadbeef]);
    const ssrcs: number[] = [];
    const back = readRemb(pkt, 0, pkt.length, ssrcs);
    expect(back).toBeLessThanOrEqual(bps);
    expect(back).toBeGreaterThanOrEqual(bps * (1 - 2 ** -17) - 1);
    expect(ssrcs).toEqual([0xdeadbeef]);
  });

  it('answers -1 without the REMB identifier or with SSRCs past the end', () => {
    const notRemb = buildRemb(5, 1000, [1]);
    notRemb[12] = 0x41;
    expect(readRemb(notRemb, 0, notRemb.length)).toBe(-1);
    const short = buildRemb(5, 1000, [1, 2]);
    short[16] = 3;
    expect(readRemb(short, 0, short.length)).toBe(-1);
    expect(readRemb(buildPli(1, 2), 0, 12)).toBe(-1);
  });
});

describe('report blocks', () => {
  it('reads the blocks of an RR', () => {
    expect(reportBlockCount(rr, 0, rr.length)).toBe(2);
    expect(readReportBlock(rr, 0, rr.length, 0)).toEqual({
      ssrc: 0xaaaaaaaa,
      fractionLost: 64,
      cumulativeLost: 1000,
      highestSequenceNumber: 0x0001_0005,
      jitter: 90,
      lastSenderReport: 0x12345678,
      delaySinceLastSenderReport: 65536,
    });
    const into = createReportBlock();
    expect(readReportBlock(rr, 0, rr.length, 1, into)).toBe(into);
    expect(into.ssrc).toBe(0xbbbbbbbb);
    expect(into.cumulativeLost).toBe(-2);
    expect(readReportBlock(rr, 0, rr.length, 2)).toBeUndefined();
    expect(readReportBlock(rr, 0, rr.length, -1)).toBeUndefined();
  });

  it('reads the block after the sender info of an SR', () => {
    expect(reportBlockCount(sr, 0, sr.length)).toBe(1);
    expect(readReportBlock(sr, 0, sr.length, 0)).toMatchObject({ ssrc: 0xcccccccc, fractionLost: 255, cumulativeLost: 1, jitter: 0x100 });
  });

  it('counts only the blocks the packet length holds', () => {
    const truncated = Buffer.from(rr.subarray(0, 8 + 24));
    expect(reportBlockCount(truncated, 0, truncated.length)).toBe(1);
    expect(readReportBlock(truncated, 0, truncated.length, 1)).toBeUndefined();
    expect(reportBlockCount(sdes, 0, sdes.length)).toBe(0);
  });
});

describe('robustness against garbage', () => {
  it('never throws and never reads past the end, on random and mutated compound packets', () => {
    const r = prng(0xbad);
    const seeds = [rr, sr, sdes, buildPli(1, 2), buildFir(1, 2, 3), buildNack(1, 2, [1, 5, 40]) ?? sdes, buildRemb(1, 5e5, [1, 2])];
    const reader = new RtcpReader();
    const list: number[] = [];
    const list2: number[] = [];
    const block = createReportBlock();
    let packets = 0;
    for (let i = 0; i < 20_000; i++) {
      let bytes: Uint8Array;
      if (i % 2 === 0) {
        bytes = r.bytes(r.int(64));
        if (bytes.length > 1) bytes[0] = 0x80 | ((bytes[0] as number) & 0x1f);
        if (bytes.length > 1) bytes[1] = 200 + r.int(8);
      } else {
        const seed = seeds[r.int(seeds.length)] as Buffer;
        bytes = Uint8Array.from(r.next() < 0.3 ? seed.subarray(0, r.int(seed.length + 1)) : seed);
        for (let k = r.int(3); k > 0 && bytes.length > 0; k--) bytes[r.int(bytes.length)] = r.int(256);
      }
      const view = guarded(bytes);
      isRtcp(view);
      reader.reset(view);
      while (reader.next()) {
        packets++;
        const { offset, length } = reader;
        readPliMediaSsrc(view, offset, length);
        readFeedbackSenderSsrc(view, offset, length);
        readFeedbackMediaSsrc(view, offset, length);
        readFirEntries(view, offset, length, list, list2);
        readNackSequenceNumbers(view, offset, length, list);
        readRemb(view, offset, length, list);
        const n = reportBlockCount(view, offset, length);
        for (let b = 0; b <= n; b++) readReportBlock(view, offset, length, b, block);
      }
      // Walkers called with lengths that lie must not read past the buffer either.
      readNackSequenceNumbers(view, 0, 1 << 20, list);
      readRemb(view, 0, 1 << 20, list);
      readReportBlock(view, 0, 1 << 20, 0, block);
      readFirEntries(view, 0, 1 << 20, list);
    }
    expect(packets).toBeGreaterThan(3000);
  });
});
