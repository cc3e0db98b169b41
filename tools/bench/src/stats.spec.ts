import { randomBytes } from 'node:crypto';
import { buildPayload, readStamp } from './payload';
import {
  LatencyHistogram,
  cpuSecondsOfProcStat,
  cpuSecondsPer1000,
  efficiencyRatio,
  lossPercent,
  packetsPerCpuSecond,
  pastKnee,
  percentile,
  round,
  rssMibOfProcStatus,
} from './stats';
import { planMeetings } from './scenario-b';

describe('bench statistics', () => {
  it('merges histograms from several processes into the percentiles of all their values', () => {
    const all = new LatencyHistogram(0.05, 1000);
    const parts = [new LatencyHistogram(0.05, 1000), new LatencyHistogram(0.05, 1000)];
    for (let i = 0; i < 5000; i++) {
      const v = (i % 89) * 0.41;
      all.add(v);
      (parts[i % 2] as LatencyHistogram).add(v);
    }
    const merged = new LatencyHistogram(0.05, 1000);
    for (const part of parts) merged.merge(JSON.parse(JSON.stringify(part)) as ReturnType<LatencyHistogram['toJSON']>);
    expect(merged.count).toBe(all.count);
    expect(merged.max).toBe(all.max);
    for (const p of [50, 90, 99]) expect(merged.percentile(p)).toBe(all.percentile(p));
    expect(() => merged.merge(new LatencyHistogram(1, 1000).toJSON())).toThrow(/cannot merge/);
  });

  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('histogram percentiles agree with exact ones within a bucket', () => {
    const histogram = new LatencyHistogram(0.05, 1000);
    const values: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const v = (i % 97) * 0.37 + (i % 13) * 0.011;
      values.push(v);
      histogram.add(v);
    }
    values.sort((a, b) => a - b);
    for (const p of [50, 90, 99]) {
      const exact = percentile(values, p);
      expect(histogram.percentile(p)).toBeGreaterThanOrEqual(exact);
      expect(histogram.percentile(p) - exact).toBeLessThanOrEqual(0.05 + 1e-9);
    }
    expect(histogram.count).toBe(10_000);
    // Beyond the limit, the overflow bucket reports the largest value seen.
    histogram.add(4000);
    expect(histogram.percentile(100)).toBe(4000);
    histogram.reset();
    expect(histogram.percentile(50)).toBeNaN();
  });

  it('reads CPU seconds from /proc/<pid>/stat, even with spaces and parentheses in the name', () => {
    const stat = '4242 (node (bench) x) S 1 4242 4242 0 -1 4194560 9000 0 0 0 1234 567 0 0 20 0 11 0 777 1000000 5000 18446744073709551615';
    expect(cpuSecondsOfProcStat(stat)).toBeCloseTo(18.01, 6);
    expect(() => cpuSecondsOfProcStat('garbage')).toThrow();
    expect(rssMibOfProcStatus('Name:\tnode\nVmRSS:\t  102400 kB\nThreads: 11\n')).toBe(100);
  });

  it('computes CPU-seconds per 1,000 forwarded packets and packets per CPU-second', () => {
    // 2.5 CPU-s for 50,000 forwarded packets: 0.05 CPU-s per 1,000, 20,000 per CPU-s.
    expect(cpuSecondsPer1000(2.5, 50_000)).toBeCloseTo(0.05, 12);
    expect(packetsPerCpuSecond(50_000, 2.5)).toBe(20_000);
    expect(cpuSecondsPer1000(1, 0)).toBeNaN();
    expect(packetsPerCpuSecond(10, 0)).toBeNaN();
  });

  it('computes loss and the knee', () => {
    expect(lossPercent(1000, 990)).toBeCloseTo(1, 12);
    expect(lossPercent(1000, 1005)).toBe(0);
    expect(lossPercent(0, 0)).toBe(0);
    expect(pastKnee({ lossPercent: 1, p99Ms: 100 })).toBe(false);
    expect(pastKnee({ lossPercent: 1.01, p99Ms: 5 })).toBe(true);
    expect(pastKnee({ lossPercent: 0, p99Ms: 100.1 })).toBe(true);
    expect(pastKnee({ lossPercent: 0, p99Ms: Number.NaN })).toBe(true);
    expect(round(Number.NaN)).toBeNull();
    expect(round(1.23456, 2)).toBe(1.23);
  });

  it('compares efficiency only over rates both forwarders held', () => {
    const ratio = efficiencyRatio(
      [
        { rate: 500, forwardedPackets: 10_000, cpuSeconds: 1, held: true },
        { rate: 1000, forwardedPackets: 20_000, cpuSeconds: 1, held: true },
        { rate: 2000, forwardedPackets: 40_000, cpuSeconds: 2, held: true },
      ],
      [
        { rate: 500, forwardedPackets: 10_000, cpuSeconds: 2, held: true },
        { rate: 1000, forwardedPackets: 20_000, cpuSeconds: 4, held: true },
        { rate: 2000, forwardedPackets: 30_000, cpuSeconds: 3, held: false },
      ],
    );
    expect(ratio.perRate).toEqual([
      { rate: 500, ratio: 2 },
      { rate: 1000, ratio: 4 },
    ]);
    // (30,000 / 2) / (30,000 / 6) = 3
    expect(ratio.overall).toBeCloseTo(3, 12);
    expect(ratio.atHighestCommonRate).toEqual({ rate: 1000, ratio: 4 });
  });
});

describe('bench payload', () => {
  it('stamps send time and sequence after a VP8 descriptor and header', () => {
    const filler = randomBytes(4096);
    const key = buildPayload(1100, true, 1234.5678, 0xfffffffe, filler, 17);
    const delta = buildPayload(1100, false, 99, 3, filler, 4000);
    expect(key.length).toBe(1100);
    expect([...key.subarray(0, 4)]).toEqual([0x10, 0x00, 0x00, 0x9d]);
    expect(delta[1]).toBe(0x01);
    expect(readStamp(key)).toEqual({ sentAtMs: 1234.5678, seq: 0xfffffffe });
    expect(readStamp(delta)).toEqual({ sentAtMs: 99, seq: 3 });
    expect(readStamp(Buffer.alloc(10))).toBeUndefined();
    expect(readStamp(randomBytes(1100).fill(0, 16, 20))).toBeUndefined();
  });
});

describe('scenario (b) plan', () => {
  it('seats 25 × 16 participants, 3 speakers a meeting, each with a gallery of 4 others of its own meeting, every camera in some gallery', () => {
    const plan = planMeetings({ meetings: 25, perMeeting: 16, speakers: 3, gallery: 4 });
    expect(plan).toHaveLength(400);
    expect(new Set(plan.map((p) => p.participantId)).size).toBe(400);
    const meetingOf = new Map(plan.map((p) => [p.participantId, p.meetingId]));
    for (const p of plan) {
      expect(p.gallery).toHaveLength(4);
      expect(new Set(p.gallery).size).toBe(4);
      expect(p.gallery).not.toContain(p.participantId);
      for (const other of p.gallery) expect(meetingOf.get(other)).toBe(p.meetingId);
    }
    const meetings = new Set(plan.map((p) => p.meetingId));
    expect(meetings.size).toBe(25);
    for (const m of meetings) expect(plan.filter((p) => p.meetingId === m && p.speaker)).toHaveLength(3);
    const viewed = new Set(plan.flatMap((p) => p.gallery));
    expect(viewed.size).toBe(400);
  });

  it('keeps a gallery within a small meeting', () => {
    const plan = planMeetings({ meetings: 1, perMeeting: 3, speakers: 3, gallery: 4 });
    for (const p of plan) expect(p.gallery).toHaveLength(2);
  });
});
