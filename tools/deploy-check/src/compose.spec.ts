import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { checkCompose, environmentOf, lintComposeFile, parsePort, type ComposeDoc } from './compose';

const root = resolve(__dirname, '../../..');
const composePath = join(root, 'docker-compose.yml');
const compose = parse(readFileSync(composePath, 'utf8')) as ComposeDoc;

type Service = Record<string, unknown> & { environment: Record<string, string>; ports?: string[] };

/** A deep copy of the real compose file with one service changed. */
function withService(name: string, change: (service: Service) => void): ComposeDoc {
  const doc = structuredClone(compose);
  const service = (doc['services'] as Record<string, Service>)[name];
  if (!service) throw new Error(`no service ${name} in docker-compose.yml`);
  change(service);
  return doc;
}

const check = (doc: ComposeDoc): string[] => checkCompose(doc, { root });

describe('docker-compose.yml', () => {
  it('passes the compose-spec schema and dclint’s default rules (offline)', () => {
    expect(lintComposeFile(composePath)).toEqual([]);
  });

  it('passes the deployment checks', () => {
    expect(check(compose)).toEqual([]);
  });

  it('runs redis, the dashboard, two ZCPs and two edge modules of zone hq, and a cloud MMR', () => {
    const services = compose['services'] as Record<string, Service>;
    expect(Object.keys(services).sort()).toEqual(['cloud-mmr', 'dashboard', 'redis', 'sfu-1', 'sfu-2', 'zcp-1', 'zcp-2']);
    for (const name of ['sfu-1', 'sfu-2']) {
      expect(environmentOf(services[name] as Service)).toMatchObject({ MEETEDGE_ROLE: 'edge', MEETEDGE_ZONE_ID: 'hq' });
    }
    expect(environmentOf(services['cloud-mmr'] as Service)).toMatchObject({ MEETEDGE_ROLE: 'cloud' });
    expect((services['cloud-mmr'] as unknown as { build: { args: Record<string, string> } }).build.args['APP']).toBe('sfu');
    expect(services['redis']?.['image']).toBe('redis:7');
    expect(JSON.stringify(services['redis']?.['command'])).toContain('"--appendonly","yes"');
  });
});

describe('checkCompose rejects real mistakes', () => {
  it('a service building an app that does not exist', () => {
    const doc = withService('zcp-2', (s) => {
      (s['build'] as { args: Record<string, string> }).args['APP'] = 'zcp-typo';
    });
    expect(check(doc)).toContain('zcp-2: build.args.APP is "zcp-typo" but apps/zcp-typo/src/main.ts does not exist');
  });

  it('a build that does not use the root Dockerfile', () => {
    const doc = withService('dashboard', (s) => {
      (s['build'] as Record<string, unknown>)['dockerfile'] = 'apps/dashboard/Dockerfile';
    });
    expect(check(doc)).toEqual([expect.stringMatching(/^dashboard: build must use the root Dockerfile/)]);
  });

  it('a MEETEDGE_* key the app does not accept (unknown, or another app’s)', () => {
    const doc = withService('zcp-1', (s) => {
      s.environment['MEETEDGE_MODULE_ID'] = 'zcp-1';
      s.environment['MEETEDGE_HTTP_PROT'] = '8090';
    });
    expect(check(doc)).toEqual([
      expect.stringMatching(/^zcp-1: MEETEDGE_MODULE_ID is not a key app "zcp" accepts/),
      expect.stringMatching(/^zcp-1: MEETEDGE_HTTP_PROT is not a key app "zcp" accepts/),
    ]);
  });

  it('a service its app would refuse to boot with (required key missing, value refused)', () => {
    const doc = withService('sfu-1', (s) => {
      delete s.environment['MEETEDGE_TICKET_PUBLIC_KEY'];
      s.environment['MEETEDGE_ROLE'] = 'core';
    });
    expect(check(doc)).toEqual([
      'sfu-1: would not boot: config MEETEDGE_ROLE: expected one of edge, cloud, got "core"',
    ]);
    const missing = withService('sfu-2', (s) => {
      delete s.environment['MEETEDGE_TICKET_PUBLIC_KEY'];
    });
    expect(check(missing)).toEqual([expect.stringMatching(/^sfu-2: would not boot: config MEETEDGE_TICKET_PUBLIC_KEY: required/)]);
  });

  it('a published port the app does not listen on after its HTTP port changed', () => {
    const doc = withService('sfu-1', (s) => {
      s.environment['MEETEDGE_HTTP_PORT'] = '8200';
    });
    expect(check(doc)).toEqual([
      expect.stringMatching(/^sfu-1: publishes container port 8100\/tcp, but app "sfu" listens on 8200/),
      'sfu-1: http port 8200 (MEETEDGE_HTTP_PORT) is neither published nor exposed',
    ]);
  });

  it('a media port published on another host port, or not for UDP', () => {
    const doc = withService('sfu-2', (s) => {
      s.ports = ['0.0.0.0:8110:8100/tcp', '0.0.0.0:8812:8811/tcp'];
    });
    expect(check(doc)).toEqual([
      expect.stringMatching(/^sfu-2: media port 8811\/tcp must be published on the same host port/),
      'sfu-2: media port 8811 is not published for udp',
    ]);
  });

  it('depends_on naming a service that does not exist', () => {
    const doc = withService('sfu-1', (s) => {
      (s['depends_on'] as Record<string, unknown>)['zcp-3'] = { condition: 'service_healthy' };
    });
    expect(check(doc)).toEqual(['sfu-1: depends_on names "zcp-3", which is not a service']);
  });

  it('two modules with one id, and two services on one host port', () => {
    const doc = withService('sfu-2', (s) => {
      s.environment['MEETEDGE_MODULE_ID'] = 'sfu-1';
      s.ports = ['0.0.0.0:8100:8100/tcp', '0.0.0.0:8811:8811/tcp', '0.0.0.0:8811:8811/udp'];
    });
    expect(check(doc)).toEqual([
      'sfu-2: host port 0.0.0.0:8100/tcp is already published by sfu-1',
      'sfu-2: MEETEDGE_MODULE_ID=sfu-1 is also used by sfu-1',
    ]);
  });

  it('a service without restart policy or healthcheck', () => {
    const doc = withService('dashboard', (s) => {
      delete s['restart'];
      delete s['healthcheck'];
    });
    expect(check(doc)).toEqual(
      expect.arrayContaining([
        'dashboard: no restart policy',
        'dashboard: no healthcheck',
        'cloud-mmr: depends on "dashboard", which has no healthcheck to wait for',
      ]),
    );
  });
});

describe('dclint schema validation', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'meetedge-compose-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects a document that breaks the compose schema', () => {
    const path = join(dir, 'docker-compose.yml');
    writeFileSync(
      path,
      "name: bad\nservices:\n  app:\n    image: 'redis:7'\n    depends_on:\n      other:\n        condition: when_ready\n",
    );
    expect(lintComposeFile(path)).toEqual([expect.stringMatching(/error invalid-schema: .*depends_on/)]);
  });
});

describe('parsePort', () => {
  it.each([
    ['8080', { target: 8080, protocol: 'tcp' }],
    ['8080:80', { published: 8080, target: 80, protocol: 'tcp' }],
    ['0.0.0.0:8801:8801/udp', { hostIp: '0.0.0.0', published: 8801, target: 8801, protocol: 'udp' }],
    ['[::1]:9000:9000/tcp', { hostIp: '::1', published: 9000, target: 9000, protocol: 'tcp' }],
  ])('%s', (entry, expected) => {
    expect(parsePort(entry)).toEqual(expected);
  });

  it('reads the long syntax', () => {
    expect(parsePort({ target: 8801, published: '8811', protocol: 'udp', host_ip: '0.0.0.0' })).toEqual({
      target: 8801,
      published: 8811,
      protocol: 'udp',
      hostIp: '0.0.0.0',
    });
  });

  it('refuses ranges rather than guessing', () => {
    expect(() => parsePort('8801-8803:8801-8803/udp')).toThrow(/unsupported port entry/);
  });
});
