/**
 * The architecture's direction is enforced by lint (eslint.config.mjs): these
 * tests lint small sources as if they lived in each project and check that a
 * wrong import is an error, and a right one is not. If someone loosens a
 * constraint, a test here fails.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

interface Probe {
  file: string;
  source: string;
}

const probes: Probe[] = [];
let results: string[][] | undefined;

/** Registers a probe now (at collection) and returns its problems once all were linted together. */
function problems(file: string, source: string): () => string[] {
  const index = probes.push({ file, source }) - 1;
  return () => {
    if (!results) throw new Error('probes not linted');
    return results[index] ?? [];
  };
}

beforeAll(() => {
  const output = execFileSync(process.execPath, [path.join(__dirname, 'lint-probes.mjs')], {
    input: JSON.stringify(probes),
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
  results = JSON.parse(output) as string[][];
}, 120_000);

const boundaryError = (found: string[], what = ''): boolean =>
  found.some((p) => p.startsWith('@nx/enforce-module-boundaries') && p.includes(what));

describe('module boundaries', () => {
  const ioPackages = [
    ['ioredis', problems('libs/core/src/probe.ts', "import Redis from 'ioredis';\nexport const r = Redis;\n")],
    ['@grpc/grpc-js', problems('libs/core/src/probe.ts', "import * as grpc from '@grpc/grpc-js';\nexport const g = grpc;\n")],
    ['fastify', problems('libs/core/src/probe.ts', "import Fastify from 'fastify';\nexport const f = Fastify;\n")],
    ['werift', problems('libs/core/src/probe.ts', "import { RTCPeerConnection } from 'werift';\nexport const p = RTCPeerConnection;\n")],
  ] as const;
  it.each(ioPackages)('pure core code cannot import %s', (pkg, found) => {
    expect(boundaryError(found(), pkg)).toBe(true);
  });

  const dgram = problems('libs/core/src/probe.ts', "import dgram from 'node:dgram';\nexport const d = dgram;\n");
  it('pure core code cannot open sockets (node:dgram)', () => {
    expect(dgram().some((p) => p.startsWith('no-restricted-imports'))).toBe(true);
  });

  const coreToState = problems('libs/core/src/probe.ts', "import { MemoryClusterState } from '@meetedge/state';\nexport const s = MemoryClusterState;\n");
  it('pure core code cannot import a data-access library', () => {
    expect(boundaryError(coreToState())).toBe(true);
  });

  const stateToFastify = problems('libs/state/src/probe.ts', "import Fastify from 'fastify';\nexport const f = Fastify;\n");
  it('the state library cannot import fastify', () => {
    expect(boundaryError(stateToFastify(), 'fastify')).toBe(true);
  });

  const appToApp = problems('apps/zcp/src/probe.ts', "import { buildApp } from '@meetedge/sfu';\nexport const b = buildApp;\n");
  it('an app cannot import another app', () => {
    expect(boundaryError(appToApp())).toBe(true);
  });

  const composite = problems('apps/all-in-one/src/probe.ts', "import { buildApp } from '@meetedge/sfu';\nexport const b = buildApp;\n");
  it('the all-in-one process may compose the apps', () => {
    expect(composite()).toEqual([]);
  });

  const browserClient = [
    ['node:events', problems('libs/client/src/browser/probe.ts', "import { EventEmitter } from 'node:events';\nexport const e = EventEmitter;\n")],
    ['werift', problems('libs/client/src/browser/probe.ts', "import { RTCPeerConnection } from 'werift';\nexport const p = RTCPeerConnection;\n")],
    ['ws', problems('libs/client/src/probe.ts', "import WebSocket from 'ws';\nexport const w = WebSocket;\n")],
  ] as const;
  it.each(browserClient)('the client SDK code a page runs cannot import %s', (_name, found) => {
    expect(found().some((p) => p.startsWith('no-restricted-imports'))).toBe(true);
  });

  const nodeClient = problems('libs/client/src/node/probe.ts', "import { RTCPeerConnection } from 'werift';\nimport WebSocket from 'ws';\nexport const all = [RTCPeerConnection, WebSocket];\n");
  it("the client SDK's Node half may use werift and ws", () => {
    expect(nodeClient()).toEqual([]);
  });

  const appUsesLibs = problems(
    'apps/sfu/src/probe.ts',
    [
      "import { ModuleId } from '@meetedge/core';",
      "import { MemoryClusterState } from '@meetedge/state';",
      "import { createLogger } from '@meetedge/service-kit';",
      'export const all = [ModuleId, MemoryClusterState, createLogger];',
      '',
    ].join('\n'),
  );
  it('an app may use core, state and the service kit', () => {
    expect(appUsesLibs()).toEqual([]);
  });
});
