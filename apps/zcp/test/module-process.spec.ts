// A real module process (apps/sfu/src/main.ts) registering with two real
// ZCPs on a real Redis, then killed with SIGKILL: no Deregister, its
// heartbeats just stop, and the ZCPs' sweep removes it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ModuleId, ReservationId, generateTicketKeys } from '@meetedge/core';
import { createLogger } from '@meetedge/service-kit';
import { RedisClusterState } from '@meetedge/state';
import { startRedis, waitFor, type TestRedis } from '@meetedge/test-kit';
import { buildApp, type ZcpService } from '../src/app';
import { loadZcpConfig } from '../src/config';

jest.setTimeout(60_000);

const root = path.resolve(__dirname, '../../..');
const pem = (k: ReturnType<typeof generateTicketKeys>) => ({
  pub: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  priv: k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
});

describe('a module process killed with SIGKILL', () => {
  let redis: TestRedis;
  const states: RedisClusterState[] = [];
  const zcps: ZcpService[] = [];
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await Promise.all(zcps.map((z) => z.close()));
    await Promise.all(states.map((s) => s.close()));
    await redis.stop();
  });

  it('is listed by both ZCPs while alive, and gone with its reservations freed after its TTL', async () => {
    const tickets = pem(generateTicketKeys());
    for (const id of ['zcp-1', 'zcp-2']) {
      const state = new RedisClusterState({ url: redis.url, keyPrefix: 'proc:' });
      states.push(state);
      const zcp = buildApp(
        loadZcpConfig({
          MEETEDGE_ZCP_ID: id,
          MEETEDGE_ZONE_ID: 'hq',
          MEETEDGE_HTTP_PORT: '0',
          MEETEDGE_GRPC_PORT: '0',
          MEETEDGE_TOKEN_PUBLIC_KEY: pem(generateTicketKeys()).pub,
          MEETEDGE_TICKET_PRIVATE_KEY: tickets.priv,
        }),
        { logger: createLogger({ level: 'silent' }), state },
      );
      zcps.push(zcp);
      await zcp.start();
    }
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MEETEDGE_')));
    const stderr: string[] = [];
    child = spawn(process.execPath, ['--import', 'tsx', 'apps/sfu/src/main.ts'], {
      cwd: root,
      env: {
        ...base,
        MEETEDGE_MODULE_ID: 'sfu-p',
        MEETEDGE_ZONE_ID: 'hq',
        MEETEDGE_NODE_ID: 'node-a',
        MEETEDGE_HTTP_PORT: '0',
        MEETEDGE_MEDIA_PORT: '0',
        MEETEDGE_CASCADE_PORT: '0',
        MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
        MEETEDGE_LOG_LEVEL: 'warn',
        // The module's own store is not the zone's: registration goes through the ZCPs.
        MEETEDGE_STATE: 'memory',
        MEETEDGE_TICKET_PUBLIC_KEY: tickets.pub,
        MEETEDGE_ZCP_ADDRESSES: zcps.map((z) => `127.0.0.1:${z.grpcPort()}`).join(','),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
    const listed = async (z: ZcpService) => ((await z.http.inject({ method: 'GET', url: '/v1/zone/modules' })).json() as { modules: { id: string }[] }).modules.map((m) => m.id);

    await waitFor(
      async () => {
        if (child?.exitCode !== null) throw new Error(`module exited: ${stderr.join('')}`);
        return zcps.every((z) => z.registry.connectedModules().includes(ModuleId('sfu-p')));
      },
      { timeoutMs: 30_000, intervalMs: 100, description: 'module connected to both ZCPs' },
    );
    for (const z of zcps) expect(await listed(z)).toEqual(['sfu-p']);
    const state = states[0];
    if (!state) throw new Error('no state');
    expect(await state.reserve({ moduleId: ModuleId('sfu-p'), reservationId: ReservationId('r-1'), units: 2 })).toMatchObject({ ok: true });

    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    await waitFor(async () => (await listed(zcps[1] as ZcpService)).length === 0, { timeoutMs: 10_000, intervalMs: 100, description: 'module gone' });
    expect(await state.getModule(ModuleId('sfu-p'))).toBeUndefined();
    // Nothing can be placed on it any more.
    expect(await state.reserve({ moduleId: ModuleId('sfu-p'), reservationId: ReservationId('r-2'), units: 1 })).toMatchObject({ ok: false, reason: 'gone' });
    await waitFor(() => zcps.every((z) => z.registry.connectedModules().length === 0), { description: 'streams closed' });
  });
});
