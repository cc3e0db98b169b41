/**
 * A whole meetedge deployment as processes on loopback, for the bench's
 * multi-process scenarios (placement.ts, hybrid.ts): a private redis-server
 * (@meetedge/test-kit `startRedis`, a free port, never 6379), the control
 * plane (apps/dashboard: REST API, cloud meeting server, cloud zone
 * controller; sign-up open), two ZCPs of zone "hq" (apps/zcp), the zone's
 * modules (apps/sfu, registered with both ZCPs) and, when asked, the cloud
 * MMR (apps/sfu with MEETEDGE_ROLE=cloud, announced to the control plane as
 * MEETEDGE_CLOUD_MMR_ID / _URL / _CASCADE_ADDRESS, as docker-compose.yml
 * does). Each is `node --import tsx apps/<app>/src/main.ts` with its
 * environment (proc.ts `spawnNode`: children end with the bench), logs at
 * warn (BENCH_SERVICE_LOG_LEVEL=info for more). The bench creates an account
 * and the zone through the REST API, and signs member access tokens with the
 * control plane's key (what its sign-in would return, without a scrypt hash
 * per participant).
 */
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { AccountId, UserId, generateTicketKeys, signAccessToken, type AccessClaims } from '@meetedge/core';
import { RedisClusterState } from '@meetedge/state';
import { startRedis, type TestRedis } from '@meetedge/test-kit';
import { LOOPBACK } from './peers';
import { childPidsNamed, freeTcpPort, freeUdpPort, sleep, spawnNode, stopChild, waitForHttp } from './proc';

export const ZONE = 'hq';
export const ZCP_IDS = ['zcp-1', 'zcp-2'] as const;
/** The cloud MMR's module id (the control plane's MEETEDGE_CLOUD_MMR_ID default). */
export const CLOUD_MMR_ID = 'cloud-mmr-1';
const LIFETIME_MS = 30 * 60_000;

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
}

export interface DeploymentOptions {
  modules: number;
  /** MEETEDGE_CAPACITY_UNITS of each module. */
  capacityUnits: number;
  /** MEETEDGE_TICKET_TTL_MS of the ZCPs (default theirs, 60 s). */
  ticketTtlMs?: number;
  /**
   * Also start the cloud MMR, and record the zone's ZCPs (with their URLs)
   * and modules in the control plane's directory, as an admin does: the join
   * answer then names the zone's ZCPs, and the cloud meeting server counts a
   * participant's `media-attached` to a module of the account in the zone's
   * cascade needs.
   */
  cloud?: boolean;
  log(message: string): void;
}

/** Spawns an app with its environment and waits for its /healthz. */
async function startService(name: string, script: string, httpPort: number, env: Record<string, string>): Promise<Service> {
  const child = spawnNode(script, { ...env, MEETEDGE_HTTP_PORT: String(httpPort), MEETEDGE_LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn' }, LIFETIME_MS);
  if (child.pid === undefined) throw new Error(`${name} did not start`);
  const url = `http://${LOOPBACK}:${httpPort}`;
  await waitForHttp(`${url}/healthz`, 90_000, child);
  return { name, child, pid: child.pid, url };
}

const pem = (k: ReturnType<typeof generateTicketKeys>) => ({
  pub: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  priv: k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
});

export interface ZoneModule {
  id: string;
  capacityUnits: number;
  reservedUnits: number;
}

/** The running deployment: Redis, the control plane, the ZCPs, the modules (and the cloud MMR). */
export class Deployment {
  redis: TestRedis | undefined;
  redisPid: number | undefined;
  state: RedisClusterState | undefined;
  dashboard: Service | undefined;
  readonly zcps: Service[] = [];
  readonly modules: Service[] = [];
  cloudMmr: Service | undefined;
  /** The control plane's access-token keys (the bench signs member tokens with them). */
  readonly tokenKeys = generateTicketKeys();
  /** The zone's ticket keys (the ZCPs sign with them; every module and the cloud MMR verify). */
  readonly ticketKeys = generateTicketKeys();
  accountId = AccountId('none');
  private adminToken = '';

  constructor(private readonly options: DeploymentOptions) {}

  async start(): Promise<void> {
    const { log } = this.options;
    this.redis = await startRedis();
    // startRedis does not say its pid: the redis-server child of this process (for its CPU).
    this.redisPid = childPidsNamed('redis-server').sort((a, b) => b - a)[0];
    this.state = new RedisClusterState({ url: this.redis.url });
    const onRedis = { MEETEDGE_STATE: 'redis', MEETEDGE_REDIS_URL: this.redis.url };
    const [dashboardHttp, dashboardGrpc] = [await freeTcpPort(), await freeTcpPort()];
    const cloud = this.options.cloud ? { http: await freeTcpPort(), media: await freeUdpPort(), cascade: await freeTcpPort() } : undefined;
    // Without the cloud MMR the ZCPs still need its URL (they would send an overflow there).
    const cloudMmrUrl = `ws://${LOOPBACK}:${cloud?.http ?? 8110}/v1/media`;
    log(`redis-server on ${this.redis.url} (pid ${this.redisPid ?? '?'}); starting the control plane`);
    this.dashboard = await startService('control-plane', 'apps/dashboard/src/main.ts', dashboardHttp, {
      ...onRedis,
      MEETEDGE_PUBLIC_URL: `http://${LOOPBACK}:${dashboardHttp}`,
      MEETEDGE_GRPC_PORT: String(dashboardGrpc),
      MEETEDGE_TOKEN_PRIVATE_KEY: pem(this.tokenKeys).priv,
      MEETEDGE_SIGNUP: 'open',
      ...(cloud
        ? { MEETEDGE_CLOUD_MMR_URL: cloudMmrUrl, MEETEDGE_CLOUD_MMR_ID: CLOUD_MMR_ID, MEETEDGE_CLOUD_MMR_CASCADE_ADDRESS: `${LOOPBACK}:${cloud.cascade}` }
        : {}),
    });
    const created = await this.api<{ accessToken: string; account: { id: string } }>('POST', '/v1/accounts', {
      name: 'Bench',
      admin: { email: 'ada@bench.example', displayName: 'Ada', password: 'correct horse battery' },
    });
    this.adminToken = created.accessToken;
    this.accountId = AccountId(created.account.id);
    await this.api('POST', '/v1/zones', { name: 'HQ', id: ZONE });

    if (cloud) {
      log(`starting the cloud MMR (${CLOUD_MMR_ID})`);
      this.cloudMmr = await startService(CLOUD_MMR_ID, 'apps/sfu/src/main.ts', cloud.http, {
        ...onRedis,
        MEETEDGE_MODULE_ID: CLOUD_MMR_ID,
        MEETEDGE_ZONE_ID: 'cloud',
        MEETEDGE_NODE_ID: 'cloud-node-1',
        MEETEDGE_ROLE: 'cloud',
        MEETEDGE_MEDIA_PORT: String(cloud.media),
        MEETEDGE_CASCADE_PORT: String(cloud.cascade),
        MEETEDGE_MEDIA_LISTEN_IP: LOOPBACK,
        MEETEDGE_ANNOUNCED_IP: LOOPBACK,
        MEETEDGE_CAPACITY_UNITS: String(this.options.capacityUnits),
        MEETEDGE_TICKET_PUBLIC_KEY: pem(this.ticketKeys).pub,
      });
    }

    const zcpGrpc: number[] = [];
    for (const id of ZCP_IDS) {
      const [http, grpc] = [await freeTcpPort(), await freeTcpPort()];
      zcpGrpc.push(grpc);
      log(`starting ${id}`);
      this.zcps.push(
        await startService(id, 'apps/zcp/src/main.ts', http, {
          ...onRedis,
          MEETEDGE_ZCP_ID: id,
          MEETEDGE_ZONE_ID: ZONE,
          MEETEDGE_GRPC_PORT: String(grpc),
          MEETEDGE_TOKEN_PUBLIC_KEY: pem(this.tokenKeys).pub,
          MEETEDGE_TICKET_PRIVATE_KEY: pem(this.ticketKeys).priv,
          ...(this.options.ticketTtlMs !== undefined ? { MEETEDGE_TICKET_TTL_MS: String(this.options.ticketTtlMs) } : {}),
          MEETEDGE_ZONE_CONTROLLER_ADDRESS: `${LOOPBACK}:${dashboardGrpc}`,
          MEETEDGE_CLOUD_MMR_URL: cloudMmrUrl,
        }),
      );
    }
    for (let m = 1; m <= this.options.modules; m++) {
      const id = `sfu-${m}`;
      const [http, media] = [await freeTcpPort(), await freeUdpPort()];
      log(`starting ${id} (${this.options.capacityUnits} units)`);
      this.modules.push(
        await startService(id, 'apps/sfu/src/main.ts', http, {
          ...onRedis,
          MEETEDGE_MODULE_ID: id,
          MEETEDGE_ZONE_ID: ZONE,
          MEETEDGE_NODE_ID: `node-${id}`,
          MEETEDGE_MEDIA_PORT: String(media),
          // The module's Cascade gRPC server: any free port (several modules on one machine).
          MEETEDGE_CASCADE_PORT: '0',
          MEETEDGE_MEDIA_LISTEN_IP: LOOPBACK,
          MEETEDGE_ANNOUNCED_IP: LOOPBACK,
          MEETEDGE_CAPACITY_UNITS: String(this.options.capacityUnits),
          MEETEDGE_TICKET_PUBLIC_KEY: pem(this.ticketKeys).pub,
          MEETEDGE_ZCP_ADDRESSES: zcpGrpc.map((p) => `${LOOPBACK}:${p}`).join(','),
        }),
      );
    }
    if (cloud) {
      // The zone as an admin records it (at most 4 modules a node): the ZCPs on one node, each module on its own.
      const zcpNode = await this.api<{ id: string }>('POST', `/v1/zones/${ZONE}/nodes`, { name: 'zcp-node', address: LOOPBACK });
      for (const z of this.zcps) await this.api('POST', `/v1/nodes/${zcpNode.id}/modules`, { id: z.name, kind: 'zcp', url: z.url });
      for (const s of this.modules) {
        const node = await this.api<{ id: string }>('POST', `/v1/zones/${ZONE}/nodes`, { name: `node-${s.name}`, address: LOOPBACK });
        await this.api('POST', `/v1/nodes/${node.id}/modules`, { id: s.name, kind: 'sfu' });
      }
    }
    const deadline = performance.now() + 30_000;
    while ((await this.zoneModules(0)).length < this.options.modules) {
      if (performance.now() > deadline) throw new Error(`${this.options.modules} modules did not register within 30 s`);
      await sleep(200);
    }
  }

  /** A control-plane REST call as the account's admin (`token` instead: as someone else; null: nobody). */
  async api<T>(method: 'POST' | 'GET', path: string, body?: unknown, token: string | null = this.adminToken): Promise<T> {
    const response = await fetch(`${this.dashboard?.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  /** GET /v1/zone/modules on one ZCP. */
  async zoneModules(zcp: number): Promise<ZoneModule[]> {
    const response = await fetch(`${this.zcps[zcp]?.url}/v1/zone/modules`);
    if (!response.ok) throw new Error(`GET /v1/zone/modules on ${ZCP_IDS[zcp]}: ${response.status}`);
    return ((await response.json()) as { modules: ZoneModule[] }).modules;
  }

  memberToken(userId: string): string {
    const issuedAt = Math.floor(Date.now() / 1000);
    const claims: AccessClaims = { kind: 'member', userId: UserId(userId), accountId: this.accountId, role: 'member', displayName: userId, tokenId: `t-${userId}`, issuedAt, expiresAt: issuedAt + 900 };
    return signAccessToken(claims, this.tokenKeys.privateKey);
  }

  /** Every process the bench measures, by name (the bench itself apart). */
  pids(): Map<string, number> {
    const pids = new Map<string, number>();
    for (const s of [...this.zcps, ...(this.dashboard ? [this.dashboard] : []), ...this.modules, ...(this.cloudMmr ? [this.cloudMmr] : [])]) pids.set(s.name, s.pid);
    if (this.redisPid !== undefined) pids.set('redis', this.redisPid);
    return pids;
  }

  async stop(): Promise<void> {
    // Media servers first: a module whose ZCPs went away first only logs its reconnects.
    await Promise.allSettled([...this.modules, ...(this.cloudMmr ? [this.cloudMmr] : [])].map((s) => stopChild(s.child)));
    await Promise.allSettled(this.zcps.map((s) => stopChild(s.child)));
    if (this.dashboard) await stopChild(this.dashboard.child);
    await this.state?.close().catch(() => undefined);
    await this.redis?.stop();
  }
}
