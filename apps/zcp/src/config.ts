import { ZcpId, ZoneId } from '@meetedge/core';
import { commonKeys, key, loadConfig, stateKeys, type ConfigOf } from '@meetedge/service-kit';

/** Every key the zone controller proxy accepts (see docs/configuration.md). */
export const zcpConfigSpec = {
  ...commonKeys,
  ...stateKeys,
  httpPort: key.port('MEETEDGE_HTTP_PORT', { doc: 'HTTP port: join API, /healthz, /metrics', default: 8090 }),
  zcpId: key.id('MEETEDGE_ZCP_ID', ZcpId, { doc: 'this ZCP\'s id, unique in its zone' }),
  zoneId: key.id('MEETEDGE_ZONE_ID', ZoneId, { doc: 'the zone (location) whose modules this ZCP serves' }),
};

export type ZcpConfig = ConfigOf<typeof zcpConfigSpec>;

export function loadZcpConfig(env: Readonly<Record<string, string | undefined>>): ZcpConfig {
  return loadConfig(zcpConfigSpec, env);
}
