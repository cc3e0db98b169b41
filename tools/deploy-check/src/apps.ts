/**
 * What the deployment files may say about each app: the MEETEDGE_* keys it
 * accepts and the ports it listens on by default, read from each app's own
 * config spec (apps/<app>/src/config.ts), so the checks cannot drift from
 * what the apps really accept.
 */
import { dashboardConfigSpec } from '@meetedge/dashboard';
import { loadConfig, type ConfigSpec } from '@meetedge/service-kit';
import { sfuConfigSpec } from '@meetedge/sfu';
import { zcpConfigSpec } from '@meetedge/zcp';

/** Which port a MEETEDGE_* key configures, and how it must be published. */
export const PORT_KEYS = {
  /** HTTP (health, metrics, APIs): TCP, any host port. */
  http: 'MEETEDGE_HTTP_PORT',
  /** gRPC between services: TCP, usually only on the compose network (expose). */
  grpc: 'MEETEDGE_GRPC_PORT',
  /** WebRTC media: UDP and TCP, host port = container port (announced in ICE candidates). */
  media: 'MEETEDGE_MEDIA_PORT',
} as const;

export type PortRole = keyof typeof PORT_KEYS;

export interface AppFacts {
  /** Every MEETEDGE_* environment variable the app accepts. */
  readonly keys: readonly string[];
  /** Port of each role the app listens on when its key is not set. */
  readonly defaultPorts: Readonly<Partial<Record<PortRole, number>>>;
  /** Problems the app itself would stop at boot with, given this environment (its own config loader). */
  bootProblem(env: Readonly<Record<string, string>>): string | undefined;
}

function factsOf(spec: ConfigSpec): AppFacts {
  const keys = Object.values(spec).map((key) => key.env);
  const defaultPorts: Partial<Record<PortRole, number>> = {};
  for (const [role, env] of Object.entries(PORT_KEYS) as [PortRole, string][]) {
    const key = Object.values(spec).find((k) => k.env === env);
    if (key && typeof key.default === 'number') defaultPorts[role] = key.default;
  }
  const bootProblem = (env: Readonly<Record<string, string>>): string | undefined => {
    try {
      loadConfig(spec, env);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
  return { keys, defaultPorts, bootProblem };
}

/** Apps a compose service may run (build arg APP), by name. */
export const APPS: Readonly<Record<string, AppFacts>> = {
  sfu: factsOf(sfuConfigSpec),
  zcp: factsOf(zcpConfigSpec),
  dashboard: factsOf(dashboardConfigSpec),
};
