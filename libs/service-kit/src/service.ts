/**
 * The lifecycle every app shares. `buildApp(config, deps)` returns a
 * `Service`; `runMain` is what each thin main.ts calls: it loads config, starts
 * the services, and closes them gracefully on SIGTERM/SIGINT.
 */
import type { FastifyInstance } from 'fastify';
import { isMeetedgeError } from '@meetedge/core';
import type { Logger } from './logger';

export interface Service {
  /** e.g. "sfu", "zcp", "dashboard" */
  readonly name: string;
  readonly http: FastifyInstance;
  /** Binds the service's ports and starts its background work; resolves to its base HTTP URL. */
  start(): Promise<string>;
  /** Stops accepting work, finishes what is in flight, releases every resource. Idempotent. */
  close(): Promise<void>;
}

/** The HTTP URL a listening fastify instance serves, e.g. http://127.0.0.1:8080. */
export function baseUrlOf(http: FastifyInstance): string {
  const address = http.server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not listening on TCP');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** Runs `close` once, however often it is called; later calls get the same promise. */
export function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}

export interface RunMainOptions {
  /** Time allowed for a graceful close before the process exits anyway, ms. */
  shutdownTimeoutMs?: number;
}

/**
 * Boots a process. A boot error (bad config above all) prints one line to
 * stderr and exits 1. SIGTERM or SIGINT closes the services in reverse order
 * and exits 0 (1 when a close failed); a second signal or the timeout exits
 * at once.
 */
export async function runMain(
  boot: () => Promise<{
    logger: Logger;
    services: Service[];
    /**
     * Runs once every service has started, before `onStarted`, with their
     * base URLs in order (e.g. seeding what needs the real ports); a failure
     * is a failure to start.
     */
    afterStart?: (urls: string[]) => Promise<void>;
    /** Called once every service has started, with their base URLs in order. */
    onStarted?: (urls: string[]) => void;
    /** Releases what the services share (e.g. a store), after they all closed. */
    afterClose?: () => Promise<void>;
  }>,
  options: RunMainOptions = {},
): Promise<void> {
  let booted: Awaited<ReturnType<typeof boot>>;
  try {
    booted = await boot();
  } catch (err) {
    console.error(isMeetedgeError(err) ? `meetedge: ${err.message}` : `meetedge: failed to boot: ${String(err)}`);
    process.exit(1);
  }
  const { logger, services } = booted;

  /** Closes everything in reverse start order; true when every close succeeded. */
  const closeAll = async (): Promise<boolean> => {
    let clean = true;
    for (const service of [...services].reverse()) {
      try {
        await service.close();
      } catch (err) {
        clean = false;
        logger.error({ err, service: service.name }, 'close failed');
      }
    }
    try {
      await booted.afterClose?.();
    } catch (err) {
      clean = false;
      logger.error({ err }, 'close failed');
    }
    return clean;
  };

  const starting = (async () => {
    const urls: string[] = [];
    for (const service of services) urls.push(await service.start());
    await booted.afterStart?.(urls);
    return urls;
  })();

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      logger.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('graceful shutdown timed out, exiting');
      process.exit(1);
    }, options.shutdownTimeoutMs ?? 10_000);
    timer.unref();
    // A signal during start waits for start to settle, so nothing is left half-open.
    await starting.catch(() => undefined);
    const clean = await closeAll();
    logger.info({ clean }, 'stopped');
    logger.flush();
    process.exit(clean ? 0 : 1);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  let urls: string[];
  try {
    urls = await starting;
  } catch (err) {
    if (stopping) return; // stop() closes and exits
    stopping = true;
    logger.error({ err }, 'failed to start');
    await closeAll();
    console.error(`meetedge: failed to start: ${isMeetedgeError(err) ? err.message : String(err)}`);
    process.exit(1);
  }
  if (stopping) return;
  logger.info({ services: Object.fromEntries(services.map((s, i) => [s.name, urls[i]])) }, 'started');
  booted.onStarted?.(urls);
}
