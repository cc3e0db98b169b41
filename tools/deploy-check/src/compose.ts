/**
 * Checks docker-compose.yml beyond its schema: that every app service builds
 * from the root Dockerfile an app that exists, sets only keys that app knows,
 * publishes the ports it really listens on, and depends on services that exist.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DCLinter } from 'dclint';
import { APPS, PORT_KEYS, type PortRole } from './apps';

/** A parsed compose document; anything may be missing or mistyped. */
export type ComposeDoc = Record<string, unknown>;

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `environment:` in map or list (`KEY=value`) form → map. */
export function environmentOf(service: Dict): Record<string, string> {
  const env = service['environment'];
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const entry of env) {
      const text = String(entry);
      const eq = text.indexOf('=');
      out[eq === -1 ? text : text.slice(0, eq)] = eq === -1 ? '' : text.slice(eq + 1);
    }
  } else if (isDict(env)) {
    for (const [key, value] of Object.entries(env)) out[key] = value === null ? '' : String(value);
  }
  return out;
}

/** `build.args` in map or list form → map. */
function buildArgsOf(build: Dict): Record<string, string> {
  const args = build['args'];
  const out: Record<string, string> = {};
  if (Array.isArray(args)) {
    for (const entry of args) {
      const [key, ...rest] = String(entry).split('=');
      if (key) out[key] = rest.join('=');
    }
  } else if (isDict(args)) {
    for (const [key, value] of Object.entries(args)) out[key] = String(value);
  }
  return out;
}

function dependsOnOf(service: Dict): string[] {
  const deps = service['depends_on'];
  if (Array.isArray(deps)) return deps.map(String);
  if (isDict(deps)) return Object.keys(deps);
  return [];
}

export interface PublishedPort {
  hostIp?: string;
  /** Host port; undefined when Docker picks one. */
  published?: number;
  /** Container port. */
  target: number;
  protocol: 'tcp' | 'udp';
}

/**
 * One `ports:` entry, short ("[ip:][host:]container[/proto]") or long form.
 * @throws Error for ranges and anything else this checker does not understand
 */
export function parsePort(entry: unknown): PublishedPort {
  if (isDict(entry)) {
    const target = Number(entry['target']);
    const published = entry['published'] === undefined ? undefined : Number(entry['published']);
    const protocol = entry['protocol'] === 'udp' ? 'udp' : 'tcp';
    if (!Number.isInteger(target) || (published !== undefined && !Number.isInteger(published))) {
      throw new Error(`unsupported port entry ${JSON.stringify(entry)}`);
    }
    const port: PublishedPort = { target, protocol };
    if (published !== undefined) port.published = published;
    if (typeof entry['host_ip'] === 'string') port.hostIp = entry['host_ip'];
    return port;
  }
  const text = String(entry);
  const match = /^(?:(?:\[([^\]]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):)?(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(text);
  if (!match) throw new Error(`unsupported port entry "${text}" (ranges and names are not checked)`);
  const [, ipv6, ipv4, published, target, protocol] = match;
  const port: PublishedPort = { target: Number(target), protocol: protocol === 'udp' ? 'udp' : 'tcp' };
  if (published !== undefined) port.published = Number(published);
  const hostIp = ipv6 ?? ipv4;
  if (hostIp !== undefined) port.hostIp = hostIp;
  return port;
}

export interface ComposeCheckOptions {
  /** Workspace root: where the Dockerfile and apps/ are. */
  root: string;
  /** Directory of the compose file, against which build contexts resolve. Default: root. */
  composeDir?: string;
}

/** Everything wrong with `doc`, one sentence per problem; empty when it is fine. */
export function checkCompose(doc: ComposeDoc, options: ComposeCheckOptions): string[] {
  const root = resolve(options.root);
  const composeDir = resolve(options.composeDir ?? root);
  const problems: string[] = [];
  const services = doc['services'];
  if (!isDict(services) || Object.keys(services).length === 0) return ['compose file has no services'];

  const hostPorts = new Map<string, string>();
  const ids = new Map<string, string>();

  for (const [name, raw] of Object.entries(services)) {
    if (!isDict(raw)) {
      problems.push(`${name}: service is not a mapping`);
      continue;
    }
    const service = raw;

    for (const dep of dependsOnOf(service)) {
      if (dep === name) problems.push(`${name}: depends on itself`);
      else if (!(dep in services)) problems.push(`${name}: depends_on names "${dep}", which is not a service`);
      else if (!isDict(services[dep]) || !('healthcheck' in (services[dep] as Dict))) {
        problems.push(`${name}: depends on "${dep}", which has no healthcheck to wait for`);
      }
    }
    if (!('restart' in service)) problems.push(`${name}: no restart policy`);
    if (!('healthcheck' in service)) problems.push(`${name}: no healthcheck`);

    let ports: PublishedPort[] = [];
    for (const entry of Array.isArray(service['ports']) ? service['ports'] : []) {
      try {
        ports.push(parsePort(entry));
      } catch (err) {
        problems.push(`${name}: ${(err as Error).message}`);
      }
    }
    for (const port of ports) {
      if (port.published === undefined) continue;
      const key = `${port.hostIp ?? '0.0.0.0'}:${port.published}/${port.protocol}`;
      const other = hostPorts.get(key);
      if (other) problems.push(`${name}: host port ${key} is already published by ${other}`);
      else hostPorts.set(key, name);
    }

    const build = service['build'];
    if (build === undefined) {
      if (typeof service['image'] !== 'string') problems.push(`${name}: neither build nor image`);
      for (const key of Object.keys(environmentOf(service))) {
        if (key.startsWith('MEETEDGE_')) problems.push(`${name}: sets ${key} but is not a meetedge app (no build)`);
      }
      continue;
    }
    if (!isDict(build)) {
      problems.push(`${name}: build must be a mapping with context, dockerfile and args.APP`);
      continue;
    }
    const context = resolve(composeDir, String(build['context'] ?? '.'));
    if (context !== root) problems.push(`${name}: build context must be the workspace root, got ${String(build['context'])}`);
    const dockerfile = resolve(context, String(build['dockerfile'] ?? 'Dockerfile'));
    if (dockerfile !== join(root, 'Dockerfile')) {
      problems.push(`${name}: build must use the root Dockerfile, got ${String(build['dockerfile'])}`);
    }
    const app = buildArgsOf(build)['APP'];
    if (!app) {
      problems.push(`${name}: build.args.APP is not set`);
      continue;
    }
    if (!existsSync(join(root, 'apps', app, 'src', 'main.ts'))) {
      problems.push(`${name}: build.args.APP is "${app}" but apps/${app}/src/main.ts does not exist`);
    }
    const facts = APPS[app];
    if (!facts) {
      problems.push(`${name}: no deployment facts for app "${app}" (add it to tools/deploy-check/src/apps.ts)`);
      continue;
    }

    const env = environmentOf(service);
    for (const key of Object.keys(env)) {
      if (key.startsWith('MEETEDGE_') && !facts.keys.includes(key)) {
        problems.push(`${name}: ${key} is not a key app "${app}" accepts (known: ${facts.keys.join(', ')})`);
      }
    }
    // What the app would say at boot: a missing required key, a value it refuses.
    const bootProblem = facts.bootProblem(env);
    if (bootProblem && !bootProblem.includes('unknown key')) problems.push(`${name}: would not boot: ${bootProblem}`);
    for (const idKey of ['MEETEDGE_MODULE_ID', 'MEETEDGE_ZCP_ID']) {
      const id = env[idKey];
      if (!id) continue;
      const other = ids.get(`${idKey}=${id}`);
      if (other) problems.push(`${name}: ${idKey}=${id} is also used by ${other}`);
      else ids.set(`${idKey}=${id}`, name);
    }

    // The ports this service listens on, by role, as its environment configures them.
    const listening = new Map<number, PortRole>();
    for (const [role, defaultPort] of Object.entries(facts.defaultPorts) as [PortRole, number][]) {
      const value = env[PORT_KEYS[role]];
      const port = value === undefined || value === '' ? defaultPort : Number(value);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        problems.push(`${name}: ${PORT_KEYS[role]}=${value} is not a port`);
        continue;
      }
      listening.set(port, role);
    }

    ports = ports.filter((port) => {
      const role = listening.get(port.target);
      if (!role) {
        problems.push(
          `${name}: publishes container port ${port.target}/${port.protocol}, but app "${app}" listens on ` +
            `${[...listening].map(([p, r]) => `${p} (${PORT_KEYS[r]})`).join(', ')}`,
        );
        return false;
      }
      if (role !== 'media' && port.protocol !== 'tcp') problems.push(`${name}: ${role} port ${port.target} is TCP, published as ${port.protocol}`);
      if (role === 'media' && port.published !== port.target) {
        problems.push(`${name}: media port ${port.target}/${port.protocol} must be published on the same host port (ICE candidates carry it), got ${port.published ?? 'a random one'}`);
      }
      return true;
    });
    const exposed = (Array.isArray(service['expose']) ? service['expose'] : []).map((entry) => Number(String(entry).split('/')[0]));
    for (const port of exposed) {
      if (!listening.has(port)) problems.push(`${name}: exposes ${port}, which app "${app}" does not listen on`);
    }
    for (const [port, role] of listening) {
      const published = ports.filter((p) => p.target === port).map((p) => p.protocol);
      if (role === 'media') {
        for (const protocol of ['udp', 'tcp'] as const) {
          if (!published.includes(protocol)) problems.push(`${name}: media port ${port} is not published for ${protocol}`);
        }
      } else if (published.length === 0 && !exposed.includes(port)) {
        problems.push(`${name}: ${role} port ${port} (${PORT_KEYS[role]}) is neither published nor exposed`);
      }
    }
  }
  return problems;
}

/**
 * Validates a compose file offline with dclint: the compose-spec JSON schema
 * plus dclint's default rules. Returns one line per finding (errors and warnings).
 */
export function lintComposeFile(path: string): string[] {
  const linter = new DCLinter({ rules: {}, quiet: false, debug: false, exclude: [] });
  return linter
    .lintFiles([path], false)
    .flatMap((result) => result.messages.map((m) => `${m.line}:${m.column} ${m.type} ${m.rule}: ${m.message}`));
}
