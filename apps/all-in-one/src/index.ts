export { allInOneConfigSpec, loadAllInOneConfig, type AllInOneConfig } from './config';
export { buildSystem, type AllInOneSystem } from './system';
