import { createLogger, runMain } from '@meetedge/service-kit';
import { buildApp } from './app';
import { loadDashboardConfig } from './config';

void runMain(async () => {
  const config = loadDashboardConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  return { logger, services: [buildApp(config, { logger })] };
});
