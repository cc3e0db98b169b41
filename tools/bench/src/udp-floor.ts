/**
 * The floor under both forwarders at N = 1: a bare Node UDP relay (receive a
 * datagram, send it on; no ICE, DTLS, SRTP or RTP) in its own process, fed
 * ~1,100-byte datagrams paced on a 1 ms timer as scenario (a)'s publisher
 * is. What it costs per datagram is what Node's dgram, libuv's event loop and
 * the kernel's loopback charge before any media work: neither forwarder can
 * go below it.
 *
 *   node --import tsx tools/bench/src/udp-floor.ts [--rates 500,1000,2000,4000,8000] [--step-seconds 5] [--batch | --native]
 *
 * `--batch` relays with the native fast path's sendmmsg batch (libs/fastpath)
 * instead of `dgram.send`, as the module does. `--native` measures a relay
 * that never enters Node (tools/bench/native/udp-relay.c: poll, recvmmsg,
 * sendmmsg; built here with `cc -O2`): the floor of a native data plane.
 * JSON on stdout.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { destination, loadFastPath } from '@meetedge/fastpath';
import { WORKSPACE_ROOT, cpuSecondsOf } from './proc';

type RelayKind = 'dgram.send' | 'fast path sendmmsg' | 'native (poll, recvmmsg, sendmmsg)';

const PAYLOAD_BYTES = 1100;

function relay(sinkPort: number, batched: boolean): void {
  const socket: Socket = createSocket('udp4');
  const loaded = batched ? loadFastPath() : undefined;
  if (loaded?.error) throw new Error(`--batch needs the fast path addon: ${loaded.error}`);
  const fastPath = loaded?.fastPath;
  socket.bind(0, '127.0.0.1', () => {
    const batch = fastPath?.batchFor(socket);
    const to = destination('127.0.0.1', sinkPort);
    socket.on('message', (datagram) => {
      if (batch) batch.queue(datagram, to);
      else socket.send(datagram, sinkPort, '127.0.0.1');
    });
    process.send?.({ port: socket.address().port });
  });
  process.on('disconnect', () => process.exit(0));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (args[0] === '--relay') return relay(Number(args[1]), args.includes('--batch'));
  const rates = (get('--rates') ?? '500,1000,2000,4000,8000').split(',').map(Number);
  const stepSeconds = Number(get('--step-seconds') ?? 5);
  const batched = args.includes('--batch');
  const native = args.includes('--native');
  if (rates.some((r) => !Number.isFinite(r) || r <= 0) || !(stepSeconds > 0)) {
    throw new Error('--rates takes positive numbers, --step-seconds a positive number');
  }
  if (batched && native) throw new Error('--batch and --native are two different relays: give one');
  const kind: RelayKind = native ? 'native (poll, recvmmsg, sendmmsg)' : batched ? 'fast path sendmmsg' : 'dgram.send';

  const sink = createSocket('udp4');
  let received = 0;
  sink.on('message', () => received++);
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
  const { child, port: relayPort } = native ? await startNativeRelay(sink.address().port) : await startNodeRelay(sink.address().port, batched);
  const relayPid = child.pid;
  if (relayPid === undefined) throw new Error('relay did not start');
  const sender = createSocket('udp4');
  await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
  const datagram = Buffer.alloc(PAYLOAD_BYTES, 0xab);

  const send = (rate: number, ms: number) =>
    new Promise<number>((resolve) => {
      const start = performance.now();
      let sent = 0;
      const timer = setInterval(() => {
        const elapsed = performance.now() - start;
        const due = Math.min(Math.floor((elapsed * rate) / 1000), Math.floor((ms * rate) / 1000));
        while (sent < due) {
          sender.send(datagram, relayPort, '127.0.0.1');
          sent++;
        }
        if (elapsed >= ms) {
          clearInterval(timer);
          resolve(sent);
        }
      }, 1);
    });

  await send(500, 3000); // JIT warm-up
  await new Promise((r) => setTimeout(r, 500));
  const steps = [];
  for (const rate of rates) {
    received = 0;
    const cpuBefore = cpuSecondsOf(relayPid);
    const sent = await send(rate, stepSeconds * 1000);
    await new Promise((r) => setTimeout(r, 300));
    const cpu = cpuSecondsOf(relayPid) - cpuBefore;
    const step = {
      rate,
      sent,
      relayed: received,
      relayCpuPercent: Math.round((cpu / stepSeconds) * 1000) / 10,
      relayMicrosecondsPerDatagram: received > 0 ? Math.round((cpu / received) * 1e7) / 10 : null,
    };
    steps.push(step);
    process.stderr.write(`[udp-floor] rate=${rate}: relayed ${received}/${sent}, relay CPU ${step.relayCpuPercent} %\n`);
  }
  if (native) child.stdin?.end();
  else child.disconnect();
  sender.close();
  sink.close();
  process.stdout.write(
    `${JSON.stringify({ bench: 'udp-floor', relay: kind, payloadBytes: PAYLOAD_BYTES, stepSeconds, note: 'CPU from /proc/<pid>/stat, 10 ms ticks', steps }, null, 2)}\n`,
  );
}

/** The Node relay (this file with `--relay`) in a child process; resolves with its port. */
async function startNodeRelay(sinkPort: number, batched: boolean): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(__filename, ['--relay', String(sinkPort), ...(batched ? ['--batch'] : [])], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`relay exited (${code})`)));
  });
  return { child, port };
}

/**
 * Builds tools/bench/native/udp-relay.c into tmp/bench and starts it; it
 * prints its port, and ends when its standard input closes.
 */
async function startNativeRelay(sinkPort: number): Promise<{ child: ChildProcess; port: number }> {
  const source = path.join(WORKSPACE_ROOT, 'tools/bench/native/udp-relay.c');
  const binary = path.join(WORKSPACE_ROOT, 'tmp/bench/udp-relay');
  mkdirSync(path.dirname(binary), { recursive: true });
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', binary, source], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch {
    throw new Error('--native needs a C compiler (cc) to build tools/bench/native/udp-relay.c');
  }
  const child = spawn(binary, [String(sinkPort)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`native relay exited (${code})`)));
  });
  return { child, port };
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
