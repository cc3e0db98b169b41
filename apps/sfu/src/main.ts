import { createLogger, runMain } from '@meetedge/service-kit';
import { openClusterState } from '@meetedge/state';
import { buildApp } from './app';
import { loadSfuConfig } from './config';

void runMain(async () => {
  const config = loadSfuConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const state = await openClusterState(config, logger);
  return { logger, services: [buildApp(config, { logger, state, ownsState: true })] };
});
