export { buildApp, type SfuDeps } from './app';
export { loadSfuConfig, sfuConfigSpec, type SfuConfig } from './config';
