export { buildApp, type ZcpDeps } from './app';
export { loadZcpConfig, zcpConfigSpec, type ZcpConfig } from './config';
