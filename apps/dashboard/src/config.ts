import { commonKeys, key, loadConfig, type ConfigOf } from '@meetedge/service-kit';

/** Every key the control plane accepts (see docs/configuration.md). */
export const dashboardConfigSpec = {
  ...commonKeys,
  httpPort: key.port('MEETEDGE_HTTP_PORT', { doc: 'HTTP port: REST API, web UI, /healthz, /metrics', default: 8080 }),
};

export type DashboardConfig = ConfigOf<typeof dashboardConfigSpec>;

export function loadDashboardConfig(env: Readonly<Record<string, string | undefined>>): DashboardConfig {
  return loadConfig(dashboardConfigSpec, env);
}
