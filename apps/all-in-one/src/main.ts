/**
 * `npm start`: the whole system in one process, nothing else needed.
 */
import { createLogger, runMain } from '@meetedge/service-kit';
import { loadAllInOneConfig } from './config';
import { buildSystem } from './system';

void runMain(async () => {
  const config = loadAllInOneConfig(process.env);
  const logger = createLogger({ level: config.logLevel, bindings: { mode: 'all-in-one' } });
  const system = buildSystem(config, logger);
  return {
    logger,
    services: system.services,
    afterClose: () => system.state.close(),
    onStarted: (urls) => {
      const lines = system.services.map((s, i) => `  ${s.name.padEnd(10)} ${urls[i]}   health: ${urls[i]}/healthz   metrics: ${urls[i]}/metrics`);
      process.stdout.write(`\nmeetedge is running (all-in-one, in-memory state). Ctrl-C stops it.\n${lines.join('\n')}\n\n`);
    },
  };
});
