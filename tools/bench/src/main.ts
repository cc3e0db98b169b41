/**
 * meetedge benchmark, run by hand (docs/performance.md):
 *
 *   node --import tsx tools/bench/src/main.ts [--scenario a] [--quick]
 *     [--n 1,10,50,100] [--rates 100,200,500,1000,1500,2000,3000,4000,6000,8000] [--step-seconds 5]
 *     [--warmup-seconds 5] [--payload 1100] [--only meetedge|plain] [--max-minutes 25]
 *   node --import tsx tools/bench/src/main.ts --scenario b [--meetings 25] [--per-meeting 16]
 *     [--scales 0.02,0.05,0.1,0.2] [--workers 4] [--step-seconds 10] [--max-minutes 25]
 *   node --import tsx tools/bench/src/main.ts --scenario placement [--joins 1000] [--rounds 3]
 *     [--concurrency 1,8,32,128] [--meetings 40] [--modules 3] [--capacity 400]
 *     [--warmup 200] [--max-minutes 5] [--out FILE]
 *   node --import tsx tools/bench/src/main.ts --scenario hybrid [--meetings 25] [--inside 3] [--guests 1]
 *     [--modules 2] [--workers 3] [--audio-pps 50] [--audio-bytes 160] [--video-pps 10] [--video-bytes 400]
 *     [--seconds 20] [--max-minutes 10] [--out FILE]
 *
 * Scenario (b), the module's rated load, is described in scenario-b.ts; the
 * placement scenario (joins through two ZCPs, issue [4]) in placement.ts; the
 * hybrid scenario (the seeds' cascade example, issue [5]) in hybrid.ts.
 *
 * Scenario (a): one publisher → N subscribers. For each N, the forwarder
 * under test runs in its own process (meetedge's module, then the plain
 * werift forwarder); the publisher and the N subscribers run here, in one
 * process, so send and receive times come from one clock. The publisher's
 * packet rate steps up until the knee (loss > 1 % or p99 > 100 ms). Per step:
 * packets/s in and out at the forwarder (its counters), its CPU-seconds
 * (/proc/<pid>/stat) per 1,000 forwarded packets, added latency p50/p99,
 * loss, its RSS; then meetedge / plain in forwarded packets per CPU-second.
 * Progress goes to stderr; the JSON report to stdout.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RtpHeader, RtpPacket, type MediaStreamTrack } from 'werift';
import { buildPayload, readStamp } from './payload';
import { WORKSPACE_ROOT, cpuSecondsOf, killChildren, rssMibOf, sleep } from './proc';
import { LatencyHistogram, cpuSecondsPer1000, efficiencyRatio, lossPercent, pastKnee, round } from './stats';
import { parseHybridArgs, runHybrid } from './hybrid';
import { parsePlacementArgs, runPlacement } from './placement';
import { runScenarioB, type ScenarioBOptions } from './scenario-b';
import { startMeetedge, startPlain, type Publisher, type Target, type TargetName } from './targets';

interface Options {
  scenario: 'a';
  quick: boolean;
  subscribers: number[];
  rates: number[];
  stepSeconds: number;
  /** Seconds at JIT_WARMUP_RATE before the idle measurement and the first step (both forwarders alike). */
  warmupSeconds: number;
  payloadBytes: number;
  targets: TargetName[];
  maxMinutes: number;
}

function parseArgs(argv: readonly string[]): Options {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = (value: string | undefined, fallback: number[]) => (value ? value.split(',').map((v) => Number(v.trim())) : fallback);
  const quick = argv.includes('--quick');
  const scenario = get('--scenario') ?? 'a';
  if (scenario !== 'a') throw new Error(`unknown scenario ${scenario}: a, b, placement or hybrid`);
  const only = get('--only');
  if (only !== undefined && only !== 'meetedge' && only !== 'plain') throw new Error('--only takes meetedge or plain');
  const options: Options = {
    scenario: 'a',
    quick,
    subscribers: list(get('--n'), quick ? [1, 10] : [1, 10, 50, 100]),
    rates: list(get('--rates'), quick ? [200, 1000] : [100, 200, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000]),
    stepSeconds: Number(get('--step-seconds') ?? (quick ? 2 : 5)),
    warmupSeconds: Number(get('--warmup-seconds') ?? (quick ? 2 : 5)),
    payloadBytes: Number(get('--payload') ?? 1100),
    targets: only ? [only] : ['meetedge', 'plain'],
    maxMinutes: Number(get('--max-minutes') ?? 25),
  };
  for (const n of [...options.subscribers, ...options.rates, options.stepSeconds, options.payloadBytes, options.maxMinutes]) {
    if (!Number.isFinite(n) || n <= 0) throw new Error(`invalid number in arguments: ${argv.join(' ')}`);
  }
  if (!Number.isFinite(options.warmupSeconds) || options.warmupSeconds < 0) throw new Error(`invalid --warmup-seconds: ${argv.join(' ')}`);
  return options;
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Receive side: which stamped packets each subscriber got in the current step, and their latency. */
class Receivers {
  private seen: Uint8Array[] = [];
  received: Uint32Array;
  duplicates = 0;
  readonly latency = new LatencyHistogram();
  lastArrivalMs = 0;
  private startSeq = 0;
  private capacity = 0;
  private recording = false;

  constructor(readonly count: number) {
    this.received = new Uint32Array(count);
  }

  begin(startSeq: number, capacity: number): void {
    this.startSeq = startSeq;
    this.capacity = capacity;
    this.seen = Array.from({ length: this.count }, () => new Uint8Array(capacity));
    this.received.fill(0);
    this.duplicates = 0;
    this.latency.reset();
    this.recording = true;
  }

  end(): void {
    this.recording = false;
    this.seen = [];
  }

  readonly onPacket = (subscriber: number, packet: RtpPacket): void => {
    const now = performance.now();
    this.lastArrivalMs = now;
    if (!this.recording) return;
    const stamp = readStamp(packet.payload);
    if (!stamp) return;
    const index = stamp.seq - this.startSeq;
    if (index < 0 || index >= this.capacity) return;
    const seen = this.seen[subscriber] as Uint8Array;
    if (seen[index]) {
      this.duplicates++;
      return;
    }
    seen[index] = 1;
    this.received[subscriber] = (this.received[subscriber] as number) + 1;
    this.latency.add(now - stamp.sentAtMs);
  };

  /** Resolves once nothing has arrived for `quietMs` (or after `maxMs`). */
  async drained(quietMs: number, maxMs: number): Promise<void> {
    const deadline = performance.now() + maxMs;
    while (performance.now() - this.lastArrivalMs < quietMs && performance.now() < deadline) await sleep(25);
  }

  total(): number {
    return this.received.reduce((a, b) => a + b, 0);
  }

  minimum(): number {
    return this.received.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
  }
}

/** The publisher: stamped VP8-like packets at a set rate; a keyframe per second, first in a step, and on PLI. */
class Pacer {
  seq = 0;
  private keyframeDue = true;
  private lastKeyframeMs = Number.NEGATIVE_INFINITY;
  private readonly filler = randomBytes(64 * 1024);

  constructor(
    private readonly track: MediaStreamTrack,
    private readonly payloadBytes: number,
  ) {}

  requestKeyframe(): void {
    this.keyframeDue = true;
  }

  private sendOne(): void {
    const now = performance.now();
    const key = this.keyframeDue || now - this.lastKeyframeMs >= 1000;
    if (key) {
      this.keyframeDue = false;
      this.lastKeyframeMs = now;
    }
    const seq = this.seq++;
    const payload = buildPayload(this.payloadBytes, key, now, seq, this.filler, seq * 1031);
    const header = new RtpHeader({ payloadType: 96, sequenceNumber: seq & 0xffff, timestamp: Math.floor(now * 90) >>> 0, ssrc: 1, marker: true });
    this.track.writeRtp(new RtpPacket(header, payload));
  }

  /**
   * Sends `rate` packets/s for `ms`, paced on a ~1 ms timer. When the
   * process falls behind it catches up by at most 50 ms of packets per
   * tick, so the achieved rate (returned) can be below the target.
   */
  async run(rate: number, ms: number): Promise<{ sent: number; wallMs: number }> {
    this.keyframeDue = true;
    const start = performance.now();
    const total = Math.round((rate * ms) / 1000);
    const maxBurst = Math.max(1, Math.ceil(rate / 20));
    let sent = 0;
    while (sent < total) {
      const elapsed = performance.now() - start;
      if (elapsed > ms * 1.5) break;
      const due = Math.min(total, Math.floor((elapsed * rate) / 1000) + 1, sent + maxBurst);
      while (sent < due) {
        this.sendOne();
        sent++;
      }
      await sleep(1);
    }
    return { sent, wallMs: performance.now() - start };
  }
}

interface StepResult {
  rate: number;
  sentPps: number;
  inPps: number;
  outPps: number;
  forwardedPackets: number;
  cpuSeconds: number;
  cpuPercent: number;
  cpuSecondsPer1000: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  lossPercent: number;
  worstSubscriberLossPercent: number;
  duplicates: number;
  rssMib: number;
  clientCpuPercent: number;
  held: boolean;
  /** A step past the knee is run once more (one GC pause or scheduler hiccup should not end the climb); this was the first try. */
  firstTry?: { latencyP99Ms: number; lossPercent: number };
}

async function runStep(target: Target, pacer: Pacer, receivers: Receivers, rate: number, seconds: number): Promise<StepResult> {
  const capacity = Math.ceil(rate * seconds * 1.6) + 100;
  const startSeq = pacer.seq;
  receivers.begin(startSeq, capacity);
  const before = await target.counters();
  const cpuBefore = cpuSecondsOf(target.pid);
  const clientBefore = process.cpuUsage();
  const t0 = performance.now();
  const { sent, wallMs } = await pacer.run(rate, seconds * 1000);
  await receivers.drained(300, 5000);
  const windowS = (performance.now() - t0) / 1000;
  const cpuSeconds = cpuSecondsOf(target.pid) - cpuBefore;
  const client = process.cpuUsage(clientBefore);
  const after = await target.counters();
  const rssMib = rssMibOf(target.pid);
  receivers.end();
  const sendS = wallMs / 1000;
  const forwarded = after.packetsOut - before.packetsOut;
  const expected = sent * receivers.count;
  const loss = lossPercent(expected, receivers.total());
  const p99 = receivers.latency.percentile(99);
  const result: StepResult = {
    rate,
    sentPps: sent / sendS,
    inPps: (after.packetsIn - before.packetsIn) / sendS,
    outPps: forwarded / sendS,
    forwardedPackets: forwarded,
    cpuSeconds,
    cpuPercent: (cpuSeconds / windowS) * 100,
    cpuSecondsPer1000: cpuSecondsPer1000(cpuSeconds, forwarded),
    latencyP50Ms: receivers.latency.percentile(50),
    latencyP99Ms: p99,
    latencyMaxMs: receivers.latency.max,
    lossPercent: loss,
    worstSubscriberLossPercent: lossPercent(sent, receivers.minimum()),
    duplicates: receivers.duplicates,
    rssMib,
    clientCpuPercent: ((client.user + client.system) / 1e6 / windowS) * 100,
    held: !pastKnee({ lossPercent: loss, p99Ms: p99 }),
  };
  return result;
}

function rounded(step: StepResult): Record<string, number | boolean | null | undefined> {
  return {
    rate: step.rate,
    sentPps: round(step.sentPps, 0),
    inPps: round(step.inPps, 0),
    outPps: round(step.outPps, 0),
    forwardedPackets: step.forwardedPackets,
    cpuSeconds: round(step.cpuSeconds, 2),
    cpuPercent: round(step.cpuPercent, 1),
    cpuSecondsPer1000: round(step.cpuSecondsPer1000, 4),
    latencyP50Ms: round(step.latencyP50Ms, 2),
    latencyP99Ms: round(step.latencyP99Ms, 2),
    latencyMaxMs: round(step.latencyMaxMs, 1),
    lossPercent: round(step.lossPercent, 3),
    worstSubscriberLossPercent: round(step.worstSubscriberLossPercent, 3),
    duplicates: step.duplicates,
    rssMib: round(step.rssMib, 1),
    clientCpuPercent: round(step.clientCpuPercent, 1),
    // The bench's own process (publisher + every subscriber) near one full core: the knee may be the clients'.
    clientSaturated: step.clientCpuPercent >= 85,
    held: step.held,
    ...(step.firstTry ? { firstTryP99Ms: round(step.firstTry.latencyP99Ms, 2), firstTryLossPercent: round(step.firstTry.lossPercent, 3) } : {}),
  };
}

interface TargetRun {
  target: TargetName;
  subscribers: number;
  setupSeconds: number;
  idleCpuPercent: number | null;
  rssAfterSetupMib: number | null;
  steps: StepResult[];
  kneeRate: number | null;
  maxHeldRate: number | null;
  error?: string;
}

/** Packets/s of the JIT warm-up (`--warmup-seconds`). */
const JIT_WARMUP_RATE = 500;

async function runTarget(name: TargetName, n: number, options: Options): Promise<TargetRun> {
  const run: TargetRun = { target: name, subscribers: n, setupSeconds: 0, idleCpuPercent: null, rssAfterSetupMib: null, steps: [], kneeRate: null, maxHeldRate: null };
  const started = performance.now();
  let target: Target | undefined;
  try {
    target = name === 'meetedge' ? await startMeetedge() : await startPlain();
    const publisher: Publisher = await target.publish();
    const pacer = new Pacer(publisher.track, options.payloadBytes);
    publisher.onKeyframeRequest(() => pacer.requestKeyframe());
    const receivers = new Receivers(n);
    for (let i = 0; i < n; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => target?.subscribe(i + k, receivers.onPacket)));
    }
    // Warm up at 100 packets/s until every subscriber receives (the module starts a subscriber at a keyframe).
    receivers.begin(pacer.seq, 100_000);
    const deadline = performance.now() + 20_000;
    while (receivers.minimum() < 5 && performance.now() < deadline) await pacer.run(100, 250);
    const warmed = receivers.minimum();
    receivers.end();
    if (warmed < 5) throw new Error(`a subscriber received only ${warmed} packets in the warm-up`);
    await receivers.drained(300, 3000);
    run.setupSeconds = round((performance.now() - started) / 1000, 1) as number;
    if (options.warmupSeconds > 0) {
      // A fresh process compiles and optimizes its hot code in the first
      // seconds of traffic: that is start-up, not forwarding cost, so both
      // forwarders get the same run at a moderate rate before anything is measured.
      receivers.begin(pacer.seq, 100_000);
      await pacer.run(JIT_WARMUP_RATE, options.warmupSeconds * 1000);
      receivers.end();
      await receivers.drained(300, 3000);
    }
    const idleSeconds = options.quick ? 1 : 2;
    const idleBefore = cpuSecondsOf(target.pid);
    await sleep(idleSeconds * 1000);
    run.idleCpuPercent = round(((cpuSecondsOf(target.pid) - idleBefore) / idleSeconds) * 100, 1);
    run.rssAfterSetupMib = round(rssMibOf(target.pid), 1);
    log(`${name} N=${n}: ${n} subscribers up in ${run.setupSeconds} s, idle CPU ${run.idleCpuPercent} %`);
    for (const rate of options.rates) {
      let step = await runStep(target, pacer, receivers, rate, options.stepSeconds);
      if (!step.held) {
        log(`${name} N=${n} rate=${rate}: past the knee (p99 ${step.latencyP99Ms.toFixed(1)} ms, loss ${step.lossPercent.toFixed(2)} %); once more`);
        const firstTry = { latencyP99Ms: step.latencyP99Ms, lossPercent: step.lossPercent };
        await sleep(1000);
        step = { ...(await runStep(target, pacer, receivers, rate, options.stepSeconds)), firstTry };
      }
      run.steps.push(step);
      log(
        `${name} N=${n} rate=${rate}: sent ${step.sentPps.toFixed(0)}/s, in ${step.inPps.toFixed(0)}/s, out ${step.outPps.toFixed(0)}/s, ` +
          `CPU ${step.cpuPercent.toFixed(0)} % (${step.cpuSecondsPer1000.toFixed(4)} s/1k), p50 ${step.latencyP50Ms.toFixed(2)} ms, ` +
          `p99 ${step.latencyP99Ms.toFixed(2)} ms, loss ${step.lossPercent.toFixed(2)} %, client CPU ${step.clientCpuPercent.toFixed(0)} %${step.held ? '' : '  ← knee'}`,
      );
      if (!step.held) {
        run.kneeRate = rate;
        break;
      }
      run.maxHeldRate = rate;
      await sleep(300);
    }
  } catch (err) {
    run.error = (err as Error).message;
    log(`${name} N=${n}: ${run.error}`);
  } finally {
    await target?.close().catch(() => undefined);
  }
  return run;
}

function weriftVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(WORKSPACE_ROOT, 'node_modules/werift/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Scenario (b)'s options, with the issue's defaults: 25 meetings × 16, gallery of 4, 3 speakers, ~300 kbit/s cameras. */
function parseScenarioB(argv: readonly string[]): ScenarioBOptions & { maxMinutes: number } {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const options = {
    meetings: Number(get('--meetings') ?? 25),
    perMeeting: Number(get('--per-meeting') ?? 16),
    speakers: 3,
    gallery: 4,
    workers: Number(get('--workers') ?? 4),
    scales: (get('--scales') ?? '0.02,0.05,0.1,0.2').split(',').map(Number),
    stepSeconds: Number(get('--step-seconds') ?? 10),
    videoKbps: 300,
    videoPayloadBytes: 1100,
    audioPps: 50,
    maxMinutes: Number(get('--max-minutes') ?? 25),
    log,
  };
  for (const n of [options.meetings, options.perMeeting, options.workers, options.stepSeconds, options.maxMinutes, ...options.scales]) {
    if (!Number.isFinite(n) || n <= 0) throw new Error(`invalid number in arguments: ${argv.join(' ')}`);
  }
  return options;
}

/**
 * A scenario whose report has checks (placement.ts, hybrid.ts): ended after
 * --max-minutes, the report also written to --out (under nx,
 * tmp/bench/<scenario>.json), exit code 1 when a check failed.
 */
async function mainChecked(options: { maxMinutes: number; out: string | undefined }, run: () => Promise<Record<string, unknown>>): Promise<void> {
  setTimeout(() => {
    log(`--max-minutes ${options.maxMinutes} reached; stopping`);
    killChildren();
    process.exit(3);
  }, options.maxMinutes * 60_000).unref();
  const startedAt = new Date().toISOString();
  const result = await run();
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version };
  const json = `${JSON.stringify({ bench: 'meetedge', startedAt, finishedAt: new Date().toISOString(), machine, ...result }, null, 2)}\n`;
  process.stdout.write(json);
  if (options.out) {
    const file = path.resolve(WORKSPACE_ROOT, options.out);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, json);
    log(`report written to ${file}`);
  }
  if (result['error'] !== undefined || result['allChecksPassed'] !== true) process.exitCode = 1;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const scenarioArg = argv.find((a) => a.startsWith('--scenario='))?.slice('--scenario='.length) ?? (argv.includes('--scenario') ? argv[argv.indexOf('--scenario') + 1] : undefined);
  if (scenarioArg === 'placement') {
    const options = parsePlacementArgs(argv);
    return mainChecked(options, () => runPlacement({ ...options, log }));
  }
  if (scenarioArg === 'hybrid') {
    const options = parseHybridArgs(argv);
    return mainChecked(options, () => runHybrid({ ...options, log }));
  }
  if (argv[argv.indexOf('--scenario') + 1] === 'b' && argv.includes('--scenario')) {
    const options = parseScenarioB(argv);
    setTimeout(() => {
      log(`--max-minutes ${options.maxMinutes} reached; stopping`);
      killChildren();
      process.exit(3);
    }, options.maxMinutes * 60_000).unref();
    const startedAt = new Date().toISOString();
    const result = await runScenarioB(options);
    const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, werift: weriftVersion() };
    process.stdout.write(`${JSON.stringify({ bench: 'meetedge', startedAt, finishedAt: new Date().toISOString(), machine, ...result }, null, 2)}\n`);
    return;
  }
  const options = parseArgs(argv);
  const deadline = setTimeout(() => {
    log(`--max-minutes ${options.maxMinutes} reached; stopping`);
    killChildren();
    process.exit(3);
  }, options.maxMinutes * 60_000);
  deadline.unref();
  const startedAt = new Date().toISOString();
  log(`scenario a: N ∈ {${options.subscribers.join(', ')}}, rates ${options.rates.join(', ')} packets/s, ${options.stepSeconds} s steps, ${options.payloadBytes}-byte payloads`);
  const results = [];
  for (const n of options.subscribers) {
    const runs: Partial<Record<TargetName, TargetRun>> = {};
    for (const name of options.targets) runs[name] = await runTarget(name, n, options);
    const m = runs.meetedge;
    const p = runs.plain;
    const ratio = m && p ? efficiencyRatio(m.steps, p.steps) : undefined;
    // The same over every rate both ran, held or not (CPU per forwarded packet stays measurable past the knee).
    const ratioAllSteps = m && p ? efficiencyRatio(m.steps.map((x) => ({ ...x, held: true })), p.steps.map((x) => ({ ...x, held: true }))) : undefined;
    results.push({
      subscribers: n,
      ...Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, { ...r, steps: r.steps.map(rounded) }])),
      ratio: ratio && {
        perRate: ratio.perRate.map((r) => ({ rate: r.rate, ratio: round(r.ratio, 2) })),
        overall: round(ratio.overall, 2),
        atHighestCommonRate: ratio.atHighestCommonRate && { rate: ratio.atHighestCommonRate.rate, ratio: round(ratio.atHighestCommonRate.ratio, 2) },
        overAllCommonRatesHeldOrNot: ratioAllSteps ? round(ratioAllSteps.overall, 2) : null,
      },
    });
    if (ratio) {
      log(`N=${n}: meetedge / plain forwarded packets per CPU-second = ${round(ratio.overall, 2)} over rates both held, ${round(ratioAllSteps?.overall ?? Number.NaN, 2)} over every common rate`);
    }
  }
  const overall = results.map((r) => r.ratio?.overall).filter((r): r is number => typeof r === 'number');
  const report = {
    bench: 'meetedge',
    scenario: 'a: 1 publisher → N subscribers',
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, werift: weriftVersion() },
    settings: {
      quick: options.quick,
      subscribers: options.subscribers,
      rates: options.rates,
      stepSeconds: options.stepSeconds,
      warmupSeconds: options.warmupSeconds,
      payloadBytes: options.payloadBytes,
      knee: 'loss > 1 % or latency p99 > 100 ms',
    },
    results,
    ratio: {
      meaning: 'meetedge / plain werift, forwarded packets per forwarder CPU-second, over the rates both held',
      perSubscriberCount: Object.fromEntries(results.map((r) => [String(r.subscribers), r.ratio?.overall ?? null])),
      min: overall.length ? Math.min(...overall) : null,
      max: overall.length ? Math.max(...overall) : null,
      target: 3,
    },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

main().then(
  () => process.exit(),
  (err: unknown) => {
    console.error(`bench: ${(err as Error).stack ?? String(err)}`);
    killChildren();
    process.exit(1);
  },
);
