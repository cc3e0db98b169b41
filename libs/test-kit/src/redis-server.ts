/**
 * A private, throw-away `redis-server` for tests that need a real Redis
 * (LiveKit tests its Redis stores against a real Redis too). Each call starts
 * its own server on a free port with persistence off, as a child process in
 * the foreground, so it never touches a developer's Redis on 6379 and never
 * outlives the test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

export interface TestRedis {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, then SIGKILL after 2 s). Idempotent. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL (a crash: with persistence off, everything in it is lost); resolves once it is gone. */
  kill(): Promise<void>;
}

export interface StartRedisOptions {
  /** The binary to run. Default `redis-server` from PATH. */
  readonly binary?: string;
  /** How long to wait for the server to answer PING, ms. Default 10 000. */
  readonly startTimeoutMs?: number;
  /** Listen on this port (a server started again where a killed one was); default a free one. */
  readonly port?: number;
}

/** Port a developer's own Redis listens on; never started on, never touched. */
const DEFAULT_REDIS_PORT = 6379;
/** Attempts, because a free port can be taken between finding it and binding it. */
const START_ATTEMPTS = 3;
/** Output kept from the server, to explain a failed start. */
const MAX_OUTPUT_CHARS = 4000;

/**
 * Starts a private `redis-server` on a free port of 127.0.0.1 (never 6379),
 * with persistence off, and resolves once it answers PING.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      lastError = err;
      if (isMissingBinary(err)) break;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

async function startOnce(options: StartRedisOptions): Promise<TestRedis> {
  const binary = options.binary ?? 'redis-server';
  const port = options.port ?? (await freeTcpPort());
  if (port === DEFAULT_REDIS_PORT) throw new Error(`never on ${DEFAULT_REDIS_PORT}: that is a developer's own Redis`);
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });

  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let spawnError: Error | undefined;
  child.on('error', (err) => {
    spawnError = err;
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  // A test process that exits without calling stop() must not leave the server behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
    })();
    return stopping;
  };
  const crash = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };

  try {
    await waitUntilAnswers(child, () => spawnError, port, options.startTimeoutMs ?? 10_000);
  } catch (err) {
    await stop();
    if (spawnError && (spawnError as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new MissingRedisServerError(binary, spawnError);
    }
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`redis-server did not start on port ${port}: ${reason}\n${output}`, { cause: err });
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop, kill: crash };
}

/** Thrown when the `redis-server` binary is not installed. */
export class MissingRedisServerError extends Error {
  override readonly name = 'MissingRedisServerError';
  constructor(binary: string, cause: Error) {
    super(`${binary} not found on PATH; install it (e.g. apt-get install -y redis-server)`, { cause });
  }
}

function isMissingBinary(err: unknown): boolean {
  return err instanceof MissingRedisServerError;
}

/** Asks the OS for a free TCP port on 127.0.0.1 (bind to 0, then close), never 6379. */
export async function freeTcpPort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const found = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(found));
      });
    });
    if (port > 0 && port !== DEFAULT_REDIS_PORT) return port;
  }
}

/** Polls with a raw PING until `+PONG`, failing early if the process dies. */
async function waitUntilAnswers(
  child: ChildProcess,
  spawnError: () => Error | undefined,
  port: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const error = spawnError();
    if (error) throw error;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    }
    if (await pingOnce(port)) return;
    await pause(25);
  }
  throw new Error(`no PONG within ${timeoutMs} ms`);
}

/** True when something on `port` answers PING with PONG. */
export function pingOnce(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
