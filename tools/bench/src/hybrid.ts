/**
 * The hybrid scenario (issue [5] item 5; docs/performance.md, "Cascade: the
 * seeds' example at small scale"): the seeds' "a campus of 400 people in 25
 * meetings sends 25 streams out instead of 400", at a scale two cores hold:
 *
 *   node --import tsx tools/bench/src/main.ts --scenario hybrid > hybrid.json
 *     [--meetings 25] [--inside 3] [--guests 1] [--modules 2] [--workers 3]
 *     [--audio-pps 50] [--audio-bytes 160] [--video-pps 10] [--video-bytes 400]
 *     [--seconds 20] [--max-minutes 10] [--out FILE]
 *   npx nx run bench:hybrid [--meetings=3 ...]   (the JSON also goes to tmp/bench/hybrid.json)
 *
 * The deployment is deployment.ts with the cloud MMR: a private Redis, the
 * control plane (cloud meeting server, cloud zone controller), two ZCPs of
 * zone "hq", `--modules` edge modules and the cloud MMR, each its own
 * process on loopback; the ZCPs and modules are recorded in the control
 * plane's directory as an admin would.
 *
 * `--meetings` cloud-hybrid meetings. In each, `--inside` members join the
 * way the SDK's joinMeeting does: the control plane's join answer (signaling
 * URL, the zone's ZCPs), POST /v1/assign on a ZCP (the two alternating), the
 * media session on the module named, the cloud meeting server's signaling
 * with `media-attached` {module}. `--guests` outside guests per meeting:
 * POST /v1/meetings/:id/guest-join (a guest token, the signaling URL, the
 * cloud MMR's URL), the signaling with `media-attached` {cloud}, and the
 * media session straight at the cloud MMR. The guest-join answer carries no
 * media ticket for the cloud MMR yet, so the bench signs it with the zone's
 * ticket key, as a ZCP signs its cloud overflow. The cloud zone controller
 * turns the attachments into cascade needs, the ZCPs into SetCascade, and
 * each module holding a meeting opens one north–south link to the cloud MMR.
 *
 * Everyone publishes an audio-like stream (`--audio-pps` packets of
 * `--audio-bytes`, with an audio level) and a small video-like one, and
 * receives all the others (4 a meeting: the 3 others fill the 3 loudest-audio
 * slots). The participants run in `--workers` client processes
 * (meeting-worker.ts, werift), round-robin so a meeting spans processes; the
 * payloads carry scenario (b)'s stamps. After the links are up and every
 * server sees every track, the clients send for 3 s, then a window of
 * `--seconds`; the report reads every media server's GET /v1/stats before
 * and after it and the clients' counts.
 *
 * The report (stdout; progress on stderr): per module and for the cloud
 * MMR, the links (by meeting and peer), external streams, external bytes,
 * would-have-left bytes, saved bytes (since start and over the window); the
 * totals against the no-module case (every inside participant sending to and
 * receiving from the cloud itself: the would-have-left bytes) and their
 * ratio; the connections and streams that cross the network's edge with and
 * without modules; delivery (loss, latency); CPU per process; and the checks
 * (exit code 1 when one fails): every inside participant on a module; each
 * module holding a meeting that needs it has exactly one link for it, to the
 * cloud MMR, none to another module, and the cloud MMR the other end of each;
 * everyone received audio and video from every other of its meeting, the
 * guests' across the links; every cloud roster complete with media attached.
 */
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { assignInZone } from '@meetedge/client';
import { MeetingId, ModuleId, ParticipantId, ReservationId, signTicket, verifyAccessToken } from '@meetedge/core';
import { Worker, delivery, leaveAll } from './client-workers';
import { CLOUD_MMR_ID, Deployment, ZONE, type Service } from './deployment';
import { bandwidthDelta, checkLinks, expectedLinks, totalsOf, whoHeardWhom, type Placement, type ServerStats } from './hybrid-report';
import type { WorkerParticipant } from './meeting-worker';
import { argument } from './placement';
import { cpuSnapshot, forkNode, machineTicks, rssMibOf, sharedClockMs, sleep } from './proc';
import { lossPercent, round, rounded } from './stats';

export interface HybridOptions {
  meetings: number;
  /** Members per meeting inside the network (placed on modules by the ZCPs). */
  inside: number;
  /** Guests per meeting outside it (straight to the cloud MMR). */
  guests: number;
  modules: number;
  /** Client processes. */
  workers: number;
  audioPps: number;
  /** Audio payload bytes (the RTP packet is 12 more). */
  audioBytes: number;
  videoPps: number;
  videoBytes: number;
  /** The measured window, s. */
  seconds: number;
  log(message: string): void;
}

export interface HybridArgs extends Omit<HybridOptions, 'log'> {
  maxMinutes: number;
  out: string | undefined;
}

/** MEETEDGE_AUDIO_SLOTS of the media servers (their default): the loudest N audio streams each participant receives. */
const AUDIO_SLOTS = 3;
const CAPACITY_UNITS = 400;
/** The ZCPs' longest ticket lifetime: a slow join of 100 participants on two cores never outlives its ticket. */
const TICKET_TTL_MS = 600_000;

export function parseHybridArgs(argv: readonly string[]): HybridArgs {
  const num = (name: string, fallback: number) => Number(argument(argv, name) ?? fallback);
  const args: HybridArgs = {
    meetings: num('--meetings', 25),
    inside: num('--inside', 3),
    guests: num('--guests', 1),
    modules: num('--modules', 2),
    workers: num('--workers', 3),
    audioPps: num('--audio-pps', 50),
    audioBytes: num('--audio-bytes', 160),
    videoPps: num('--video-pps', 10),
    videoBytes: num('--video-bytes', 400),
    seconds: num('--seconds', 20),
    maxMinutes: num('--max-minutes', 10),
    out: argument(argv, '--out'),
  };
  for (const n of [args.meetings, args.inside, args.modules, args.workers, args.audioPps, args.videoPps, args.seconds, args.maxMinutes]) {
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`invalid number in arguments: ${argv.join(' ')}`);
  }
  if (!Number.isSafeInteger(args.guests) || args.guests < 0) throw new Error('--guests takes a count (0: nobody outside)');
  // The stamp needs 20 bytes (payload.ts).
  if (args.audioBytes < 20 || args.videoBytes < 20 || args.audioBytes > 1200 || args.videoBytes > 1200) throw new Error('--audio-bytes and --video-bytes: 20–1200');
  if (args.meetings * args.inside > args.modules * CAPACITY_UNITS) throw new Error(`${args.meetings * args.inside} inside participants do not fit ${args.modules} modules × ${CAPACITY_UNITS} units`);
  return args;
}

async function statsOf(service: Service): Promise<ServerStats> {
  const response = await fetch(`${service.url}/v1/stats`);
  if (!response.ok) throw new Error(`GET /v1/stats on ${service.name}: ${response.status}`);
  return (await response.json()) as ServerStats;
}

/** Each media server's /v1/stats, by name (modules, then the cloud MMR). */
async function snapshot(zone: Deployment): Promise<Record<string, ServerStats>> {
  const servers = [...zone.modules, ...(zone.cloudMmr ? [zone.cloudMmr] : [])];
  const all = await Promise.all(servers.map((s) => statsOf(s)));
  return Object.fromEntries(servers.map((s, i) => [s.name, all[i] as ServerStats]));
}

interface Planned {
  guest: boolean;
  placement: Placement;
  worker: Omit<WorkerParticipant, 'gallery'>;
}

/** The inside members' joins, the SDK's way: join answer, then a ZCP's placement (the ZCPs alternating). */
async function planMember(zone: Deployment, meetingId: string, userId: string, n: number): Promise<Planned> {
  const token = zone.memberToken(userId);
  const answer = await zone.api<{ signalingUrl?: string; zones: { id: string; zcpUrls: string[] }[] }>('POST', `/v1/meetings/${meetingId}/join`, {}, token);
  const zcpUrls = answer.zones.find((z) => z.id === ZONE)?.zcpUrls ?? [];
  if (!answer.signalingUrl || zcpUrls.length === 0) throw new Error(`the join answer of ${meetingId} names no signaling URL or no ZCP of zone ${ZONE}`);
  const assignment = await assignInZone(n % 2 === 0 ? zcpUrls : [...zcpUrls].reverse(), token, { meetingId, quality: 'SD' });
  const where = assignment.cloud ? ({ kind: 'cloud' } as const) : ({ kind: 'module', moduleId: assignment.moduleId } as const);
  return {
    guest: false,
    placement: { meetingId, participantId: userId, serverId: assignment.moduleId, cloud: assignment.cloud },
    worker: { meetingId, participantId: userId, ticket: assignment.ticket, speaker: true, mediaUrl: assignment.mediaUrl, signal: { url: answer.signalingUrl, token, where } },
  };
}

/** A guest: guest-join, then a media ticket for the cloud MMR signed with the zone's key (see the header). */
async function planGuest(zone: Deployment, meetingId: string, displayName: string): Promise<Planned> {
  const answer = await zone.api<{ accessToken: string; signalingUrl?: string; cloudMmrUrl?: string }>('POST', `/v1/meetings/${meetingId}/guest-join`, { displayName }, null);
  if (!answer.signalingUrl || !answer.cloudMmrUrl) throw new Error(`the guest-join answer of ${meetingId} names no signaling URL or cloud MMR`);
  const claims = verifyAccessToken(answer.accessToken, zone.tokenKeys.publicKey, Date.now());
  if (claims.kind !== 'guest') throw new Error('guest-join answered a token that is not a guest token');
  const issuedAt = Date.now();
  const ticket = signTicket(
    { ticketId: ReservationId(randomUUID()), meetingId: MeetingId(meetingId), participantId: ParticipantId(claims.guestId), moduleId: ModuleId(CLOUD_MMR_ID), quality: 'SD', mode: 'cloud-hybrid', displayName, issuedAt, expiresAt: issuedAt + TICKET_TTL_MS },
    zone.ticketKeys.privateKey,
  );
  return {
    guest: true,
    placement: { meetingId, participantId: claims.guestId, serverId: CLOUD_MMR_ID, cloud: true },
    worker: { meetingId, participantId: claims.guestId, ticket, speaker: true, mediaUrl: answer.cloudMmrUrl, signal: { url: answer.signalingUrl, token: answer.accessToken, where: { kind: 'cloud' } } },
  };
}

/** Resolves once every media server sees all the tracks of each of its meetings (the links carry the rest) and the links expected are open. */
async function untilCascaded(zone: Deployment, tracksPerMeeting: number, links: number, log: (m: string) => void, timeoutMs: number): Promise<Record<string, ServerStats>> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  for (;;) {
    const stats = await snapshot(zone);
    const onModules = zone.modules.reduce((a, s) => a + (stats[s.name]?.links.length ?? 0), 0);
    const short = Object.entries(stats).flatMap(([name, s]) => s.meetings.filter((m) => m.participants > 0 && m.tracks < tracksPerMeeting).map((m) => `${name}/${m.meetingId} ${m.tracks}`));
    const state = `${onModules}/${links} links on the modules; ${short.length} meetings short of ${tracksPerMeeting} tracks`;
    if (short.length === 0 && onModules === links) return stats;
    if (state !== last) log(`waiting: ${state}`);
    last = state;
    if (performance.now() > deadline) throw new Error(`not cascaded within ${timeoutMs / 1000} s: ${state} (${short.slice(0, 5).join(', ')})`);
    await sleep(500);
  }
}

/** The figures of one media server for the report. */
function serverFigures(name: string, after: ServerStats, before: ServerStats, windowS: number) {
  const m = after.module;
  const delta = bandwidthDelta(before.module, m);
  const ns = m.cascade['north-south'];
  return {
    links: after.links.length,
    linksByPeer: after.links.reduce<Record<string, number>>((a, l) => ({ ...a, [l.peerServerId]: (a[l.peerServerId] ?? 0) + 1 }), {}),
    meetings: after.meetings.filter((x) => x.participants > 0 || x.externalStreams > 0).length,
    participants: after.meetings.reduce((a, x) => a + x.participants, 0),
    externalStreams: m.externalStreams,
    linkStreamsOut: after.links.reduce((a, l) => a + l.streamsOut, 0),
    linkStreamsIn: after.links.reduce((a, l) => a + l.streamsIn, 0),
    externalBytes: m.externalBytes,
    wouldHaveLeftBytes: m.wouldHaveLeftBytes,
    savedBytes: m.savedBytes,
    clientBytes: { in: m.client.bytesIn, out: m.client.bytesOut },
    northSouthBytes: { in: ns.bytesIn, out: ns.bytesOut },
    window: {
      ...delta,
      externalKbps: (delta.externalBytes * 8) / 1000 / windowS,
      wouldHaveLeftKbps: (delta.wouldHaveLeftBytes * 8) / 1000 / windowS,
      savedKbps: (delta.savedBytes * 8) / 1000 / windowS,
    },
    name,
  };
}

export async function runHybrid(options: HybridOptions): Promise<Record<string, unknown>> {
  const { log } = options;
  const started = performance.now();
  const zone = new Deployment({ modules: options.modules, capacityUnits: CAPACITY_UNITS, ticketTtlMs: TICKET_TTL_MS, cloud: true, log });
  const workers: Worker[] = [];
  const perMeeting = options.inside + options.guests;
  let error: string | undefined;
  let report: Record<string, unknown> = {};
  try {
    await zone.start();
    const planned: Planned[] = [];
    for (let m = 0; m < options.meetings; m++) {
      const { id } = await zone.api<{ id: string }>('POST', '/v1/meetings', { topic: `Hybrid ${m}`, mode: 'cloud-hybrid' });
      for (let i = 0; i < options.inside; i++) planned.push(await planMember(zone, id, `u${m}-${i}`, planned.length));
      for (let g = 0; g < options.guests; g++) planned.push(await planGuest(zone, id, `Guest ${m}-${g}`));
    }
    const placements = planned.map((p) => p.placement);
    const expected = expectedLinks(placements);
    const expectedLinkCount = [...expected.values()].reduce((a, s) => a + s.size, 0);
    const perModule = zone.modules.map((s) => `${s.name} ${new Set(placements.filter((p) => p.serverId === s.name).map((p) => p.meetingId)).size} meetings`);
    log(`${planned.length} participants planned in ${round((performance.now() - started) / 1000, 1)} s: ${perModule.join(', ')}; ${expectedLinkCount} links expected`);

    const byMeeting = new Map<string, string[]>();
    for (const p of placements) byMeeting.set(p.meetingId, [...(byMeeting.get(p.meetingId) ?? []), p.participantId]);
    const shares: WorkerParticipant[][] = Array.from({ length: options.workers }, () => []);
    planned.forEach((p, i) =>
      shares[i % options.workers]?.push({ ...p.worker, gallery: (byMeeting.get(p.placement.meetingId) ?? []).filter((id) => id !== p.placement.participantId) }),
    );
    for (let w = 0; w < options.workers; w++) workers.push(new Worker(forkNode('tools/bench/src/meeting-worker.ts', 60 * 60_000)));
    const joinStart = performance.now();
    await Promise.all(workers.map((w, i) => w.ask({ type: 'setup', url: '', participants: shares[i] ?? [] }, 'joined', 600_000)));
    log(`all joined (media, signaling, media-attached) in ${round((performance.now() - joinStart) / 1000, 1)} s; waiting for the links`);
    await untilCascaded(zone, 2 * perMeeting, expectedLinkCount, log, 120_000);
    const ready = await Promise.all(workers.map((w) => w.ask({ type: 'subscribe' }, 'ready', 600_000)));
    const rejoins = ready.reduce((a, r) => a + r.rejoins, 0);
    const setupSeconds = (performance.now() - started) / 1000;
    log(`everyone receiving after ${round(setupSeconds, 1)} s (${rejoins} sessions joined again); sending`);

    for (const w of workers) w.send({ type: 'send', videoPps: options.videoPps, audioPps: options.audioPps, videoPayloadBytes: options.videoBytes, audioPayloadBytes: options.audioBytes });
    await sleep(3000);
    const fromMs = sharedClockMs() + 500;
    for (const w of workers) w.send({ type: 'window', fromMs, toMs: fromMs + options.seconds * 1000 });
    await sleep(500);
    const before = await snapshot(zone);
    const cpuBefore = cpuSnapshot(zone.pids());
    const workerPids = new Map(workers.map((w, i) => [`clients-${i + 1}`, w.process.pid ?? -1]));
    const workersBefore = cpuSnapshot(workerPids);
    const machineBefore = machineTicks();
    const t0 = performance.now();
    await sleep(options.seconds * 1000);
    const after = await snapshot(zone);
    const windowS = (performance.now() - t0) / 1000;
    const cpuAfter = cpuSnapshot(zone.pids());
    const workersAfter = cpuSnapshot(workerPids);
    const machineAfter = machineTicks();
    await sleep(1500);
    const reports = await Promise.all(workers.map((w) => w.ask({ type: 'report' }, 'report', 60_000)));

    const cloud = after[CLOUD_MMR_ID] as ServerStats;
    const modules = Object.fromEntries(zone.modules.map((s) => [s.name, after[s.name] as ServerStats]));
    const links = checkLinks(modules, cloud, CLOUD_MMR_ID, expected);
    const heard = whoHeardWhom(placements, reports, AUDIO_SLOTS);
    const got = delivery(reports);
    const figures = Object.fromEntries([...zone.modules, zone.cloudMmr as Service].map((s) => [s.name, serverFigures(s.name, after[s.name] as ServerStats, before[s.name] as ServerStats, windowS)]));
    const moduleFigures = zone.modules.map((s) => figures[s.name] as ReturnType<typeof serverFigures>);
    const sinceStart = totalsOf(moduleFigures);
    const window = totalsOf(moduleFigures.map((f) => f.window));
    const insideCount = placements.filter((p) => !p.cloud).length;
    const cpuSeconds: Record<string, number> = {};
    for (const [name, v] of [...cpuAfter, ...workersAfter]) cpuSeconds[name] = v - (cpuBefore.get(name) ?? workersBefore.get(name) ?? v);
    // cpuSnapshot adds the bench under 'bench' to both maps: counted once.
    cpuSeconds['bench'] = (cpuAfter.get('bench') ?? 0) - (cpuBefore.get('bench') ?? 0);
    const checks = {
      everyInsideParticipantOnAModule: planned.every((p) => p.guest || (!p.placement.cloud && zone.modules.some((s) => s.name === p.placement.serverId))),
      oneLinkPerMeetingPerModule: links.oneLinkPerMeetingPerModule,
      noModuleToModuleLink: links.noModuleToModuleLink,
      cloudHoldsEveryLink: links.cloudHoldsEveryLink,
      everyoneReceivedEveryone: heard.everyoneHeardEveryone,
      acrossTheLink: heard.acrossTheLink,
      rosterComplete: heard.rosterComplete,
      savedSomething: options.guests === 0 || sinceStart.savedBytes > 0,
    };
    report = {
      setupSeconds: round(setupSeconds, 1),
      rejoinsDuringSetup: rejoins,
      windowSeconds: round(windowS, 2),
      servers: rounded(figures, 1),
      links: { expected: expectedLinkCount, onModules: moduleFigures.reduce((a, f) => a + f.links, 0), onCloudMmr: cloud.links.length, problems: links.problems },
      bandwidth: {
        what: 'modules summed: externalBytes = their north–south links, both ways (what crossed the network edge); wouldHaveLeftBytes = their participants’ client links (what would have crossed without modules: every inside participant sending to and receiving from the cloud); RTP header + payload bytes',
        sinceStart: rounded(sinceStart, 2),
        window: rounded({ ...window, externalKbps: (window.externalBytes * 8) / 1000 / windowS, wouldHaveLeftKbps: (window.wouldHaveLeftBytes * 8) / 1000 / windowS }, 2),
        cloudMmrExternalBytes: cloud.module.externalBytes,
      },
      crossingTheEdge: {
        connections: { withModules: moduleFigures.reduce((a, f) => a + f.links, 0), withoutModules: insideCount },
        streams: {
          withModules: { out: moduleFigures.reduce((a, f) => a + f.linkStreamsOut, 0), in: moduleFigures.reduce((a, f) => a + f.linkStreamsIn, 0) },
          withoutModules: { out: heard.insideStreams.published, in: heard.insideStreams.received },
        },
      },
      delivery: {
        expectedPackets: got.expectedPackets,
        receivedPackets: got.receivedPackets,
        lossPercent: round(lossPercent(got.expectedPackets, got.receivedPackets), 3),
        latencyP50Ms: round(got.latency.percentile(50), 2),
        latencyP99Ms: round(got.latency.percentile(99), 2),
        duplicates: got.duplicates,
        missing: heard.missing.slice(0, 20),
        missingCount: heard.missing.length,
      },
      cpuPercent: rounded(Object.fromEntries(Object.entries(cpuSeconds).map(([k, v]) => [k, (v / windowS) * 100])), 1),
      machineBusyPercent: round(((machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total)) * 100, 1),
      rssMib: rounded(Object.fromEntries([...zone.pids()].map(([name, pid]) => [name, rssMibOf(pid)])), 0),
      checks,
      allChecksPassed: Object.values(checks).every(Boolean),
    };
    const t = sinceStart;
    log(
      `window ${round(windowS, 1)} s: external ${round(window.externalBytes / 1e6, 2)} MB vs would-have-left ${round(window.wouldHaveLeftBytes / 1e6, 2)} MB (×${round(window.ratio, 2)}); ` +
        `since start ×${round(t.ratio, 2)}, saved ${round(t.savedPercent, 1)} %; links ${moduleFigures.reduce((a, f) => a + f.links, 0)}/${expectedLinkCount}; ` +
        `loss ${round(lossPercent(got.expectedPackets, got.receivedPackets), 3)} %; checks ${Object.values(checks).every(Boolean) ? 'ok' : `✗ ${JSON.stringify(checks)} ${links.problems.slice(0, 5).join('; ')} ${heard.missing.slice(0, 5).join('; ')}`}`,
    );
  } catch (err) {
    error = (err as Error).message;
    log(`hybrid: ${error}`);
  } finally {
    await leaveAll(workers);
    await zone.stop();
  }
  return {
    scenario: `hybrid: ${options.meetings} cloud-hybrid meetings × (${options.inside} inside on ${options.modules} modules + ${options.guests} guests on the cloud MMR), through ${2} ZCPs; audio ${options.audioPps} × ${options.audioBytes} B/s, video ${options.videoPps} × ${options.videoBytes} B/s per participant`,
    settings: { ...options, log: undefined, audioSlots: AUDIO_SLOTS, capacityUnits: CAPACITY_UNITS, cpus: cpus().length },
    ...report,
    ...(error ? { error, allChecksPassed: false } : {}),
  };
}
