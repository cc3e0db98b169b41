/**
 * Bundles an app the way the Dockerfile does and lists the npm packages the
 * bundle still requires at run time: the runtime image installs only the root
 * package.json `dependencies`, so each of them must be there.
 */
import { execFileSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

export interface BundleResult {
  outfile: string;
  workspaceInputs: string[];
  externals: string[];
}

/** Runs tools/scripts/bundle.mjs on `entry` into `outdir`; throws with esbuild's message on failure. */
export function bundleEntry(root: string, entry: string, outdir: string): BundleResult {
  const output = execFileSync(
    process.execPath,
    [join(root, 'tools', 'scripts', 'bundle.mjs'), '--json', '--entry', entry, '--outdir', outdir],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const [result] = JSON.parse(output) as BundleResult[];
  if (!result) throw new Error(`bundle.mjs printed no result for ${entry}`);
  return result;
}

/** "@scope/name/sub/path" → "@scope/name"; "name/sub" → "name". */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** npm packages a bundle requires that the runtime image would not install. */
export function missingRuntimeDependencies(externals: string[], dependencies: Record<string, string>): string[] {
  const builtins = new Set(builtinModules);
  const packages = new Set(
    externals.filter((spec) => !spec.startsWith('node:') && !builtins.has(spec.split('/')[0] ?? spec)).map(packageNameOf),
  );
  return [...packages].filter((name) => !(name in dependencies)).sort();
}
