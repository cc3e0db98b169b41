/**
 * Placement benchmark (issue [4]; docs/performance.md, "Placement"): how fast
 * a zone answers joins, through two ZCPs, every service in its own process:
 *
 *   node --import tsx tools/bench/src/main.ts --scenario placement > placement.json
 *     [--joins 1000] [--rounds 3] [--concurrency 1,8,32,128] [--meetings 40]
 *     [--modules 3] [--capacity 400] [--warmup 200] [--max-minutes 5] [--out FILE]
 *   npx nx run bench:placement [--joins=1000 ...]
 *     (nx prints its own lines on stdout too: the JSON also goes to
 *     tmp/bench/placement.json)
 *
 * The deployment (deployment.ts, shared with the hybrid scenario) is the one
 * of apps/all-in-one/test/zone-under-load.spec.ts:
 * a private redis-server (@meetedge/test-kit `startRedis`, a free port, never
 * 6379), the control plane (apps/dashboard, sign-up open), two ZCPs of zone
 * "hq" (apps/zcp) and three modules of 400 units (apps/sfu) registered with
 * both, each `node --import tsx apps/<app>/src/main.ts` with its environment
 * (proc.ts `spawnNode`: children end with the bench), logs at warn
 * (BENCH_SERVICE_LOG_LEVEL=info to keep the ZCP's line per placement). The
 * bench creates an account, the zone and the meetings (modes alternating:
 * half internal-only, half cloud-hybrid) through the control plane's REST
 * API, and signs member access tokens with the control plane's key (what its
 * sign-in would return: a scrypt sign-in per join would time the password
 * hash, not placement).
 *
 * A step is `--rounds` rounds of `--joins` SD joins at a fixed number in
 * flight (a pool of that many loops). A join is `assignInZone` of
 * @meetedge/client (POST /v1/assign, the SDK's way), the ZCP asked first
 * alternating join by join, meetings round-robin; its token is signed before
 * the round. Per step: the latency of each join as the client sees it
 * (p50/p90/p99/max), the ZCPs' own timing of the request (their /metrics
 * histogram), joins/s over the rounds' wall time, CPU-seconds of every process
 * (/proc/<pid>/stat; the bench's own from process.cpuUsage) per 1,000 joins,
 * and the whole machine's busy share (/proc/stat: someone else's load shows
 * there). Checks of every round: every POST answered 200 (one per join, no
 * failover needed), no module over its capacity in GET /v1/zone/modules asked
 * of both ZCPs (which agree), each module holding exactly the units of the
 * tickets naming it, every ticket valid for its module, meeting, mode and
 * quality, nobody sent to the cloud MMR (a round fits the zone), and a
 * meeting on more than one module only because the first filled (of its
 * modules, at most one has a free unit). Such meetings are counted, with
 * their joins per module.
 *
 * Between rounds the capacity is freed the way a module frees it when its
 * participants leave: the bench releases each ticket's reservation in the
 * cluster state (`releaseReservation`, the ticket id being the reservation
 * id) and waits for every module to hold 0 units; so each round starts from
 * an empty zone of 3 × 400 units, without a restart and without raising
 * MEETEDGE_CAPACITY_UNITS. (Nobody opens a media session, so the tickets
 * would otherwise hold their units until they expire; the ZCPs get the
 * longest ticket lifetime, 10 min, so none expires during a round.) A
 * warm-up (`--warmup` joins at 8 in flight, freed the same way) comes first
 * and is reported apart.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { assignInZone, type Assignment } from '@meetedge/client';
import { MeetedgeError, ModuleId, verifyTicket, type ReservationId } from '@meetedge/core';
import { Deployment, ZCP_IDS, type ZoneModule } from './deployment';
import { cpuSnapshot, machineTicks, rssMibOf, sleep } from './proc';
import { percentile, promHistogram, promHistogramDelta, promPercentileBound, round, rounded, type PromHistogram } from './stats';

export interface PlacementOptions {
  /** Joins per round (every join is SD: a round must fit the zone). */
  joins: number;
  /** Joins in flight, one step each. */
  concurrency: number[];
  meetings: number;
  modules: number;
  /** MEETEDGE_CAPACITY_UNITS of each module. */
  capacityUnits: number;
  /** Rounds of `joins` joins a step (capacity freed between them): more joins a step than the zone holds at once. */
  rounds: number;
  /** Joins before the steps (8 in flight), not reported with them. */
  warmupJoins: number;
  log(message: string): void;
}

export interface PlacementArgs extends Omit<PlacementOptions, 'log'> {
  maxMinutes: number;
  /** Also write the JSON report here. */
  out: string | undefined;
}

/** The longest ticket lifetime a ZCP accepts (MEETEDGE_TICKET_TTL_MS): no reservation expires inside a round. */
const TICKET_TTL_MS = 600_000;

/** `--name value` or `--name=value` (nx forwards the second form). */
export function argument(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === name) return argv[i + 1];
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

/** The placement scenario's options; refuses a step that would not fit the zone (every join is SD, 1 unit). */
export function parsePlacementArgs(argv: readonly string[]): PlacementArgs {
  const num = (name: string, fallback: number) => Number(argument(argv, name) ?? fallback);
  const args: PlacementArgs = {
    joins: num('--joins', 1000),
    concurrency: (argument(argv, '--concurrency') ?? '1,8,32,128').split(',').map((v) => Number(v.trim())),
    meetings: num('--meetings', 40),
    modules: num('--modules', 3),
    capacityUnits: num('--capacity', 400),
    rounds: num('--rounds', 3),
    warmupJoins: num('--warmup', 200),
    maxMinutes: num('--max-minutes', 5),
    out: argument(argv, '--out'),
  };
  for (const n of [args.joins, args.meetings, args.modules, args.capacityUnits, args.rounds, args.maxMinutes, ...args.concurrency]) {
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`invalid number in arguments: ${argv.join(' ')}`);
  }
  if (!Number.isSafeInteger(args.warmupJoins) || args.warmupJoins < 0) throw new Error('--warmup takes a count (0: none)');
  if (args.meetings < 2) throw new Error('--meetings: at least 2 (half internal-only, half cloud-hybrid)');
  const zoneUnits = args.modules * args.capacityUnits;
  if (Math.max(args.joins, args.warmupJoins) > zoneUnits) {
    throw new Error(`${Math.max(args.joins, args.warmupJoins)} SD joins do not fit ${args.modules} modules × ${args.capacityUnits} units; lower --joins or raise --capacity`);
  }
  return args;
}

/** Latency figures of a step, ms (nearest rank, as `percentile`). */
export function latencySummary(ms: readonly number[]): { p50: number; p90: number; p99: number; max: number; mean: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN,
  };
}

interface Meeting {
  id: string;
  mode: 'internal-only' | 'cloud-hybrid';
}

interface JoinRecord {
  ms: number;
  meeting: Meeting;
  result?: Assignment;
  error?: string;
}

/** What one round (`joins` joins, checked, then freed) leaves for its step's figures. */
interface Round {
  latencies: number[];
  wallSeconds: number;
  /** Per ZCP: HTTP status → POST /v1/assign answered. */
  answers: Map<number, number>[];
  cpuSeconds: Map<string, number>;
  machine: { busy: number; total: number };
  /** Per ZCP: its own timing of POST /v1/assign over the round (its /metrics). */
  serverTiming: PromHistogram[];
  placed: number;
  cloud: number;
  errors: Map<string, number>;
  modules: Record<string, { reservedUnits: number; ticketUnits: number; capacityUnits: number }>;
  meetingsOnSeveralModules: number;
  /** Joins per module of each meeting placed on more than one. */
  splitMeetings: Record<string, Record<string, number>>;
  checks: Checks;
}

interface Checks {
  /** Every POST /v1/assign answered 200, one per join (no failover was needed). */
  everyJoinAnswered200: boolean;
  /** GET /v1/zone/modules on both ZCPs: no module holds more units than its capacity. */
  noModuleOverCapacity: boolean;
  /** Each module holds exactly the units of the tickets it was named in. */
  reservedEqualsTickets: boolean;
  /** Every ticket verifies for its module, with the meeting, mode and quality asked. */
  ticketsValid: boolean;
  /** Both ZCPs report the same units per module. */
  zcpsAgree: boolean;
  /** Nobody sent to the cloud MMR (the step fits the zone). */
  noCloud: boolean;
  /** A meeting on several modules got the next only when the one before was full: of its modules, at most one has a free unit. */
  splitOnlyWhenFull: boolean;
}

const ASSIGN_TIMING = { name: 'meetedge_http_request_duration_seconds', labels: { route: '/v1/assign' } } as const;

async function serverTiming(zone: Deployment): Promise<PromHistogram[]> {
  return Promise.all(
    zone.zcps.map(async (z) => promHistogram(await (await fetch(`${z.url}/metrics`)).text(), ASSIGN_TIMING.name, ASSIGN_TIMING.labels)),
  );
}

/**
 * One round: `joins` joins at `concurrency` in flight, alternating the ZCP
 * asked first, round-robin over the meetings; then its checks, then its
 * reservations freed (as modules free them when participants leave).
 */
async function runRound(zone: Deployment, meetings: readonly Meeting[], label: string, joins: number, concurrency: number): Promise<Round> {
  const tokens = Array.from({ length: joins }, (_, i) => zone.memberToken(`${label}-u${i}`));
  const urls = zone.zcps.map((z) => z.url);
  const answers = zone.zcps.map(() => new Map<number, number>());
  const countingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const counts = answers[urls.findIndex((u) => url.startsWith(u))];
    if (counts) counts.set(response.status, (counts.get(response.status) ?? 0) + 1);
    return response;
  };
  const records: JoinRecord[] = new Array(joins);
  let next = 0;
  const pids = zone.pids();
  const timingBefore = await serverTiming(zone);
  const cpuBefore = cpuSnapshot(pids);
  const machineBefore = machineTicks();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, joins) }, async () => {
      for (let i = next++; i < joins; i = next++) {
        const meeting = meetings[i % meetings.length] as Meeting;
        const order = i % 2 === 0 ? urls : [...urls].reverse();
        const start = performance.now();
        try {
          const result = await assignInZone(order, tokens[i] as string, { meetingId: meeting.id, quality: 'SD' }, countingFetch);
          records[i] = { ms: performance.now() - start, meeting, result };
        } catch (err) {
          const error = err instanceof MeetedgeError ? `${err.code}: ${err.message}` : (err as Error).message;
          records[i] = { ms: performance.now() - start, meeting, error };
        }
      }
    }),
  );
  const wallSeconds = (performance.now() - t0) / 1000;
  const machineAfter = machineTicks();
  const cpuAfter = cpuSnapshot(pids);
  const timingAfter = await serverTiming(zone);

  // Checks: the zone as both ZCPs report it, against the tickets handed out.
  const [viewA, viewB] = await Promise.all([zone.zoneModules(0), zone.zoneModules(1)]);
  const ticketUnits = new Map<string, number>();
  const meetingModules = new Map<string, Map<string, number>>();
  const reservations: { moduleId: ModuleId; reservationId: ReservationId }[] = [];
  const errors = new Map<string, number>();
  let cloud = 0;
  let placed = 0;
  let ticketsValid = true;
  for (const r of records) {
    if (!r.result) {
      errors.set(r.error ?? 'unknown', (errors.get(r.error ?? 'unknown') ?? 0) + 1);
      continue;
    }
    placed++;
    try {
      const claims = verifyTicket(r.result.ticket, zone.ticketKeys.publicKey, { moduleId: ModuleId(r.result.moduleId), nowMs: Date.now() });
      if (claims.meetingId !== r.meeting.id || claims.quality !== 'SD' || claims.mode !== r.meeting.mode) ticketsValid = false;
      if (r.result.cloud) {
        cloud++;
        continue;
      }
      reservations.push({ moduleId: claims.moduleId, reservationId: claims.ticketId });
      ticketUnits.set(claims.moduleId, (ticketUnits.get(claims.moduleId) ?? 0) + 1);
      const perModule = meetingModules.get(claims.meetingId) ?? new Map<string, number>();
      meetingModules.set(claims.meetingId, perModule.set(claims.moduleId, (perModule.get(claims.moduleId) ?? 0) + 1));
    } catch {
      ticketsValid = false;
    }
  }
  const statuses = answers.flatMap((m) => [...m.entries()]);
  const modules: Round['modules'] = {};
  for (const m of viewA) modules[m.id] = { reservedUnits: m.reservedUnits, ticketUnits: ticketUnits.get(m.id) ?? 0, capacityUnits: m.capacityUnits };
  const unitsOf = (view: ZoneModule[]) => JSON.stringify(view.map((m) => [m.id, m.reservedUnits]));
  const checks: Checks = {
    everyJoinAnswered200: placed === joins && statuses.every(([status]) => status === 200) && statuses.reduce((a, [, n]) => a + n, 0) === joins,
    noModuleOverCapacity: [...viewA, ...viewB].every((m) => m.reservedUnits <= m.capacityUnits),
    reservedEqualsTickets: viewA.length === zone.modules.length && viewA.every((m) => m.reservedUnits === (ticketUnits.get(m.id) ?? 0)),
    ticketsValid,
    zcpsAgree: unitsOf(viewA) === unitsOf(viewB),
    noCloud: cloud === 0,
    splitOnlyWhenFull: [...meetingModules.values()].every((m) => [...m.keys()].filter((id) => (modules[id]?.capacityUnits ?? 0) > (modules[id]?.reservedUnits ?? 0)).length <= 1),
  };

  await Promise.all(reservations.map((r) => zone.state?.releaseReservation(r.moduleId, r.reservationId)));
  const deadline = performance.now() + 15_000;
  while ((await zone.zoneModules(0)).some((m) => m.reservedUnits > 0)) {
    if (performance.now() > deadline) throw new Error('reservations still held 15 s after the bench released them');
    await sleep(100);
  }

  const cpuSeconds = new Map<string, number>();
  for (const [name, after] of cpuAfter) cpuSeconds.set(name, after - (cpuBefore.get(name) ?? after));
  return {
    latencies: records.map((r) => r.ms),
    wallSeconds,
    answers,
    cpuSeconds,
    machine: { busy: machineAfter.busy - machineBefore.busy, total: machineAfter.total - machineBefore.total },
    serverTiming: timingAfter.map((after, i) => promHistogramDelta(after, timingBefore[i] ?? after)),
    placed,
    cloud,
    errors,
    modules,
    meetingsOnSeveralModules: [...meetingModules.values()].filter((m) => m.size > 1).length,
    splitMeetings: Object.fromEntries([...meetingModules].filter(([, m]) => m.size > 1).map(([id, m]) => [id, Object.fromEntries([...m].sort())])),
    checks,
  };
}

export interface PlacementStep {
  concurrency: number;
  rounds: number;
  /** All rounds together. */
  joins: number;
  wallSeconds: number;
  joinsPerSecond: number;
  /** Each join as the client saw it (assignInZone: token in hand → assignment parsed), all rounds. */
  latencyMs: ReturnType<typeof latencySummary>;
  /**
   * Each ZCP's own timing of POST /v1/assign (its /metrics histogram,
   * request received → reply sent): mean, and p50/p99 as the upper bound of
   * the histogram bucket that holds them.
   */
  zcpServerMs: Record<string, { mean: number; p50AtMost: number; p99AtMost: number }>;
  /** Per ZCP: HTTP statuses of the POST /v1/assign it answered. */
  answers: Record<string, Record<string, number>>;
  placed: number;
  cloud: number;
  failed: number;
  errors: Record<string, number>;
  perRound: {
    wallSeconds: number;
    joinsPerSecond: number;
    p50Ms: number;
    p99Ms: number;
    modules: Round['modules'];
    meetingsOnSeveralModules: number;
    splitMeetings: Round['splitMeetings'];
  }[];
  /** CPU-seconds over the step's rounds, per process. */
  cpuSeconds: Record<string, number>;
  /** Each ZCP: its CPU-seconds per 1,000 joins it answered; "zcp (both)": both per 1,000 joins; the others per 1,000 joins. */
  cpuSecondsPer1000Joins: Record<string, number>;
  /** The processes of the deployment and the bench, percent of all the machine's cores. */
  deploymentCpuPercent: number;
  /** Every process of the machine (/proc/stat), percent of all its cores: above the line before, someone else's work. */
  machineBusyPercent: number;
  checks: Checks;
  ok: boolean;
}

function summarize(concurrency: number, rounds: Round[], zone: Deployment): PlacementStep {
  const joins = rounds.reduce((a, r) => a + r.latencies.length, 0);
  const wallSeconds = rounds.reduce((a, r) => a + r.wallSeconds, 0);
  const cpuSeconds: Record<string, number> = {};
  for (const r of rounds) for (const [name, s] of r.cpuSeconds) cpuSeconds[name] = (cpuSeconds[name] ?? 0) + s;
  const answers = zone.zcps.map((_, i) => {
    const merged = new Map<number, number>();
    for (const r of rounds) for (const [status, n] of r.answers[i] ?? []) merged.set(status, (merged.get(status) ?? 0) + n);
    return merged;
  });
  const answeredBy = answers.map((m) => [...m.values()].reduce((a, b) => a + b, 0));
  const per1000: Record<string, number> = {};
  zone.zcps.forEach((z, i) => (per1000[z.name] = ((cpuSeconds[z.name] ?? 0) * 1000) / Math.max(1, answeredBy[i] ?? 0)));
  per1000['zcp (both)'] = (zone.zcps.reduce((a, z) => a + (cpuSeconds[z.name] ?? 0), 0) * 1000) / joins;
  for (const name of Object.keys(cpuSeconds)) if (!name.startsWith('zcp-')) per1000[name] = ((cpuSeconds[name] ?? 0) * 1000) / joins;
  const zcpServerMs: PlacementStep['zcpServerMs'] = {};
  zone.zcps.forEach((z, i) => {
    const h = rounds.map((r) => r.serverTiming[i]).reduce<PromHistogram>(
      (acc, x) => (x ? { sum: acc.sum + x.sum, count: acc.count + x.count, buckets: x.buckets.map((b) => ({ le: b.le, count: b.count + (acc.buckets.find((a) => a.le === b.le)?.count ?? 0) })) } : acc),
      { sum: 0, count: 0, buckets: [] },
    );
    zcpServerMs[z.name] = { mean: h.count ? (h.sum * 1000) / h.count : Number.NaN, p50AtMost: promPercentileBound(h, 50) * 1000, p99AtMost: promPercentileBound(h, 99) * 1000 };
  });
  const errors: Record<string, number> = {};
  for (const r of rounds) for (const [e, n] of r.errors) errors[e] = (errors[e] ?? 0) + n;
  const checkNames = Object.keys(rounds[0]?.checks ?? {}) as (keyof Checks)[];
  const checks = Object.fromEntries(checkNames.map((k) => [k, rounds.every((r) => r.checks[k])])) as unknown as Checks;
  const machine = rounds.reduce((a, r) => ({ busy: a.busy + r.machine.busy, total: a.total + r.machine.total }), { busy: 0, total: 0 });
  const placed = rounds.reduce((a, r) => a + r.placed, 0);
  return {
    concurrency,
    rounds: rounds.length,
    joins,
    wallSeconds,
    joinsPerSecond: joins / wallSeconds,
    latencyMs: latencySummary(rounds.flatMap((r) => r.latencies)),
    zcpServerMs,
    answers: Object.fromEntries(zone.zcps.map((z, i) => [z.name, Object.fromEntries([...(answers[i] ?? new Map<number, number>())].map(([s, n]) => [String(s), n]))])),
    placed,
    cloud: rounds.reduce((a, r) => a + r.cloud, 0),
    failed: joins - placed,
    errors,
    perRound: rounds.map((r) => {
      const l = latencySummary(r.latencies);
      return { wallSeconds: r.wallSeconds, joinsPerSecond: r.latencies.length / r.wallSeconds, p50Ms: l.p50, p99Ms: l.p99, modules: r.modules, meetingsOnSeveralModules: r.meetingsOnSeveralModules, splitMeetings: r.splitMeetings };
    }),
    cpuSeconds,
    cpuSecondsPer1000Joins: per1000,
    deploymentCpuPercent: (Object.values(cpuSeconds).reduce((a, b) => a + b, 0) / wallSeconds / cpus().length) * 100,
    machineBusyPercent: machine.total > 0 ? (machine.busy / machine.total) * 100 : Number.NaN,
    checks,
    ok: rounds.length > 0 && checkNames.every((k) => checks[k]),
  };
}

async function runStep(zone: Deployment, meetings: readonly Meeting[], label: string, joins: number, concurrency: number, rounds: number): Promise<PlacementStep> {
  const done: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r > 0) await sleep(500);
    done.push(await runRound(zone, meetings, `${label}r${r}`, joins, concurrency));
  }
  return summarize(concurrency, done, zone);
}

export async function runPlacement(options: PlacementOptions): Promise<Record<string, unknown>> {
  const { log } = options;
  const started = performance.now();
  const zone = new Deployment({ modules: options.modules, capacityUnits: options.capacityUnits, ticketTtlMs: TICKET_TTL_MS, log: options.log });
  const steps: PlacementStep[] = [];
  let warmup: PlacementStep | undefined;
  let setupSeconds = 0;
  let error: string | undefined;
  const rss: Record<string, number> = {};
  const idleCpuPercent: Record<string, number> = {};
  try {
    await zone.start();
    const meetings: Meeting[] = [];
    // Modes alternate, so every stretch of joins has both.
    for (let i = 0; i < options.meetings; i++) {
      const mode = i % 2 === 0 ? 'internal-only' : 'cloud-hybrid';
      meetings.push({ id: (await zone.api<{ id: string }>('POST', '/v1/meetings', { topic: `Bench ${i}`, mode })).id, mode });
    }
    const internal = meetings.filter((m) => m.mode === 'internal-only').length;
    setupSeconds = (performance.now() - started) / 1000;
    log(`zone up in ${round(setupSeconds, 1)} s: control plane, ${zone.zcps.length} ZCPs, ${zone.modules.length} modules × ${options.capacityUnits} units, ${meetings.length} meetings (${internal} internal-only)`);
    if (options.warmupJoins > 0) {
      warmup = await runStep(zone, meetings, 'w', options.warmupJoins, 8, 1);
      log(`warm-up: ${warmup.joins} joins at 8 in flight, ${round(warmup.joinsPerSecond, 0)}/s, p50 ${round(warmup.latencyMs.p50, 1)} ms${warmup.ok ? '' : `  ✗ ${JSON.stringify(warmup.checks)}`}`);
    }
    // What the deployment costs doing nothing (module heartbeats, sweeps, timers): part of every step's CPU.
    const idleBefore = cpuSnapshot(zone.pids());
    const idleStart = performance.now();
    await sleep(3000);
    const idleAfter = cpuSnapshot(zone.pids());
    const idleSeconds = (performance.now() - idleStart) / 1000;
    for (const [name, after] of idleAfter) if (name !== 'bench') idleCpuPercent[name] = ((after - (idleBefore.get(name) ?? after)) / idleSeconds) * 100;
    log(`idle: ${Object.entries(idleCpuPercent).map(([name, pct]) => `${name} ${round(pct, 1)} %`).join(', ')}`);
    for (const [n, concurrency] of options.concurrency.entries()) {
      await sleep(1000);
      const step = await runStep(zone, meetings, `s${n}`, options.joins, concurrency, options.rounds);
      steps.push(step);
      const zcpCpu = zone.zcps.map((z) => `${z.name} ${round(step.cpuSecondsPer1000Joins[z.name] ?? Number.NaN, 2)}`).join(', ');
      const server = zone.zcps.map((z) => `${round(step.zcpServerMs[z.name]?.mean ?? Number.NaN, 1)}`).join(' / ');
      log(
        `${concurrency} in flight: ${step.joins} joins (${step.rounds} × ${options.joins}) in ${round(step.wallSeconds, 2)} s = ${round(step.joinsPerSecond, 0)}/s; ` +
          `p50 ${round(step.latencyMs.p50, 1)} ms, p90 ${round(step.latencyMs.p90, 1)}, p99 ${round(step.latencyMs.p99, 1)}, max ${round(step.latencyMs.max, 1)} (ZCP's own mean ${server} ms); ` +
          `CPU-s per 1,000 joins: ${zcpCpu}, redis ${round(step.cpuSecondsPer1000Joins['redis'] ?? Number.NaN, 2)}, bench ${round(step.cpuSecondsPer1000Joins['bench'] ?? Number.NaN, 2)}; ` +
          `deployment ${round(step.deploymentCpuPercent, 0)} %, machine ${round(step.machineBusyPercent, 0)} % of ${cpus().length} cores; ` +
          `meetings on 2+ modules per round: ${step.perRound.map((r) => r.meetingsOnSeveralModules).join('/')}` +
          `${step.ok ? '; checks ok' : `  ✗ ${JSON.stringify({ checks: step.checks, errors: step.errors, answers: step.answers })}`}`,
      );
    }
    for (const [name, pid] of zone.pids()) rss[name] = rssMibOf(pid);
  } catch (err) {
    error = (err as Error).message;
    log(`placement: ${error}`);
  } finally {
    await zone.stop();
  }
  return {
    scenario: `placement: SD joins through ${ZCP_IDS.length} ZCPs (alternating), ${options.modules} modules × ${options.capacityUnits} units, ${options.meetings} meetings (half internal-only, half cloud-hybrid); steps of ${options.rounds} × ${options.joins} joins at ${options.concurrency.join(', ')} in flight`,
    settings: { ...options, log: undefined, ticketTtlMs: TICKET_TTL_MS, serviceLogLevel: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn' },
    capacityBetweenRounds:
      'freed by the bench: every reservation of the round released in the cluster state (as a module does when participants leave), then every module back at 0 units; no restart, modules keep their configured capacity',
    setupSeconds: round(setupSeconds, 1),
    warmup: warmup ? rounded(warmup, 3) : null,
    /** Percent of one core each process uses idle (3 s after the warm-up, before the steps). */
    idleCpuPercent: rounded(idleCpuPercent, 1),
    steps: steps.map((s) => rounded(s, 3)),
    rssMibAtEnd: rounded(rss, 1),
    allChecksPassed: !error && steps.length === options.concurrency.length && steps.every((s) => s.ok) && (warmup?.ok ?? true),
    ...(error ? { error } : {}),
  };
}
