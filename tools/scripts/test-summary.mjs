// Prints one closing line over every project's jest run:
// "N passed, N failed" (and ", N skipped" when any were). Exits 1 when a
// test failed or no test ran at all.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = path.join(import.meta.dirname, '../../tmp/test-results');
let passed = 0;
let failed = 0;
let skipped = 0;
let projects = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const totals = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
  passed += totals.passed;
  failed += totals.failed + totals.suitesFailed;
  skipped += totals.skipped;
  projects += 1;
}
console.log(`tests of ${projects} projects:`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
