/**
 * Pure helpers of the benchmark: percentiles, a latency histogram cheap
 * enough for the receive path, /proc parsing, and the figures of a step
 * (CPU-seconds per 1,000 forwarded packets, loss, the knee, the ratio).
 */

/** Clock ticks per second of /proc/<pid>/stat utime and stime (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The knee of a step: more loss or a later p99 than this and the rate does not hold. */
export const KNEE = { lossPercent: 1, p99Ms: 100 } as const;

/** Nearest-rank percentile (p in 0..100) of values sorted ascending; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0] as number;
  if (p >= 100) return sorted[sorted.length - 1] as number;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/**
 * Latencies in fixed buckets (default 0.05 ms up to 5 s, then one overflow
 * bucket): O(1) to add, no allocation on the receive path. A percentile is
 * the upper edge of the bucket holding that rank (≤ one bucket too high).
 */
export class LatencyHistogram {
  private readonly buckets: Uint32Array;
  count = 0;
  max = 0;
  private sum = 0;

  constructor(
    readonly bucketMs = 0.05,
    readonly limitMs = 5000,
  ) {
    this.buckets = new Uint32Array(Math.ceil(limitMs / bucketMs) + 1);
  }

  add(ms: number): void {
    const value = ms < 0 ? 0 : ms;
    const index = Math.min(this.buckets.length - 1, Math.floor(value / this.bucketMs));
    this.buckets[index] = (this.buckets[index] as number) + 1;
    this.count++;
    this.sum += value;
    if (value > this.max) this.max = value;
  }

  get mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  /** Nearest-rank percentile (same rank rule as `percentile`); the overflow bucket reports the max seen. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.min(this.count, Math.max(1, Math.ceil((p / 100) * this.count)));
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i] as number;
      if (seen >= rank) return i === this.buckets.length - 1 ? this.max : Math.min(this.max, (i + 1) * this.bucketMs);
    }
    return this.max;
  }

  reset(): void {
    this.buckets.fill(0);
    this.count = 0;
    this.max = 0;
    this.sum = 0;
  }

  /** The histogram as plain numbers (non-empty buckets only), to send to another process. */
  toJSON(): HistogramSnapshot {
    const buckets: number[] = [];
    for (let i = 0; i < this.buckets.length; i++) {
      const n = this.buckets[i] as number;
      if (n > 0) buckets.push(i, n);
    }
    return { bucketMs: this.bucketMs, buckets, count: this.count, max: this.max, sum: this.sum };
  }

  /** Adds another histogram's values (same bucket width). */
  merge(other: HistogramSnapshot): void {
    if (other.bucketMs !== this.bucketMs) throw new Error(`cannot merge histograms of ${other.bucketMs} and ${this.bucketMs} ms buckets`);
    for (let i = 0; i + 1 < other.buckets.length; i += 2) {
      const index = Math.min(this.buckets.length - 1, other.buckets[i] as number);
      this.buckets[index] = (this.buckets[index] as number) + (other.buckets[i + 1] as number);
    }
    this.count += other.count;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
  }
}

/** `LatencyHistogram.toJSON()`: bucket width, then (index, count) pairs of the non-empty buckets. */
export interface HistogramSnapshot {
  bucketMs: number;
  buckets: number[];
  count: number;
  max: number;
  sum: number;
}

/** utime + stime of a /proc/<pid>/stat line, in seconds (the command name may hold spaces and parentheses). */
export function cpuSecondsOfProcStat(stat: string, ticksPerSecond = CLOCK_TICKS_PER_SECOND): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
  // After "pid (comm) ", field 3 (state) is index 0; utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`);
  return (utime + stime) / ticksPerSecond;
}

/** VmRSS of a /proc/<pid>/status text, in MiB. */
export function rssMibOfProcStatus(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error('no VmRSS line');
  return Number(match[1]) / 1024;
}

/** CPU-seconds per 1,000 forwarded packets; NaN when nothing was forwarded. */
export function cpuSecondsPer1000(cpuSeconds: number, forwardedPackets: number): number {
  return forwardedPackets > 0 ? (cpuSeconds * 1000) / forwardedPackets : Number.NaN;
}

/** Forwarded packets per CPU-second; NaN without CPU time to divide by. */
export function packetsPerCpuSecond(forwardedPackets: number, cpuSeconds: number): number {
  return cpuSeconds > 0 ? forwardedPackets / cpuSeconds : Number.NaN;
}

/** Loss in percent of what should have arrived (never negative: duplicates do not count twice). */
export function lossPercent(expected: number, received: number): number {
  if (expected <= 0) return 0;
  return Math.max(0, ((expected - received) / expected) * 100);
}

/** True when a step is past the knee: loss over 1 % or p99 over 100 ms (or nothing arrived). */
export function pastKnee(step: { lossPercent: number; p99Ms: number }): boolean {
  return !(step.lossPercent <= KNEE.lossPercent) || !(step.p99Ms <= KNEE.p99Ms);
}

/** Rounds for the JSON report (keeps NaN as null so the JSON stays valid). */
export function round(value: number, digits = 3): number | null {
  if (!Number.isFinite(value)) return null;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export interface StepFigures {
  rate: number;
  forwardedPackets: number;
  cpuSeconds: number;
  held: boolean;
}

/**
 * meetedge / plain in forwarded packets per CPU-second, over the steps both
 * held at the same rate: per rate, and over all of them together (total
 * packets / total CPU on each side). Steps only one side held do not count.
 */
export function efficiencyRatio(
  meetedge: readonly StepFigures[],
  plain: readonly StepFigures[],
): { perRate: { rate: number; ratio: number }[]; overall: number; atHighestCommonRate: { rate: number; ratio: number } | undefined } {
  const perRate: { rate: number; ratio: number }[] = [];
  const totals = { m: { packets: 0, cpu: 0 }, p: { packets: 0, cpu: 0 } };
  for (const m of meetedge) {
    const p = plain.find((s) => s.rate === m.rate);
    if (!p || !m.held || !p.held) continue;
    perRate.push({ rate: m.rate, ratio: packetsPerCpuSecond(m.forwardedPackets, m.cpuSeconds) / packetsPerCpuSecond(p.forwardedPackets, p.cpuSeconds) });
    totals.m.packets += m.forwardedPackets;
    totals.m.cpu += m.cpuSeconds;
    totals.p.packets += p.forwardedPackets;
    totals.p.cpu += p.cpuSeconds;
  }
  const overall = packetsPerCpuSecond(totals.m.packets, totals.m.cpu) / packetsPerCpuSecond(totals.p.packets, totals.p.cpu);
  const highest = [...perRate].sort((a, b) => b.rate - a.rate)[0];
  return { perRate, overall, atHighestCommonRate: highest };
}

/** Busy and total clock ticks of all CPUs, from the first ("cpu ") line of /proc/stat (every process of the machine, not only the bench's). */
export function machineTicksOfProcStat(stat: string): { busy: number; total: number } {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no "cpu" line in /proc/stat');
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = ticks;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** One Prometheus histogram (cumulative buckets by upper bound, sum, count) as read from /metrics text. */
export interface PromHistogram {
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

/**
 * The histogram `name` of a Prometheus text exposition, over the series whose
 * labels include every `labels` pair (several matching series are added up).
 */
export function promHistogram(text: string, name: string, labels: Record<string, string>): PromHistogram {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const buckets = new Map<number, number>();
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}\s+(\S+)/.exec(line);
    if (!match) continue;
    const [, metric, labelText = '', value] = match;
    if (!wanted.every((w) => labelText.includes(w))) continue;
    const v = Number(value);
    if (metric === `${name}_bucket`) {
      const le = /le="([^"]+)"/.exec(labelText)?.[1];
      const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + v);
    } else if (metric === `${name}_sum`) sum += v;
    else if (metric === `${name}_count`) count += v;
  }
  return { buckets: [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([le, n]) => ({ le, count: n })), sum, count };
}

/** `after` − `before` of the same histogram (a counter's growth over a window). */
export function promHistogramDelta(after: PromHistogram, before: PromHistogram): PromHistogram {
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (before.buckets.find((x) => x.le === b.le)?.count ?? 0) })),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/** Upper bound of the bucket holding the p-th percentile (nearest rank): the value is at most this. */
export function promPercentileBound(histogram: PromHistogram, p: number): number {
  if (histogram.count <= 0) return Number.NaN;
  const rank = Math.min(histogram.count, Math.max(1, Math.ceil((p / 100) * histogram.count)));
  return histogram.buckets.find((b) => b.count >= rank)?.le ?? Number.POSITIVE_INFINITY;
}

/** Every number inside `value` (objects, arrays) rounded to `digits` decimals. */
export function rounded(value: unknown, digits: number): unknown {
  if (typeof value === 'number') return round(value, digits);
  if (Array.isArray(value)) return value.map((v) => rounded(v, digits));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rounded(v, digits)]));
  return value;
}
