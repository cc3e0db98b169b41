import { commonKeys, key, loadConfig, type ConfigOf } from '@meetedge/service-kit';

/** Keys of the all-in-one process; each service's own keys are fixed here. */
export const allInOneConfigSpec = {
  ...commonKeys,
  dashboardPort: key.port('MEETEDGE_DASHBOARD_PORT', { doc: 'HTTP port of the control plane', default: 8080 }),
  dashboardGrpcPort: key.port('MEETEDGE_DASHBOARD_GRPC_PORT', { doc: 'gRPC port of the cloud zone controller', default: 8081 }),
  zcpPort: key.port('MEETEDGE_ZCP_PORT', { doc: 'HTTP port of the first zone controller proxy (zcp-1)', default: 8090 }),
  zcpGrpcPort: key.port('MEETEDGE_ZCP_GRPC_PORT', { doc: 'gRPC port zcp-1 takes module registrations on', default: 8091 }),
  zcp2Port: key.port('MEETEDGE_ZCP2_PORT', { doc: 'HTTP port of the second zone controller proxy (zcp-2)', default: 8092 }),
  zcp2GrpcPort: key.port('MEETEDGE_ZCP2_GRPC_PORT', { doc: 'gRPC port zcp-2 takes module registrations on', default: 8093 }),
  sfuPort: key.port('MEETEDGE_SFU_PORT', { doc: 'HTTP port of the first edge module (sfu-1)', default: 8100 }),
  sfu2Port: key.port('MEETEDGE_SFU2_PORT', { doc: 'HTTP port of the second edge module (sfu-2)', default: 8101 }),
  cloudMmrPort: key.port('MEETEDGE_CLOUD_MMR_PORT', { doc: 'HTTP port of the cloud MMR', default: 8110 }),
  sfuMediaPort: key.port('MEETEDGE_SFU_MEDIA_PORT', { doc: 'media port (UDP, and TCP for ICE-TCP) of sfu-1', default: 8801 }),
  sfu2MediaPort: key.port('MEETEDGE_SFU2_MEDIA_PORT', { doc: 'media port (UDP, and TCP for ICE-TCP) of sfu-2', default: 8803 }),
  cloudMmrMediaPort: key.port('MEETEDGE_CLOUD_MMR_MEDIA_PORT', { doc: 'media port of the cloud MMR', default: 8802 }),
  cloudMmrCascadePort: key.port('MEETEDGE_CLOUD_MMR_CASCADE_PORT', { doc: 'Cascade gRPC port of the cloud MMR (modules link cloud-hybrid meetings to it)', default: 9701 }),
  sfuCascadePort: key.port('MEETEDGE_SFU_CASCADE_PORT', { doc: 'Cascade gRPC port of sfu-1', default: 9702 }),
  sfu2CascadePort: key.port('MEETEDGE_SFU2_CASCADE_PORT', { doc: 'Cascade gRPC port of sfu-2', default: 9703 }),
};

export type AllInOneConfig = ConfigOf<typeof allInOneConfigSpec>;

export function loadAllInOneConfig(env: Readonly<Record<string, string | undefined>>): AllInOneConfig {
  return loadConfig(allInOneConfigSpec, env);
}
