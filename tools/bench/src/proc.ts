/** Child processes, free ports and /proc readings for the bench (Linux). */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { freeTcpPort } from '@meetedge/test-kit';
import { cpuSecondsOfProcStat, machineTicksOfProcStat, rssMibOfProcStatus } from './stats';

export const WORKSPACE_ROOT = path.resolve(__dirname, '../../..');
const WATCHDOG = path.join(__dirname, 'watchdog.ts');

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export { freeTcpPort };

/** A port free for both UDP and TCP on 127.0.0.1 (the media port takes both). */
export async function freeUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        const p = socket.address().port;
        socket.close(() => resolve(p));
      });
    });
    const tcpFree = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (tcpFree) return port;
  }
  throw new Error('no free UDP+TCP port');
}

/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC, which every
 * process of the machine shares): stamps written in one process compare with
 * times read in another. Not `performance.timeOrigin + performance.now()`:
 * each process fixes its timeOrigin from the wall clock at start, and a wall
 * clock that steps (NTP, a VM) puts processes seconds apart.
 */
export function sharedClockMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function cpuSecondsOf(pid: number): number {
  return cpuSecondsOfProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** CPU-seconds of each measured process, and of the bench (process.cpuUsage). */
export function cpuSnapshot(pids: Map<string, number>): Map<string, number> {
  const snapshot = new Map<string, number>();
  for (const [name, pid] of pids) {
    try {
      snapshot.set(name, cpuSecondsOf(pid));
    } catch {
      // ended: no figure
    }
  }
  const own = process.cpuUsage();
  snapshot.set('bench', (own.user + own.system) / 1e6);
  return snapshot;
}

export function rssMibOf(pid: number): number {
  return rssMibOfProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/**
 * Pids of the direct children of `parent` whose command name (/proc/<pid>/stat
 * `comm`) is `name`: a process a library started for the bench (e.g. the
 * redis-server of @meetedge/test-kit) without telling its pid.
 */
export function childPidsNamed(name: string, parent = process.pid): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (comm === name && ppid === parent) pids.push(Number(entry));
  }
  return pids;
}

const children = new Set<ChildProcess>();

/**
 * Spawns `node --import tsx --import watchdog.ts <script>` in the workspace
 * root. Its stdout and stderr go to the bench's stderr (the bench's stdout
 * is the JSON report). It ends by itself when the bench goes away.
 */
export function spawnNode(script: string, env: Record<string, string>, lifetimeMs: number): ChildProcess {
  // The module refuses unknown MEETEDGE_* variables: pass only the ones given.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MEETEDGE_')));
  // e.g. BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=tmp/bench-prof" profiles the forwarders, not the bench.
  const extra = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', '--import', WATCHDOG, script], {
    cwd: WORKSPACE_ROOT,
    env: {
      ...base,
      ...env,
      BENCH_WATCH_STDIN: '1',
      BENCH_MAX_LIFETIME_MS: String(lifetimeMs),
    },
    stdio: ['pipe', 2, 2],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Like `spawnNode`, with an IPC channel to the bench (`process.send` /
 * 'message' in the child) for client processes the bench drives.
 */
export function forkNode(script: string, lifetimeMs: number): ChildProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MEETEDGE_')));
  const child = fork(path.join(WORKSPACE_ROOT, script), [], {
    cwd: WORKSPACE_ROOT,
    // e.g. BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=tmp/worker-prof" profiles the client processes.
    execArgv: [...(process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', '--import', WATCHDOG],
    env: { ...base, BENCH_WATCH_STDIN: '1', BENCH_MAX_LIFETIME_MS: String(lifetimeMs) },
    stdio: ['pipe', 2, 2, 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Kills every child still running (sync: usable from process 'exit'). */
export function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Polls `url` until it answers 200, or throws after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`process ${child.pid} exited before ${url} answered`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Busy and total ticks of the whole machine (/proc/stat): other users' processes count too. */
export function machineTicks(): { busy: number; total: number } {
  return machineTicksOfProcStat(readFileSync('/proc/stat', 'utf8'));
}
