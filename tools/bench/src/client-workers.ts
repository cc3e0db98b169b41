/** The bench's side of its client processes (meeting-worker.ts), for scenario (b) and the hybrid scenario. */
import type { ChildProcess } from 'node:child_process';
import type { FromWorker, ToWorker } from './meeting-worker';
import { sleep, stopChild } from './proc';
import { LatencyHistogram } from './stats';

export class Worker {
  private readonly waiting = new Map<string, (message: FromWorker) => void>();
  private failure: string | undefined;

  constructor(readonly process: ChildProcess) {
    process.on('message', (message: FromWorker) => {
      if (message.type === 'failed') {
        this.failure = message.error;
        for (const resolve of this.waiting.values()) resolve(message);
        return;
      }
      this.waiting.get(message.type)?.(message);
    });
    process.once('exit', (code) => {
      this.failure ??= `client process exited (${code})`;
      for (const resolve of this.waiting.values()) resolve({ type: 'failed', error: this.failure });
    });
  }

  send(message: ToWorker): void {
    this.process.send(message);
  }

  /** Sends `message` and waits for the reply of type `reply`. */
  async ask<T extends FromWorker['type']>(message: ToWorker, reply: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    if (this.failure) throw new Error(this.failure);
    const answer = new Promise<FromWorker>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${reply} from a client process within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(reply, (m) => {
        clearTimeout(timer);
        this.waiting.delete(reply);
        resolve(m);
      });
    });
    this.send(message);
    const m = await answer;
    if (m.type === 'failed') throw new Error(m.error);
    return m as Extract<FromWorker, { type: T }>;
  }
}

/** Every client leaves (its sessions closed), then its process ends (killed after 10 s). */
export async function leaveAll(workers: readonly Worker[]): Promise<void> {
  await Promise.allSettled(
    workers.map(async (w) => {
      if (w.process.exitCode !== null || w.process.signalCode !== null) return;
      const exited = new Promise((r) => w.process.once('exit', r));
      w.send({ type: 'leave' });
      await Promise.race([exited, sleep(10_000)]);
      await stopChild(w.process);
    }),
  );
}

type Report = Extract<FromWorker, { type: 'report' }>;

/** What the client processes' reports of one window add up to. */
export interface Delivery {
  /** Packets sent inside the window on the tracks each participant should receive, summed over the receivers. */
  expectedPackets: number;
  receivedPackets: number;
  /** Packets of tracks a participant should not get (paused cameras, its own). */
  unexpectedPackets: number;
  participants: number;
  latency: LatencyHistogram;
  duplicates: number;
  /** Packets sent inside the window, by track id. */
  sent: Map<string, number>;
}

export function delivery(reports: readonly Report[]): Delivery {
  const sent = new Map<string, number>();
  for (const r of reports) for (const [trackId, n] of Object.entries(r.sent)) sent.set(trackId, (sent.get(trackId) ?? 0) + n);
  let expectedPackets = 0;
  let receivedPackets = 0;
  let unexpectedPackets = 0;
  let participants = 0;
  const latency = new LatencyHistogram();
  for (const r of reports) {
    latency.merge(r.latency);
    for (const [participantId, tracks] of Object.entries(r.expected)) {
      participants++;
      const got = r.received[participantId] ?? {};
      const wanted = new Set(tracks);
      for (const trackId of wanted) {
        expectedPackets += sent.get(trackId) ?? 0;
        receivedPackets += Math.min(got[trackId] ?? 0, sent.get(trackId) ?? 0);
      }
      for (const [trackId, n] of Object.entries(got)) if (!wanted.has(trackId)) unexpectedPackets += n;
    }
  }
  return { expectedPackets, receivedPackets, unexpectedPackets, participants, latency, duplicates: reports.reduce((a, r) => a + r.duplicates, 0), sent };
}
