/**
 * Zone choice by measured round-trip time (issue [4] item 4): the join answer
 * names the zones a participant may use, each with its ZCPs; the client times
 * a cheap request (`GET /v1/probe`) to each ZCP a few times, ranks the zones by
 * their best ZCP's median, and asks the first zone, then the next (and, for a
 * cloud-hybrid meeting, the cloud last). No Node or browser imports: it takes
 * `fetch` and a clock, so both SDK halves and tests share it.
 */

export interface ZoneToProbe {
  readonly id: string;
  readonly zcpUrls: readonly string[];
}

export interface ZoneRtt {
  readonly zoneId: string;
  /** Median of the successful probes of the zone's best ZCP, ms; Infinity when none answered. */
  readonly medianRttMs: number;
  /** The zone's ZCPs, the fastest first (those that never answered last). */
  readonly zcpUrls: string[];
}

export interface ProbeOptions {
  /** Probes per ZCP (their median counts). Default 5. */
  samples?: number;
  /** A probe without an answer by then counts as lost, ms. Default 1000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/** Median of a non-empty list; Infinity for an empty one. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.POSITIVE_INFINITY;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Zones by measured RTT (per ZCP: the successful samples), nearest first; ties keep the given order. */
export function rankZones(zones: readonly ZoneToProbe[], samples: ReadonlyMap<string, readonly number[]>): ZoneRtt[] {
  const ranked = zones.map((zone, index) => {
    const zcps = zone.zcpUrls
      .map((url, order) => ({ url, order, rtt: median(samples.get(url) ?? []) }))
      .sort((a, b) => a.rtt - b.rtt || a.order - b.order);
    return { index, zoneId: zone.id, medianRttMs: zcps[0]?.rtt ?? Number.POSITIVE_INFINITY, zcpUrls: zcps.map((z) => z.url) };
  });
  ranked.sort((a, b) => a.medianRttMs - b.medianRttMs || a.index - b.index);
  return ranked.map(({ zoneId, medianRttMs, zcpUrls }) => ({ zoneId, medianRttMs, zcpUrls }));
}

/** Probes every ZCP of every zone (ZCPs in parallel, each ZCP's samples one after another) and ranks the zones. */
export async function probeZones(zones: readonly ZoneToProbe[], options: ProbeOptions = {}): Promise<ZoneRtt[]> {
  const samples = options.samples ?? 5;
  const timeoutMs = options.timeoutMs ?? 1000;
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? (() => performance.now());
  const urls = [...new Set(zones.flatMap((z) => z.zcpUrls))];
  const results = new Map<string, number[]>();
  await Promise.all(
    urls.map(async (base) => {
      const rtts: number[] = [];
      const url = `${base.replace(/\/+$/, '')}/v1/probe`;
      for (let i = 0; i < samples; i++) {
        const started = now();
        try {
          const response = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
          await response.arrayBuffer();
          if (response.ok) rtts.push(now() - started);
        } catch {
          // lost: not counted
        }
      }
      results.set(base, rtts);
    }),
  );
  return rankZones(zones, results);
}
