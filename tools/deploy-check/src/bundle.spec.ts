import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { bundleEntry, missingRuntimeDependencies, packageNameOf } from './bundle';

const root = resolve(__dirname, '../../..');
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { build?: { args?: Record<string, string> } }>;
};
/** Every app the compose file builds. */
const composeApps = [
  ...new Set(Object.values(compose.services).flatMap((s) => (s.build?.args?.['APP'] ? [s.build.args['APP']] : []))),
].sort();

describe('tools/scripts/bundle.mjs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'meetedge-bundle-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('inlines @meetedge/* libraries from source, keeps npm packages external, and the result runs', () => {
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      [
        "import { MeetingId } from '@meetedge/core';",
        "import pino from 'pino';",
        "process.stdout.write(`${MeetingId('m-1')} ${typeof pino}\\n`);",
      ].join('\n'),
    );
    const result = bundleEntry(root, entry, join(dir, 'out'));
    expect(result.workspaceInputs).toEqual(expect.arrayContaining(['libs/core/src/index.ts']));
    expect(result.externals).toEqual(['pino']);
    expect(readFileSync(result.outfile, 'utf8')).not.toMatch(/require\("@meetedge\//);
    expect(existsSync(`${result.outfile}.map`)).toBe(true);
    // Run it the way the image does: only npm packages on the module path.
    const output = execFileSync(process.execPath, [result.outfile], {
      env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
      encoding: 'utf8',
    });
    expect(output).toBe('m-1 function\n');
  });

  it('fails on a workspace import that tsconfig.base.json does not map', () => {
    const entry = join(dir, 'entry.ts');
    writeFileSync(entry, "import { x } from '@meetedge/no-such-lib';\nexport { x };\n");
    expect(() => bundleEntry(root, entry, join(dir, 'out'))).toThrow(/no entry in tsconfig.base.json "paths"/);
  });

  it.each(composeApps)('app %s bundles, and every npm package it requires is a production dependency', (app) => {
    const result = bundleEntry(root, join('apps', app, 'src', 'main.ts'), join(dir, app));
    expect(result.externals.filter((spec) => spec.startsWith('@meetedge/'))).toEqual([]);
    expect(missingRuntimeDependencies(result.externals, rootPackage.dependencies)).toEqual([]);
  });
});

describe('missingRuntimeDependencies', () => {
  it('ignores Node builtins and subpaths, and names packages the runtime image would lack', () => {
    expect(
      missingRuntimeDependencies(['node:fs', 'fs/promises', '@grpc/grpc-js', '@bufbuild/protobuf/wire', 'yaml'], {
        '@grpc/grpc-js': '1',
        '@bufbuild/protobuf': '2',
      }),
    ).toEqual(['yaml']);
  });

  it('packageNameOf keeps the scope', () => {
    expect(packageNameOf('@bufbuild/protobuf/wire')).toBe('@bufbuild/protobuf');
    expect(packageNameOf('pino/file')).toBe('pino');
  });
});
