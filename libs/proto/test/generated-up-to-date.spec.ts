// The generated code in src/gen must be exactly what the .proto files and the
// pinned generator produce: nobody edits it by hand, and nobody forgets to
// regenerate after changing a .proto file.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';

const libRoot = resolve(__dirname, '..');
const committed = join(libRoot, 'src', 'gen');
const script = join(libRoot, 'scripts', 'generate.mjs');

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/** Differences between two trees, one line per file; empty when byte-identical. */
function diffTrees(expected: string, actual: string): string[] {
  const want = listFiles(expected);
  const have = listFiles(actual);
  const problems: string[] = [];
  for (const file of want) {
    if (!have.includes(file)) problems.push(`missing: ${file}`);
    else if (!readFileSync(join(expected, file)).equals(readFileSync(join(actual, file)))) problems.push(`differs: ${file}`);
  }
  for (const file of have) if (!want.includes(file)) problems.push(`not generated (stale or hand-written): ${file}`);
  return problems;
}

describe('generated code', () => {
  const temps: string[] = [];
  const temp = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'meetedge-proto-check-'));
    temps.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('src/gen is byte for byte what `npm run proto:gen` generates', () => {
    const fresh = temp();
    execFileSync(process.execPath, [script, '--out', fresh], { stdio: 'pipe' });
    expect(listFiles(fresh).length).toBeGreaterThan(0);
    const problems = diffTrees(fresh, committed);
    if (problems.length > 0) {
      throw new Error(`libs/proto/src/gen is out of date; run \`npm run proto:gen\`:\n  ${problems.join('\n  ')}`);
    }
  });

  it('the comparison catches an edited, a missing and an extra file', () => {
    const copy = temp();
    cpSync(committed, copy, { recursive: true });
    const [first, second] = listFiles(copy);
    if (!first || !second) throw new Error('expected at least two generated files');
    writeFileSync(join(copy, first), readFileSync(join(copy, first), 'utf8').replace('export', 'export '));
    rmSync(join(copy, second));
    writeFileSync(join(copy, 'extra.ts'), 'export {};\n');
    expect(diffTrees(committed, copy)).toEqual([
      `differs: ${first}`,
      `missing: ${second}`,
      'not generated (stale or hand-written): extra.ts',
    ]);
  });
});
