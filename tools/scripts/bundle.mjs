#!/usr/bin/env node
// Bundles each named app into one CommonJS file that Node 20 runs directly:
//
//   node tools/scripts/bundle.mjs sfu zcp        # apps/<name>/src/main.ts → dist/apps/<name>/main.js
//   node tools/scripts/bundle.mjs --entry x.ts --outdir dir   # any entry, into dir/main.js
//   add --json to print, per bundle, the workspace sources and the npm imports it kept external
//
// What goes into the bundle and what does not:
// - Workspace libraries (`@meetedge/*`) are bundled from their TypeScript
//   sources. They resolve through tsconfig.base.json `paths`, by the plugin
//   below, so it never matters that npm also links them into node_modules.
// - npm packages stay external (`packages: 'external'`): the runtime image
//   installs them with `npm install --omit=dev`, so native add-ons, worker
//   files (pino transports) and package-relative assets keep working.
// The build fails if any `@meetedge/*` import is left external, because the
// runtime image has no workspace sources to resolve it from.
// - The media fast path's native addon (libs/fastpath, built by node-gyp) is
//   copied beside a bundle that includes libs/fastpath, where its loader looks
//   first; when it was not built the bundle runs the JavaScript path.
import { build } from 'esbuild';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const workspaceRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsconfigPath = join(workspaceRoot, 'tsconfig.base.json');

/** The apps this script knows how to bundle (apps/<name>/src/main.ts). */
export const APPS = ['sfu', 'zcp', 'dashboard', 'all-in-one'];

/** `@meetedge/x` → absolute source file, from tsconfig.base.json `paths`. */
function workspacePaths() {
  const { compilerOptions } = JSON.parse(readFileSync(tsconfigPath, 'utf8'));
  const baseUrl = resolve(dirname(tsconfigPath), compilerOptions.baseUrl ?? '.');
  const map = new Map();
  for (const [alias, targets] of Object.entries(compilerOptions.paths ?? {})) {
    if (alias.includes('*')) throw new Error(`tsconfig.base.json paths: wildcard alias ${alias} is not supported by bundle.mjs`);
    map.set(alias, resolve(baseUrl, targets[0]));
  }
  return map;
}

/** Resolves `@meetedge/*` imports to sources so `packages: 'external'` never sees them. */
function workspaceSourcesPlugin(paths) {
  return {
    name: 'meetedge-workspace-sources',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^@meetedge\// }, (args) => {
        const target = paths.get(args.path);
        if (!target) {
          return {
            errors: [{ text: `${args.path} has no entry in tsconfig.base.json "paths"; add one so it can be bundled` }],
          };
        }
        return { path: target };
      });
    },
  };
}

/**
 * Bundles one entry file.
 * @param {{ entry: string, outfile: string }} options absolute or workspace-relative paths
 * @returns {Promise<{ outfile: string, workspaceInputs: string[], externals: string[] }>}
 */
export async function bundle({ entry, outfile }) {
  const result = await build({
    absWorkingDir: workspaceRoot,
    entryPoints: [resolve(workspaceRoot, entry)],
    outfile: resolve(workspaceRoot, outfile),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    packages: 'external',
    tsconfig: tsconfigPath,
    plugins: [workspaceSourcesPlugin(workspacePaths())],
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
  const externals = new Set();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imported of output.imports) if (imported.external) externals.add(imported.path);
  }
  const leaked = [...externals].filter((path) => path.startsWith('@meetedge/'));
  if (leaked.length > 0) {
    throw new Error(`workspace imports left external (the image cannot resolve them): ${leaked.join(', ')}`);
  }
  const workspaceInputs = Object.keys(result.metafile.inputs).filter((input) => !input.includes('node_modules'));
  let addon;
  if (workspaceInputs.includes(FASTPATH_SOURCE) && existsSync(join(workspaceRoot, FASTPATH_ADDON))) {
    addon = join(dirname(resolve(workspaceRoot, outfile)), basename(FASTPATH_ADDON));
    copyFileSync(join(workspaceRoot, FASTPATH_ADDON), addon);
  }
  return {
    outfile: resolve(workspaceRoot, outfile),
    workspaceInputs,
    externals: [...externals].sort(),
    addon,
  };
}

const FASTPATH_SOURCE = 'libs/fastpath/src/index.ts';
const FASTPATH_ADDON = 'libs/fastpath/build/Release/meetedge_fastpath.node';

/** Bundles apps/<name>/src/main.ts into dist/apps/<name>/main.js. */
export async function bundleApp(name) {
  if (!APPS.includes(name)) throw new Error(`unknown app "${name}"; expected one of ${APPS.join(', ')}`);
  const entry = join('apps', name, 'src', 'main.ts');
  if (!existsSync(join(workspaceRoot, entry))) throw new Error(`${entry} does not exist`);
  return bundle({ entry, outfile: join('dist', 'apps', name, 'main.js') });
}

async function main(args) {
  const option = (name) => {
    const at = args.indexOf(name);
    if (at === -1) return undefined;
    const value = args[at + 1];
    if (!value || value.startsWith('--')) throw new Error(`${name} needs a value`);
    args.splice(at, 2);
    return value;
  };
  const json = args.includes('--json');
  if (json) args.splice(args.indexOf('--json'), 1);
  const entry = option('--entry');
  const outdir = option('--outdir');
  const results = [];
  if (entry) {
    results.push(await bundle({ entry, outfile: join(outdir ?? 'dist/tmp', 'main.js') }));
  } else {
    if (args.length === 0) throw new Error(`usage: bundle.mjs <app...> (apps: ${APPS.join(', ')})`);
    for (const name of args) results.push(await bundleApp(name));
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  for (const result of results) {
    process.stdout.write(
      `${relative(workspaceRoot, result.outfile)}: ${result.workspaceInputs.length} workspace sources bundled, ` +
        `${result.externals.length} npm packages external` +
        (result.addon ? `, fast-path addon ${relative(workspaceRoot, result.addon)}` : '') +
        '\n',
    );
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    // esbuild has already printed its own errors with their source locations.
    if (!(err && Array.isArray(err.errors))) console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
