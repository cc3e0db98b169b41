export { buildApp, type SfuDeps, type SfuService } from './app';
export { loadSfuConfig, sfuConfigSpec, type SfuConfig } from './config';
