import { median, probeZones, rankZones } from './zone-probe';

describe('zone choice by RTT', () => {
  it('takes medians (a spike in one sample does not move the choice)', () => {
    expect(median([5, 1, 300, 2, 3])).toBe(3);
    expect(median([4, 2])).toBe(3);
    expect(median([])).toBe(Number.POSITIVE_INFINITY);
  });

  it("ranks zones by their best ZCP's median, the fastest ZCP first inside a zone, unreachable zones last", () => {
    const zones = [
      { id: 'berlin', zcpUrls: ['http://b1', 'http://b2'] },
      { id: 'paris', zcpUrls: ['http://p1'] },
      { id: 'dark', zcpUrls: ['http://d1'] },
    ];
    const samples = new Map([
      ['http://b1', [40, 41, 300]],
      ['http://b2', [12, 11, 13]],
      ['http://p1', [20, 21, 19]],
      ['http://d1', []],
    ]);
    expect(rankZones(zones, samples)).toEqual([
      { zoneId: 'berlin', medianRttMs: 12, zcpUrls: ['http://b2', 'http://b1'] },
      { zoneId: 'paris', medianRttMs: 20, zcpUrls: ['http://p1'] },
      { zoneId: 'dark', medianRttMs: Number.POSITIVE_INFINITY, zcpUrls: ['http://d1'] },
    ]);
  });

  it('probes each ZCP the given number of times and counts failed probes as lost', async () => {
    const calls: string[] = [];
    const fake = (async (url: string) => {
      calls.push(url);
      if (url.includes('down')) throw new Error('connection refused');
      // The slow zone answers 60 ms late; the fast one at once.
      if (url.includes('slow')) await new Promise((r) => setTimeout(r, 60));
      return new Response('{}', { status: 200 });
    }) as typeof fetch;
    const ranked = await probeZones(
      [
        { id: 'slow', zcpUrls: ['http://slow/'] },
        { id: 'fast', zcpUrls: ['http://fast', 'http://down'] },
      ],
      { samples: 3, fetch: fake },
    );
    expect(calls.filter((u) => u === 'http://slow/v1/probe')).toHaveLength(3);
    expect(calls.filter((u) => u === 'http://down/v1/probe')).toHaveLength(3);
    expect(ranked.map((z) => z.zoneId)).toEqual(['fast', 'slow']);
    expect(ranked[0]?.zcpUrls).toEqual(['http://fast', 'http://down']);
  });
});
