/**
 * The whole system in one process on the in-memory cluster state: the control
 * plane, one zone ("local") with two ZCPs and two edge modules, and the cloud
 * MMR. Each service is built by its own app's `buildApp` from a config
 * validated by that app's own spec, exactly as when it runs alone; the
 * modules register with both ZCPs over gRPC on loopback, as they would across
 * machines.
 */
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { generateTicketKeys, type MemberClaims } from '@meetedge/core';
import { loadDashboardConfig, buildApp as buildDashboard, type DashboardService } from '@meetedge/dashboard';
import { MemoryDirectory } from '@meetedge/directory';
import { createServiceMetrics, type Logger, type Service } from '@meetedge/service-kit';
import { buildApp as buildSfu, loadSfuConfig } from '@meetedge/sfu';
import { MemoryClusterState, type ClusterState } from '@meetedge/state';
import { buildApp as buildZcp, loadZcpConfig, type ZcpService } from '@meetedge/zcp';
import type { AllInOneConfig } from './config';

/** A host for a URL: an IPv6 address in brackets, the wildcard as loopback. */
function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** The zone the all-in-one runs. */
export const LOCAL_ZONE = 'local';

export interface AllInOneSystem {
  readonly state: ClusterState;
  readonly dashboard: DashboardService;
  readonly zcps: readonly ZcpService[];
  /** Signs join tickets for this process's modules (the ZCPs mint them; tests and tools can too). */
  readonly ticketPrivateKey: KeyObject;
  /** In start order; stop in reverse. Names are unique (zcp-1, zcp-2, sfu-1, ...). */
  readonly services: Service[];
}

/** The same service under another name (two ZCPs, two modules in one process). */
function named<S extends Service>(service: S, name: string): S {
  return { ...service, name };
}

export function buildSystem(config: AllInOneConfig, logger: Logger): AllInOneSystem {
  const state = new MemoryClusterState();
  const tickets = generateTicketKeys();
  const ticketPublicKey = tickets.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const host = hostForUrl(config.httpHost);
  const common = { MEETEDGE_HTTP_HOST: config.httpHost, MEETEDGE_LOG_LEVEL: config.logLevel };
  const onMemory = { MEETEDGE_STATE: 'memory' };
  // Media binds where HTTP does (loopback by default: a laptop's demo stays on the laptop).
  const mediaListenIp = isIP(config.httpHost) ? config.httpHost : '0.0.0.0';
  const cloudMmrUrl = `ws://${host}:${config.cloudMmrPort}/v1/media`;
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
      MEETEDGE_PUBLIC_URL: `http://${host}:${config.dashboardPort}`,
      MEETEDGE_CLOUD_MMR_URL: cloudMmrUrl,
      MEETEDGE_CLOUD_MMR_CASCADE_ADDRESS: `${host}:${config.cloudMmrCascadePort}`,
    }),
    // One process: Node's process metrics are reported once, by the control plane.
    { logger, directory: new MemoryDirectory(), ownsDirectory: true, metrics: createServiceMetrics('dashboard', true) },
  );
  const zcps = [
    { id: 'zcp-1', port: config.zcpPort, grpcPort: config.zcpGrpcPort },
    { id: 'zcp-2', port: config.zcp2Port, grpcPort: config.zcp2GrpcPort },
  ].map(({ id, port, grpcPort }) =>
    named(
      buildZcp(
        loadZcpConfig({
          ...common,
          ...onMemory,
          MEETEDGE_HTTP_PORT: String(port),
          MEETEDGE_GRPC_PORT: String(grpcPort),
          MEETEDGE_ZCP_ID: id,
          MEETEDGE_ZONE_ID: LOCAL_ZONE,
          // The join API: the control plane's token key, this process's ticket key, its zone controller and cloud MMR.
          MEETEDGE_TOKEN_PUBLIC_KEY: tokenKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          MEETEDGE_TICKET_PRIVATE_KEY: tickets.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          MEETEDGE_CLOUD_MMR_URL: cloudMmrUrl,
        }),
        // Read at the first join, after the control plane started (with port 0, its port is known only then).
        { logger, state, metrics: createServiceMetrics('zcp', false), zoneControllerAddress: () => `${host}:${dashboard.grpcPort()}` },
      ),
      id,
    ),
  );
  // The modules start after the ZCPs, so the ZCPs' gRPC ports are known (port 0 in tests).
  const zcpAddresses = () => zcps.map((z) => `${host}:${z.grpcPort()}`);
  const modules = [
    { id: 'sfu-1', port: config.sfuPort, mediaPort: config.sfuMediaPort, cascadePort: config.sfuCascadePort },
    { id: 'sfu-2', port: config.sfu2Port, mediaPort: config.sfu2MediaPort, cascadePort: config.sfu2CascadePort },
  ].map(({ id, port, mediaPort, cascadePort }) =>
    named(
      buildSfu(
        loadSfuConfig({
          ...common,
          ...onMemory,
          MEETEDGE_HTTP_PORT: String(port),
          MEETEDGE_MEDIA_PORT: String(mediaPort),
          MEETEDGE_CASCADE_PORT: String(cascadePort),
          MEETEDGE_MEDIA_LISTEN_IP: mediaListenIp,
          MEETEDGE_MODULE_ID: id,
          MEETEDGE_ZONE_ID: LOCAL_ZONE,
          MEETEDGE_NODE_ID: 'node-1',
          MEETEDGE_ROLE: 'edge',
          MEETEDGE_TICKET_PUBLIC_KEY: ticketPublicKey,
        }),
        { logger, state, metrics: createServiceMetrics('sfu', false), zcpAddresses },
      ),
      id,
    ),
  );
  const cloudMmr = buildSfu(
    loadSfuConfig({
      ...common,
      ...onMemory,
      MEETEDGE_HTTP_PORT: String(config.cloudMmrPort),
      MEETEDGE_MEDIA_PORT: String(config.cloudMmrMediaPort),
      MEETEDGE_CASCADE_PORT: String(config.cloudMmrCascadePort),
      MEETEDGE_MEDIA_LISTEN_IP: mediaListenIp,
      MEETEDGE_MODULE_ID: 'cloud-mmr-1',
      MEETEDGE_ZONE_ID: 'cloud',
      MEETEDGE_NODE_ID: 'cloud-node-1',
      MEETEDGE_ROLE: 'cloud',
      MEETEDGE_TICKET_PUBLIC_KEY: ticketPublicKey,
    }),
    { logger, state, metrics: createServiceMetrics('cloud-mmr', false) },
  );
  return { state, dashboard, zcps, ticketPrivateKey: tickets.privateKey, services: [dashboard, ...zcps, ...modules, cloudMmr] };
}

/** The demo the all-in-one mode starts with: who to sign in as, and a meeting. */
export const DEMO = {
  account: 'Demo Company',
  email: 'admin@demo.meetedge.local',
  password: 'meetedge-demo',
  displayName: 'Demo Admin',
  meeting: 'Demo meeting',
} as const;

/**
 * Seeds the demo account (its admin), its zone "local" as an admin would set
 * it up (one node with the two ZCPs, at their real URLs, and the two
 * modules) and one cloud-hybrid meeting hosted by the admin. Runs after
 * start: the ZCPs' URLs are what clients are given.
 */
export async function seedDemo(system: AllInOneSystem, zcpUrls: readonly string[]): Promise<{ meetingId: string; admin: MemberClaims }> {
  const cp = system.dashboard.controlPlane;
  const { user } = await cp.createAccount({ name: DEMO.account, admin: { email: DEMO.email, displayName: DEMO.displayName, password: DEMO.password } }, true);
  const admin = { kind: 'member' as const, userId: user.id, accountId: user.accountId, role: 'admin' as const, displayName: user.displayName };
  await cp.createZone(admin, { name: 'Local', id: LOCAL_ZONE });
  const node = await cp.createNode(admin, LOCAL_ZONE, { name: 'node-1', address: '127.0.0.1' });
  for (const [i, zcp] of system.zcps.entries()) await cp.assignModule(admin, node.id, { id: zcp.name, kind: 'zcp', url: zcpUrls[i] ?? '' });
  for (const id of ['sfu-1', 'sfu-2']) await cp.assignModule(admin, node.id, { id, kind: 'sfu' });
  const meeting = await cp.scheduleMeeting(admin, { topic: DEMO.meeting, mode: 'cloud-hybrid' });
  return { meetingId: meeting.id, admin };
}
