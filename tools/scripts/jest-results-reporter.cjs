// Writes each project's jest totals to tmp/test-results/<project>.json so
// that `npm test` can end with one line over every project
// (tools/scripts/test-summary.mjs). nx restores the file with a cached run.
const fs = require('node:fs');
const path = require('node:path');

class ResultsReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
  }

  onRunComplete(_contexts, results) {
    const dir = path.join(__dirname, '../../tmp/test-results');
    fs.mkdirSync(dir, { recursive: true });
    const name = path.basename(this.globalConfig.rootDir);
    const totals = {
      passed: results.numPassedTests,
      failed: results.numFailedTests,
      skipped: results.numPendingTests + results.numTodoTests,
      suitesFailed: results.numFailedTestSuites,
    };
    fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(totals));
  }
}

module.exports = ResultsReporter;
