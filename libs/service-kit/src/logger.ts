/**
 * pino as fastify does it: one root logger per process, child loggers bound to
 * context ({ service, zoneId, moduleId, meetingId, participantId }), object
 * first and message second. Secrets are redacted wherever they appear.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.passwordHash',
  '*.token',
  '*.accessToken',
  '*.ticket',
  '*.secret',
  '*.privateKey',
  '*.mediaKey',
];

export interface LoggerOptions {
  level: LogLevel;
  /** Bound to every line, e.g. { service: 'zcp', zcpId }. */
  bindings?: Record<string, unknown>;
  /** Human-readable output; defaults to "stdout is a terminal". */
  pretty?: boolean;
  /** Where lines go; defaults to stdout. Tests pass a stream to read them. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  const base = {
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid, ...options.bindings },
  };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}
