/**
 * A whole deployment as real processes on loopback, the way an operator runs
 * it on Redis: a private redis-server, the control plane (REST, cloud
 * meeting server, cloud zone controller), the ZCPs of one zone, its edge
 * modules (registered with every ZCP) and the cloud MMR. The account, the
 * zone and its ZCPs are recorded in the control plane through its REST API,
 * so `joinMeeting` of the SDK finds them as a real client does.
 */
import { AccountId, ModuleId, UserId, generateTicketKeys, signAccessToken, type AccessClaims } from '@meetedge/core';
import { RedisClusterState } from '@meetedge/state';
import { startRedis, waitFor, type TestRedis } from '@meetedge/test-kit';
import { freePort, kill, run, startedUrls, type Run } from './processes';

const pem = (k: ReturnType<typeof generateTicketKeys>) => ({
  pub: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  priv: k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
});

export interface DeploymentOptions {
  /** Ids of the zone's edge modules. */
  readonly modules: readonly string[];
  /** Capacity of each edge module, units. Default 400. */
  readonly capacityUnits?: number;
  /** The zone's id. Default "hq". */
  readonly zoneId?: string;
  /** How many ZCPs. Default 2. */
  readonly zcps?: number;
  /** More MEETEDGE_* settings of every edge module. */
  readonly moduleEnv?: Readonly<Record<string, string>>;
  /** Every service's log level. Default info (the `started` line the tests read is at info). */
  readonly logLevel?: string;
}

export interface Deployment {
  readonly redis: TestRedis;
  readonly state: RedisClusterState;
  readonly zoneId: string;
  readonly dashboardUrl: string;
  readonly adminToken: string;
  readonly accountId: AccountId;
  /** The ZCPs' HTTP URLs, by id. */
  readonly zcps: Map<string, { url: string; run: Run }>;
  /** The edge modules' processes, by id. */
  readonly modules: Map<string, Run>;
  readonly cloudMmr: { run: Run; url: string };
  /** A REST call to the control plane as the account's admin. */
  api<T>(method: 'POST' | 'GET', path: string, body?: unknown): Promise<T>;
  /** An access token of a member of the account, as sign-in would return it (without the password hash's cost). */
  memberToken(userId: string, role?: 'member' | 'admin'): string;
  /** Starts (or starts again, after a kill) an edge module and waits until every ZCP has it. */
  startModule(id: string): Promise<void>;
  /** Kills Redis (SIGKILL: everything in it is lost) and starts an empty one on the same port; resolves with when it died. */
  restartRedis(): Promise<number>;
  /** Kills every process and stops Redis. */
  close(): Promise<void>;
}

export async function startDeployment(options: DeploymentOptions): Promise<Deployment> {
  const tokenKeys = generateTicketKeys();
  const ticketKeys = generateTicketKeys();
  const zoneId = options.zoneId ?? 'hq';
  const processes: Run[] = [];
  let redis = await startRedis();
  const state = new RedisClusterState({ url: redis.url });
  const onRedis = { MEETEDGE_STATE: 'redis', MEETEDGE_REDIS_URL: redis.url, MEETEDGE_LOG_LEVEL: options.logLevel ?? 'info' };
  const [httpPort, grpcPort, cloudHttp, cloudCascade] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const cloudMmrUrl = `ws://127.0.0.1:${cloudHttp}/v1/media`;
  const closeAll = async () => {
    await Promise.all(processes.map((r) => kill(r)));
    await state.close();
    await redis.stop();
  };
  const restartRedis = async (): Promise<number> => {
    await redis.kill();
    const lostAt = Date.now();
    redis = await startRedis({ port: redis.port });
    return lostAt;
  };
  try {
    const dashboard = run('dashboard', {
      ...onRedis,
      MEETEDGE_HTTP_PORT: String(httpPort),
      MEETEDGE_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
      MEETEDGE_GRPC_PORT: String(grpcPort),
      MEETEDGE_TOKEN_PRIVATE_KEY: pem(tokenKeys).priv,
      MEETEDGE_SIGNUP: 'open',
      MEETEDGE_CLOUD_MMR_URL: cloudMmrUrl,
      MEETEDGE_CLOUD_MMR_ID: 'cloud-mmr-1',
      MEETEDGE_CLOUD_MMR_CASCADE_ADDRESS: `127.0.0.1:${cloudCascade}`,
    });
    processes.push(dashboard);
    const dashboardUrl = (await startedUrls(dashboard))['dashboard'] ?? '';
    const created = (await (
      await fetch(`${dashboardUrl}/v1/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Acme', admin: { email: 'ada@acme.example', displayName: 'Ada', password: 'correct horse battery' } }),
      })
    ).json()) as { accessToken: string; account: { id: string } };
    const adminToken = created.accessToken;
    const accountId = AccountId(created.account.id);
    const api = async <T>(method: 'POST' | 'GET', path: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${dashboardUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    await api('POST', '/v1/zones', { name: 'HQ', id: zoneId });

    const zcpCount = options.zcps ?? 2;
    const zcpGrpc = await Promise.all(Array.from({ length: zcpCount }, () => freePort()));
    const zcps = new Map<string, { url: string; run: Run }>();
    zcpGrpc.forEach((port, i) => {
      const r = run('zcp', {
        ...onRedis,
        MEETEDGE_ZCP_ID: `zcp-${i + 1}`,
        MEETEDGE_ZONE_ID: zoneId,
        MEETEDGE_HTTP_PORT: '0',
        MEETEDGE_GRPC_PORT: String(port),
        MEETEDGE_TOKEN_PUBLIC_KEY: pem(tokenKeys).pub,
        MEETEDGE_TICKET_PRIVATE_KEY: pem(ticketKeys).priv,
        MEETEDGE_ZONE_CONTROLLER_ADDRESS: `127.0.0.1:${grpcPort}`,
        MEETEDGE_CLOUD_MMR_URL: cloudMmrUrl,
      });
      processes.push(r);
      zcps.set(`zcp-${i + 1}`, { url: '', run: r });
    });
    for (const z of zcps.values()) z.url = (await startedUrls(z.run))['zcp'] ?? '';
    // The zone's ZCPs as the control plane lists them to joining clients.
    const node = await api<{ id: string }>('POST', `/v1/zones/${zoneId}/nodes`, { name: 'zcp-node', address: '127.0.0.1' });
    for (const [id, z] of zcps) await api('POST', `/v1/nodes/${node.id}/modules`, { id, kind: 'zcp', url: z.url });

    const cloud = run('sfu', {
      ...onRedis,
      MEETEDGE_MODULE_ID: 'cloud-mmr-1',
      MEETEDGE_ZONE_ID: 'cloud',
      MEETEDGE_NODE_ID: 'cloud-node-1',
      MEETEDGE_ROLE: 'cloud',
      MEETEDGE_HTTP_PORT: String(cloudHttp),
      MEETEDGE_MEDIA_PORT: '0',
      MEETEDGE_CASCADE_PORT: String(cloudCascade),
      MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
      MEETEDGE_TICKET_PUBLIC_KEY: pem(ticketKeys).pub,
    });
    processes.push(cloud);

    const modules = new Map<string, Run>();
    const moduleEnv = (id: string) => ({
      ...onRedis,
      MEETEDGE_MODULE_ID: id,
      MEETEDGE_ZONE_ID: zoneId,
      MEETEDGE_NODE_ID: `node-${id}`,
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_MEDIA_PORT: '0',
      MEETEDGE_CASCADE_PORT: '0',
      MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
      MEETEDGE_CAPACITY_UNITS: String(options.capacityUnits ?? 400),
      MEETEDGE_TICKET_PUBLIC_KEY: pem(ticketKeys).pub,
      MEETEDGE_ZCP_ADDRESSES: zcpGrpc.map((p) => `127.0.0.1:${p}`).join(','),
      ...options.moduleEnv,
    });
    const startModule = async (id: string) => {
      const r = run('sfu', moduleEnv(id));
      processes.push(r);
      modules.set(id, r);
      await startedUrls(r);
      await waitFor(async () => (await state.getModule(ModuleId(id))) !== undefined, { timeoutMs: 20_000, description: `${id} registered` });
    };
    await Promise.all(options.modules.map((id) => startModule(id)));
    const cloudMmr = { run: cloud, url: (await startedUrls(cloud))['cloud-mmr'] ?? '' };

    return {
      get redis() {
        return redis;
      },
      state,
      zoneId,
      dashboardUrl,
      adminToken,
      accountId,
      zcps,
      modules,
      cloudMmr,
      api,
      memberToken(userId, role = 'member') {
        const issuedAt = Math.floor(Date.now() / 1000);
        const claims: AccessClaims = { kind: 'member', userId: UserId(userId), accountId, role, displayName: userId, tokenId: `t-${userId}`, issuedAt, expiresAt: issuedAt + 900 };
        return signAccessToken(claims, tokenKeys.privateKey);
      },
      startModule,
      restartRedis,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
