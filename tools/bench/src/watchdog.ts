/**
 * Preloaded into every process the bench spawns (`node --import tsx --import
 * tools/bench/src/watchdog.ts …`): the child ends by itself when the bench
 * goes away (its stdin pipe closes) or after BENCH_MAX_LIFETIME_MS, first
 * with SIGTERM (a graceful stop), then for good 5 s later.
 */
function end(why: string): void {
  process.stderr.write(`bench watchdog (pid ${process.pid}): ${why}, ending\n`);
  setTimeout(() => process.exit(2), 5000).unref();
  process.kill(process.pid, 'SIGTERM');
}

const lifetimeMs = Number(process.env.BENCH_MAX_LIFETIME_MS ?? 30 * 60_000);
setTimeout(() => end(`lifetime of ${lifetimeMs} ms is over`), lifetimeMs).unref();

if (process.env.BENCH_WATCH_STDIN === '1') {
  process.stdin.on('end', () => end('the bench is gone (stdin closed)'));
  process.stdin.on('error', () => end('the bench is gone (stdin error)'));
  process.stdin.resume();
}

export {};
