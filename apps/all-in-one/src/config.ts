import { commonKeys, key, loadConfig, type ConfigOf } from '@meetedge/service-kit';

/** Keys of the all-in-one process; each service's own keys are fixed here. */
export const allInOneConfigSpec = {
  ...commonKeys,
  dashboardPort: key.port('MEETEDGE_DASHBOARD_PORT', { doc: 'HTTP port of the control plane', default: 8080 }),
  dashboardGrpcPort: key.port('MEETEDGE_DASHBOARD_GRPC_PORT', { doc: 'gRPC port of the cloud zone controller', default: 8081 }),
  zcpPort: key.port('MEETEDGE_ZCP_PORT', { doc: 'HTTP port of the zone controller proxy', default: 8090 }),
  sfuPort: key.port('MEETEDGE_SFU_PORT', { doc: 'HTTP port of the edge SFU module', default: 8100 }),
  cloudMmrPort: key.port('MEETEDGE_CLOUD_MMR_PORT', { doc: 'HTTP port of the cloud MMR', default: 8110 }),
  sfuMediaPort: key.port('MEETEDGE_SFU_MEDIA_PORT', { doc: 'media port of the edge SFU module', default: 8801 }),
  cloudMmrMediaPort: key.port('MEETEDGE_CLOUD_MMR_MEDIA_PORT', { doc: 'media port of the cloud MMR', default: 8802 }),
};

export type AllInOneConfig = ConfigOf<typeof allInOneConfigSpec>;

export function loadAllInOneConfig(env: Readonly<Record<string, string | undefined>>): AllInOneConfig {
  return loadConfig(allInOneConfigSpec, env);
}
