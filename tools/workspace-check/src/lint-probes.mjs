// Lints sources as if they lived at the given paths, with the workspace's
// eslint.config.mjs. Reads [{ file, source }] as JSON on stdin and writes
// [[ "ruleId: message", ... ], ...] as JSON on stdout. A separate process
// because ESLint loads its flat config with a dynamic import, which jest's
// module sandbox does not support.
import path from 'node:path';
import { ESLint } from 'eslint';

const root = path.resolve(import.meta.dirname, '../../..');
const eslint = new ESLint({ cwd: root });
let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const { file, source } of JSON.parse(input)) {
  const [result] = await eslint.lintText(source, { filePath: path.join(root, file) });
  out.push((result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`));
}
process.stdout.write(JSON.stringify(out));
