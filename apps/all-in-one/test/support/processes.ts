/**
 * Running the apps as real processes in tests, the way an operator runs them
 * (`node --import tsx apps/<app>/src/main.ts` with an environment), and
 * reading what they print.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitFor } from '@meetedge/test-kit';

/** A free TCP port on 127.0.0.1, for a service that must know its port before it starts. */
export { freeTcpPort as freePort } from '@meetedge/test-kit';

const root = path.resolve(__dirname, '../../../..');

export interface Run {
  readonly app: string;
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

/** Starts `apps/<app>/src/main.ts` with exactly `env` plus the parent's non-MEETEDGE variables. */
export function run(app: string, env: Record<string, string>): Run {
  // Only the variables a process needs: a MEETEDGE_* variable of the CI
  // environment must not leak in (it would be refused as unknown).
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MEETEDGE_')));
  const child = spawn(process.execPath, ['--import', 'tsx', `apps/${app}/src/main.ts`], {
    cwd: root,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Run = { app, child, stdout: [], stderr: [], exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  child.stdout?.on('data', (d: Buffer) => out.stdout.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => out.stderr.push(d.toString()));
  return out;
}

/** The service URLs from the JSON log line `started`. */
export async function startedUrls(r: Run, timeoutMs = 20_000): Promise<Record<string, string>> {
  let urls: Record<string, string> | undefined;
  await waitFor(
    () => {
      for (const line of r.stdout.join('').split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; services?: Record<string, string> };
        if (entry.msg === 'started') urls = entry.services;
      }
      if (r.child.exitCode !== null) throw new Error(`${r.app} exited early: ${r.stderr.join('')}`);
      return urls !== undefined;
    },
    { timeoutMs, description: `${r.app} started` },
  );
  if (!urls) throw new Error('no started line');
  return urls;
}

/** Kills a process (SIGKILL unless told otherwise) and waits for it to exit. */
export async function kill(r: Run, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill(signal);
  await r.exited;
}
