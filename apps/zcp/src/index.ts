export { buildApp, type ZcpDeps, type ZcpService } from './app';
export { loadZcpConfig, zcpConfigSpec, type ZcpConfig } from './config';
