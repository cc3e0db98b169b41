/**
 * The whole system in one process on the in-memory cluster state: the control
 * plane, one zone ("local") with its ZCP and edge module, and the cloud MMR.
 * Each service is built by its own app's `buildApp` from a config validated by
 * that app's own spec, exactly as when it runs alone.
 */
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { generateTicketKeys } from '@meetedge/core';
import { loadDashboardConfig, buildApp as buildDashboard, type DashboardService } from '@meetedge/dashboard';
import { MemoryDirectory } from '@meetedge/directory';
import { createServiceMetrics, type Logger, type Service } from '@meetedge/service-kit';
import { buildApp as buildSfu, loadSfuConfig } from '@meetedge/sfu';
import { MemoryClusterState, type ClusterState } from '@meetedge/state';
import { buildApp as buildZcp, loadZcpConfig } from '@meetedge/zcp';
import type { AllInOneConfig } from './config';

/** A host for a URL: an IPv6 address in brackets, the wildcard as loopback. */
function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return isIP(host) === 6 ? `[${host}]` : host;
}

export interface AllInOneSystem {
  readonly state: ClusterState;
  readonly dashboard: DashboardService;
  /** Signs join tickets for this process's modules (the ZCP will mint them; tests and tools can too). */
  readonly ticketPrivateKey: KeyObject;
  /** In start order; stop in reverse. */
  readonly services: Service[];
}

export function buildSystem(config: AllInOneConfig, logger: Logger): AllInOneSystem {
  const state = new MemoryClusterState();
  const tickets = generateTicketKeys();
  const ticketPublicKey = tickets.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const common = { MEETEDGE_HTTP_HOST: config.httpHost, MEETEDGE_LOG_LEVEL: config.logLevel };
  const onMemory = { MEETEDGE_STATE: 'memory' };
  // Media binds where HTTP does (loopback by default: a laptop's demo stays on the laptop).
  const mediaListenIp = isIP(config.httpHost) ? config.httpHost : '0.0.0.0';
  // Access tokens: a key pair made at start (tokens die with the process).
  const tokenKeys = generateTicketKeys();
  const tokenKey = tokenKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const dashboard = buildDashboard(
    loadDashboardConfig({
      ...common,
      ...onMemory,
      MEETEDGE_HTTP_PORT: String(config.dashboardPort),
      MEETEDGE_GRPC_PORT: String(config.dashboardGrpcPort),
      MEETEDGE_TOKEN_PRIVATE_KEY: tokenKey,
      // What clients are told; with port 0 (tests) the real ports are only known after start.
      MEETEDGE_PUBLIC_URL: `http://${hostForUrl(config.httpHost)}:${config.dashboardPort}`,
      MEETEDGE_CLOUD_MMR_URL: `ws://${hostForUrl(config.httpHost)}:${config.cloudMmrPort}/v1/media`,
    }),
    // One process: Node's process metrics are reported once, by the control plane.
    { logger, directory: new MemoryDirectory(), ownsDirectory: true, metrics: createServiceMetrics('dashboard', true) },
  );
  const zcp = buildZcp(
    loadZcpConfig({
      ...common,
      ...onMemory,
      MEETEDGE_HTTP_PORT: String(config.zcpPort),
      // The modules of this process do not register over gRPC; any free port keeps 8091 for a real ZCP.
      MEETEDGE_GRPC_PORT: '0',
      MEETEDGE_ZCP_ID: 'zcp-1',
      MEETEDGE_ZONE_ID: 'local',
      // The join API: the control plane's token key, this process's ticket key, its zone controller and cloud MMR.
      MEETEDGE_TOKEN_PUBLIC_KEY: tokenKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      MEETEDGE_TICKET_PRIVATE_KEY: tickets.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      MEETEDGE_ZONE_CONTROLLER_ADDRESS: `${hostForUrl(config.httpHost)}:${config.dashboardGrpcPort}`,
      MEETEDGE_CLOUD_MMR_URL: `ws://${hostForUrl(config.httpHost)}:${config.cloudMmrPort}/v1/media`,
    }),
    { logger, state, metrics: createServiceMetrics('zcp', false) },
  );
  const sfu = buildSfu(
    loadSfuConfig({
      ...common,
      ...onMemory,
      MEETEDGE_HTTP_PORT: String(config.sfuPort),
      MEETEDGE_MEDIA_PORT: String(config.sfuMediaPort),
      MEETEDGE_MEDIA_LISTEN_IP: mediaListenIp,
      MEETEDGE_MODULE_ID: 'sfu-1',
      MEETEDGE_ZONE_ID: 'local',
      MEETEDGE_NODE_ID: 'node-1',
      MEETEDGE_ROLE: 'edge',
      MEETEDGE_TICKET_PUBLIC_KEY: ticketPublicKey,
    }),
    { logger, state, metrics: createServiceMetrics('sfu', false) },
  );
  const cloudMmr = buildSfu(
    loadSfuConfig({
      ...common,
      ...onMemory,
      MEETEDGE_HTTP_PORT: String(config.cloudMmrPort),
      MEETEDGE_MEDIA_PORT: String(config.cloudMmrMediaPort),
      MEETEDGE_MEDIA_LISTEN_IP: mediaListenIp,
      MEETEDGE_MODULE_ID: 'cloud-mmr-1',
      MEETEDGE_ZONE_ID: 'cloud',
      MEETEDGE_NODE_ID: 'cloud-node-1',
      MEETEDGE_ROLE: 'cloud',
      MEETEDGE_TICKET_PUBLIC_KEY: ticketPublicKey,
    }),
    { logger, state, metrics: createServiceMetrics('cloud-mmr', false) },
  );
  return { state, dashboard, ticketPrivateKey: tickets.privateKey, services: [dashboard, zcp, sfu, cloudMmr] };
}

/** The demo the all-in-one mode starts with: who to sign in as, and a meeting. */
export const DEMO = {
  account: 'Demo Company',
  email: 'admin@demo.meetedge.local',
  password: 'meetedge-demo',
  displayName: 'Demo Admin',
  meeting: 'Demo meeting',
} as const;

/** Seeds the demo account (its admin) and one cloud-hybrid meeting hosted by the admin. */
export async function seedDemo(system: AllInOneSystem): Promise<{ meetingId: string }> {
  const cp = system.dashboard.controlPlane;
  const { user } = await cp.createAccount({ name: DEMO.account, admin: { email: DEMO.email, displayName: DEMO.displayName, password: DEMO.password } }, true);
  const admin = { kind: 'member' as const, userId: user.id, accountId: user.accountId, role: 'admin' as const, displayName: user.displayName };
  const meeting = await cp.scheduleMeeting(admin, { topic: DEMO.meeting, mode: 'cloud-hybrid' });
  return { meetingId: meeting.id };
}
