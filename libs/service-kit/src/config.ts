/**
 * Configuration validated once, at boot (STYLE.md, "Config validated at boot").
 *
 * Each app declares its keys as a `ConfigSpec`: for every key the environment
 * variable, a parser and a default. `loadConfig` starts from the defaults,
 * applies the environment, refuses unknown `MEETEDGE_*` variables and invalid
 * values with one line that names the key, and returns a frozen, typed object.
 * Nothing reads `process.env` after this.
 */
import { isIP } from 'node:net';
import { MeetedgeError } from '@meetedge/core';

/** Every variable meetedge reads starts with this; others are ignored. */
export const ENV_PREFIX = 'MEETEDGE_';

export interface KeySpec<T> {
  /** Environment variable, `MEETEDGE_` + upper snake case. */
  readonly env: string;
  /** What the key means, with its unit; shown by `describeConfig`. */
  readonly doc: string;
  /** Used when the variable is not set; a key without default is required. */
  readonly default?: T;
  /** Returns the value or throws an Error whose message says what was expected. */
  parse(raw: string): T;
  /** How a refused raw value is shown in the error (e.g. a URL without its password). */
  display?(raw: string): string;
}

export type ConfigSpec = Record<string, KeySpec<unknown>>;
export type ConfigOf<S extends ConfigSpec> = { readonly [K in keyof S]: S[K] extends KeySpec<infer T> ? T : never };

/** Thrown at boot for an unknown key, an invalid value or a missing required key. */
export class ConfigError extends MeetedgeError {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super('INVALID_CONFIG', `config ${key}: ${message}`, { key });
  }
}

/**
 * Builds the configuration from `env` (usually `process.env`). Throws
 * `ConfigError` for the first problem found, naming the variable.
 */
export function loadConfig<S extends ConfigSpec>(spec: S, env: Readonly<Record<string, string | undefined>>): ConfigOf<S> {
  const known = new Set(Object.values(spec).map((k) => k.env));
  for (const name of Object.keys(env).sort()) {
    if (name.startsWith(ENV_PREFIX) && !known.has(name)) {
      throw new ConfigError(name, `unknown key; this service accepts ${[...known].sort().join(', ')}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(spec)) {
    const raw = env[key.env];
    if (raw === undefined || raw === '') {
      if (!('default' in key)) throw new ConfigError(key.env, `required (${key.doc})`);
      out[field] = key.default;
      continue;
    }
    try {
      out[field] = key.parse(raw);
    } catch (err) {
      const shown = key.display ? key.display(raw) : raw;
      throw new ConfigError(key.env, `${(err as Error).message}, got ${JSON.stringify(shown)}`);
    }
  }
  return Object.freeze(out) as ConfigOf<S>;
}

/** One line per key: variable, default and meaning. For `--help` and docs. */
export function describeConfig(spec: ConfigSpec): string {
  return Object.values(spec)
    .map((k) => `${k.env}${'default' in k ? `=${String(k.default)}` : ' (required)'}  ${k.doc}`)
    .join('\n');
}

/** `redis://user:secret@host` → `redis://user:***@host`; text that is no URL is shown as is. */
export function redactUrlPassword(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

// ── Key builders ──────────────────────────────────────────────────────────

type Opt<T> = { doc: string; default?: T };

function spec<T>(env: string, opt: Opt<T>, parse: (raw: string) => T): KeySpec<T> {
  if (!env.startsWith(ENV_PREFIX)) throw new Error(`config key ${env} must start with ${ENV_PREFIX}`);
  return 'default' in opt ? { env, doc: opt.doc, default: opt.default as T, parse } : { env, doc: opt.doc, parse };
}

function parseInteger(raw: string, min: number, max: number, what: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new Error(`expected ${what}`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`expected ${what}`);
  return n;
}

export const key = {
  /** A TCP/UDP port, 0–65535 (0 lets the OS choose, for tests). */
  port: (env: string, opt: Opt<number>): KeySpec<number> =>
    spec(env, opt, (raw) => parseInteger(raw, 0, 65535, 'a port number 0-65535')),

  /** An integer in [min, max]. */
  int: (env: string, opt: Opt<number> & { min: number; max: number }): KeySpec<number> =>
    spec(env, opt, (raw) => parseInteger(raw, opt.min, opt.max, `an integer ${opt.min}-${opt.max}`)),

  /** One of a fixed set of words. */
  oneOf: <const T extends string>(env: string, values: readonly T[], opt: Opt<T>): KeySpec<T> =>
    spec(env, opt, (raw) => {
      if (!(values as readonly string[]).includes(raw)) throw new Error(`expected one of ${values.join(', ')}`);
      return raw as T;
    }),

  /** Free text matching `pattern` (default: non-empty, no whitespace). */
  string: (env: string, opt: Opt<string> & { pattern?: RegExp; what?: string }): KeySpec<string> =>
    spec(env, opt, (raw) => {
      const pattern = opt.pattern ?? /^\S+$/;
      if (!pattern.test(raw)) throw new Error(`expected ${opt.what ?? 'a value without spaces'}`);
      return raw;
    }),

  /** A URL with one of the given schemes; a refused value is shown without its password. */
  url: (env: string, protocols: readonly string[], opt: Opt<string>): KeySpec<string> => ({
    ...spec(env, opt, (raw) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error(`expected a URL (${protocols.map((p) => `${p}//`).join(' or ')})`);
      }
      if (!protocols.includes(url.protocol)) throw new Error(`expected a ${protocols.join(' or ')} URL`);
      return raw;
    }),
    display: redactUrlPassword,
  }),

  /** Any value with its own parser (e.g. a key in PEM); the parser's error says what was expected. */
  parsed: <T>(env: string, opt: Opt<T> & { secret?: boolean }, parse: (raw: string) => T): KeySpec<T> => ({
    ...spec(env, opt, parse),
    ...(opt.secret ? { display: () => '[redacted]' } : {}),
  }),

  /** An IPv4 or IPv6 address. */
  ip: (env: string, opt: Opt<string>): KeySpec<string> =>
    spec(env, opt, (raw) => {
      if (isIP(raw) === 0) throw new Error('expected an IPv4 or IPv6 address');
      return raw;
    }),

  /** An id (see @meetedge/core ids), parsed into its branded type. */
  id: <T>(env: string, parseId: (raw: unknown) => T, opt: Opt<T>): KeySpec<T> =>
    spec(env, opt, (raw) => {
      try {
        return parseId(raw);
      } catch {
        throw new Error('expected 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit');
      }
    }),
};

/** Keys every service has. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const commonKeys = {
  httpHost: key.string('MEETEDGE_HTTP_HOST', { doc: 'address the HTTP server binds to', default: '127.0.0.1' }),
  logLevel: key.oneOf('MEETEDGE_LOG_LEVEL', LOG_LEVELS, { doc: 'pino log level', default: 'info' }),
} satisfies ConfigSpec;

/** Keys of a service that keeps cluster state (memory only in one process; redis otherwise). */
export const stateKeys = {
  state: key.oneOf('MEETEDGE_STATE', ['memory', 'redis'] as const, {
    doc: 'cluster state store: redis (shared by every process of the deployment) or memory (this process only: a ZCP or module on memory sees no other)',
    default: 'redis',
  }),
  redisUrl: key.url('MEETEDGE_REDIS_URL', ['redis:', 'rediss:'], {
    doc: 'Redis URL when MEETEDGE_STATE=redis',
    default: 'redis://127.0.0.1:6379',
  }),
} satisfies ConfigSpec;
