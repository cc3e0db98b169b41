/**
 * Scenario (b): the module's rated load (docs/performance.md). M meetings ×
 * P participants on one module (25 × 16 = 400 SD units by default). Every
 * participant publishes a camera (~300 kbit/s at full scale) and keeps a
 * gallery of 4 other cameras (the other videos paused, as a gallery page
 * does); 3 speakers per meeting publish audio (50 packets/s), everyone else
 * is muted, so everyone hears the (other) speakers through the module's
 * loudest-N audio slots: ~1.2 Mbit/s down per participant at full scale.
 *
 * Participants live in W client processes (meeting-worker.ts), the module in
 * its own. This 2-core machine cannot carry the full packet rate, so the
 * rates are scaled (`--scales`, fractions of the full rate, stepped up until
 * loss passes 0.5 %): the topology — 400 connections, 25 meetings, gallery
 * pauses, speaker slots — is always the full one.
 */
import { performance } from 'node:perf_hooks';
import { Worker, delivery, leaveAll } from './client-workers';
import type { FromWorker, WorkerParticipant } from './meeting-worker';
import { cpuSecondsOf, forkNode, rssMibOf, sharedClockMs, sleep, stopChild } from './proc';
import { cpuSecondsPer1000, lossPercent, round } from './stats';
import { startModule } from './targets';

export interface ScenarioBOptions {
  meetings: number;
  perMeeting: number;
  speakers: number;
  gallery: number;
  workers: number;
  /** Fractions of the full rate to step through. */
  scales: number[];
  stepSeconds: number;
  /** Full-scale camera bitrate, kbit/s, and packet payload size. */
  videoKbps: number;
  videoPayloadBytes: number;
  /** Full-scale audio packets/s of a speaker. */
  audioPps: number;
  log(message: string): void;
}

/** The most loss a step may show and still count as held (the bar for this scenario). */
export const SCENARIO_B_MAX_LOSS_PERCENT = 0.5;

/** Who is in which meeting, who speaks, whose camera each keeps in its gallery. */
export function planMeetings(options: Pick<ScenarioBOptions, 'meetings' | 'perMeeting' | 'speakers' | 'gallery'>): Omit<WorkerParticipant, 'ticket'>[] {
  const pad = (n: number) => String(n).padStart(2, '0');
  const plan: Omit<WorkerParticipant, 'ticket'>[] = [];
  for (let m = 0; m < options.meetings; m++) {
    const ids = Array.from({ length: options.perMeeting }, (_, p) => `p${pad(m)}-${pad(p)}`);
    ids.forEach((participantId, p) => {
      const galleryCount = Math.min(options.gallery, options.perMeeting - 1);
      plan.push({
        meetingId: `m${pad(m)}`,
        participantId,
        speaker: p < options.speakers,
        // The next participants round the table: every camera is someone's gallery.
        gallery: Array.from({ length: galleryCount }, (_, k) => ids[(p + 1 + k) % options.perMeeting] as string),
      });
    });
  }
  return plan;
}

export interface ScenarioBStep {
  scale: number;
  videoPps: number;
  audioPps: number;
  inPps: number;
  outPps: number;
  downKbpsPerParticipant: number;
  cpuPercent: number;
  cpuSecondsPer1000: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  expectedPackets: number;
  receivedPackets: number;
  lossPercent: number;
  /** Packets of tracks a participant should not get (paused cameras, its own): the module's rules leaking. */
  unexpectedPackets: number;
  duplicates: number;
  rssMib: number;
  held: boolean;
}

export async function runScenarioB(options: ScenarioBOptions): Promise<Record<string, unknown>> {
  const { log } = options;
  const started = performance.now();
  const participants = options.meetings * options.perMeeting;
  const module = await startModule(400);
  const workers: Worker[] = [];
  const steps: ScenarioBStep[] = [];
  let setupSeconds = 0;
  let rejoins = 0;
  let error: string | undefined;
  try {
    const plan = planMeetings(options);
    const shares: WorkerParticipant[][] = Array.from({ length: options.workers }, () => []);
    // Round-robin: the participants of one meeting sit in different processes.
    plan.forEach((p, i) => shares[i % options.workers]?.push({ ...p, ticket: module.ticket(p.meetingId, p.participantId) }));
    for (let w = 0; w < options.workers; w++) workers.push(new Worker(forkNode('tools/bench/src/meeting-worker.ts', 60 * 60_000)));
    log(`scenario b: ${options.meetings} meetings × ${options.perMeeting} = ${participants} participants in ${options.workers} client processes; joining`);
    const joined = await Promise.all(workers.map((w, i) => w.ask({ type: 'setup', url: module.mediaUrl, participants: shares[i] ?? [] }, 'joined', 600_000)));
    rejoins = joined.reduce((a, j) => a + j.rejoins, 0);
    log(`all joined and published in ${round((performance.now() - started) / 1000, 1)} s (${rejoins} sessions failed and joined again); subscribing`);
    const ready = await Promise.all(workers.map((w) => w.ask({ type: 'subscribe' }, 'ready', 600_000)));
    rejoins = ready.reduce((a, r) => a + r.rejoins, 0);
    setupSeconds = round((performance.now() - started) / 1000, 1) as number;
    const units = (await module.stats()).usedUnits;
    if (process.env.BENCH_DEBUG) {
      const all = (await (await fetch(`${module.base}/v1/stats`)).json()) as Record<string, unknown>;
      log(`module stats: ${JSON.stringify({ ...all, meetings: undefined })}`);
    }
    log(`${participants} participants receiving after ${setupSeconds} s (${rejoins} sessions failed during setup and joined again); module holds ${units} units, RSS ${round(rssMibOf(module.pid), 0)} MiB`);

    const videoPacketsPerSecond = (options.videoKbps * 1000) / 8 / options.videoPayloadBytes;
    for (const scale of options.scales) {
      const videoPps = videoPacketsPerSecond * scale;
      const audioPps = options.audioPps * scale;
      for (const w of workers) w.send({ type: 'send', videoPps, audioPps, videoPayloadBytes: options.videoPayloadBytes });
      // Settle (keyframe requests answered, layers chosen), then measure a window of stamps.
      await sleep(3000);
      const fromMs = sharedClockMs() + 500;
      const toMs = fromMs + options.stepSeconds * 1000;
      for (const w of workers) w.send({ type: 'window', fromMs, toMs });
      await sleep(500);
      const before = await module.stats();
      const cpuBefore = cpuSecondsOf(module.pid);
      const t0 = performance.now();
      await sleep(options.stepSeconds * 1000);
      const after = await module.stats();
      const cpuSeconds = cpuSecondsOf(module.pid) - cpuBefore;
      const windowS = (performance.now() - t0) / 1000;
      // Late packets of the window still count.
      await sleep(1500);
      const reports = await Promise.all(workers.map((w) => w.ask({ type: 'report' }, 'report', 60_000)));
      steps.push(summarize(scale, videoPps, audioPps, reports, { before, after, cpuSeconds, windowS, rssMib: rssMibOf(module.pid) }));
      const step = steps[steps.length - 1] as ScenarioBStep;
      log(
        `scale ${scale}: video ${round(videoPps, 1)} + audio ${round(audioPps, 1)} packets/s each; in ${round(step.inPps, 0)}/s, out ${round(step.outPps, 0)}/s, ` +
          `CPU ${round(step.cpuPercent, 0)} % (${round(step.cpuSecondsPer1000, 4)} s/1k), p50 ${round(step.latencyP50Ms, 2)} ms, p99 ${round(step.latencyP99Ms, 2)} ms, ` +
          `loss ${round(step.lossPercent, 3)} % (${step.receivedPackets}/${step.expectedPackets}), unexpected ${step.unexpectedPackets}${step.held ? '' : '  ← past 0.5 % loss'}`,
      );
      if (!step.held) break;
    }
  } catch (err) {
    error = (err as Error).message;
    log(`scenario b: ${error}`);
  } finally {
    await leaveAll(workers);
    await stopChild(module.child);
  }
  const held = steps.filter((s) => s.held);
  return {
    scenario: `b: ${options.meetings} meetings × ${options.perMeeting} participants, gallery of ${options.gallery}, ${options.speakers} speakers each`,
    settings: { ...options, log: undefined, maxLossPercent: SCENARIO_B_MAX_LOSS_PERCENT },
    setupSeconds,
    rejoinsDuringSetup: rejoins,
    steps: steps.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? round(v, 3) : v]))),
    highestHeldScale: held.length ? (held[held.length - 1] as ScenarioBStep).scale : null,
    ...(error ? { error } : {}),
  };
}

function summarize(
  scale: number,
  videoPps: number,
  audioPps: number,
  reports: Extract<FromWorker, { type: 'report' }>[],
  module: {
    before: { packetsIn: number; packetsOut: number; bytesOut: number };
    after: { packetsIn: number; packetsOut: number; bytesOut: number };
    cpuSeconds: number;
    windowS: number;
    rssMib: number;
  },
): ScenarioBStep {
  const { expectedPackets, receivedPackets, unexpectedPackets, participants, latency, duplicates } = delivery(reports);
  const forwarded = module.after.packetsOut - module.before.packetsOut;
  const loss = lossPercent(expectedPackets, receivedPackets);
  return {
    scale,
    videoPps,
    audioPps,
    inPps: (module.after.packetsIn - module.before.packetsIn) / module.windowS,
    outPps: forwarded / module.windowS,
    downKbpsPerParticipant: participants ? ((module.after.bytesOut - module.before.bytesOut) * 8) / 1000 / module.windowS / participants : 0,
    cpuPercent: (module.cpuSeconds / module.windowS) * 100,
    cpuSecondsPer1000: cpuSecondsPer1000(module.cpuSeconds, forwarded),
    latencyP50Ms: latency.percentile(50),
    latencyP99Ms: latency.percentile(99),
    expectedPackets,
    receivedPackets,
    lossPercent: loss,
    unexpectedPackets,
    duplicates,
    rssMib: module.rssMib,
    held: expectedPackets > 0 && loss <= SCENARIO_B_MAX_LOSS_PERCENT && unexpectedPackets === 0,
  };
}
