import { openDirectory } from '@meetedge/directory';
import { createLogger, runMain } from '@meetedge/service-kit';
import { buildApp } from './app';
import { loadDashboardConfig } from './config';

void runMain(async () => {
  const config = loadDashboardConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const directory = await openDirectory(config, logger);
  return { logger, services: [buildApp(config, { logger, directory, ownsDirectory: true })] };
});
