/**
 * Each app as a real process, the way an operator runs it: a bad config stops
 * it at boot with one line naming the key; a good one serves /healthz and
 * stops cleanly on SIGTERM (or Ctrl-C for the all-in-one).
 */
import { generateTicketKeys } from '@meetedge/core';
import { startRedis, waitFor, type TestRedis } from '@meetedge/test-kit';
import { run, startedUrls, type Run } from './support/processes';

const ticketPublicKey = generateTicketKeys().publicKey.export({ type: 'spki', format: 'pem' }).toString();
const tokenPrivateKey = generateTicketKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
/** The keys a ZCP's join API requires. */
const zcpKeys = {
  MEETEDGE_TOKEN_PUBLIC_KEY: generateTicketKeys().publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  MEETEDGE_TICKET_PRIVATE_KEY: generateTicketKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};

const running: Run[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await r.exited;
  }
});

describe.each([
  ['sfu', { MEETEDGE_MODULE_ID: 'sfu-1', MEETEDGE_ZONE_ID: 'hq', MEETEDGE_NODE_ID: 'n1', MEETEDGE_TICKET_PUBLIC_KEY: ticketPublicKey }],
  ['zcp', { MEETEDGE_ZCP_ID: 'zcp-1', MEETEDGE_ZONE_ID: 'hq', ...zcpKeys }],
  ['dashboard', { MEETEDGE_TOKEN_PRIVATE_KEY: tokenPrivateKey }],
])('%s process', (app, required) => {
  it('stops at boot with one line naming a bad key', async () => {
    const r = run(app, { ...required, MEETEDGE_HTTP_PORT: 'eighty' });
    running.push(r);
    expect(await r.exited).toBe(1);
    expect(r.stderr.join('')).toBe('meetedge: config MEETEDGE_HTTP_PORT: expected a port number 0-65535, got "eighty"\n');
  });

  it('stops at boot on an unknown key', async () => {
    const r = run(app, { ...required, MEETEDGE_HTTP_PROT: '1' });
    running.push(r);
    expect(await r.exited).toBe(1);
    expect(r.stderr.join('')).toMatch(/^meetedge: config MEETEDGE_HTTP_PROT: unknown key; this service accepts .*\n$/);
  });
});

describe('services against a real Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  it('zcp serves /healthz with the state check and exits 0 on SIGTERM', async () => {
    const r = run('zcp', {
      ...zcpKeys,
      MEETEDGE_ZCP_ID: 'zcp-1',
      MEETEDGE_ZONE_ID: 'hq',
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_STATE: 'redis',
      MEETEDGE_REDIS_URL: redis.url,
    });
    running.push(r);
    const { zcp } = await startedUrls(r);
    const res = await fetch(`${zcp}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', service: 'zcp', checks: { state: 'ok' } });

    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(r.stdout.join('')).toContain('"msg":"stopped"');
  });

  it('sfu refuses to start when its Redis does not answer', async () => {
    const r = run('sfu', {
      MEETEDGE_MODULE_ID: 'sfu-1',
      MEETEDGE_ZONE_ID: 'hq',
      MEETEDGE_NODE_ID: 'n1',
      MEETEDGE_TICKET_PUBLIC_KEY: ticketPublicKey,
      MEETEDGE_HTTP_PORT: '0',
      MEETEDGE_STATE: 'redis',
      // A port nothing listens on: the test server's own port after it is gone is not safe, so use 1.
      MEETEDGE_REDIS_URL: 'redis://127.0.0.1:1',
    });
    running.push(r);
    expect(await r.exited).toBe(1);
    expect(r.stderr.join('').trim().split('\n')).toHaveLength(1);
    expect(r.stderr.join('')).toMatch(/^meetedge: redis is not reachable/);
  });
});

describe('all-in-one process (npm start)', () => {
  it('prints the URLs it serves; each /healthz answers 200; Ctrl-C stops it cleanly', async () => {
    const r = run('all-in-one', {
      MEETEDGE_DASHBOARD_PORT: '0',
      // Free ports for everything, so the test never collides with a running system.
      MEETEDGE_DASHBOARD_GRPC_PORT: '0',
      MEETEDGE_ZCP_PORT: '0',
      MEETEDGE_ZCP_GRPC_PORT: '0',
      MEETEDGE_ZCP2_PORT: '0',
      MEETEDGE_ZCP2_GRPC_PORT: '0',
      MEETEDGE_SFU_PORT: '0',
      MEETEDGE_SFU2_PORT: '0',
      MEETEDGE_CLOUD_MMR_PORT: '0',
      MEETEDGE_SFU_MEDIA_PORT: '0',
      MEETEDGE_SFU2_MEDIA_PORT: '0',
      MEETEDGE_CLOUD_MMR_MEDIA_PORT: '0',
      MEETEDGE_CLOUD_MMR_CASCADE_PORT: '0',
      MEETEDGE_SFU_CASCADE_PORT: '0',
      MEETEDGE_SFU2_CASCADE_PORT: '0',
    });
    running.push(r);
    const urls = await startedUrls(r);
    expect(Object.keys(urls).sort()).toEqual(['cloud-mmr', 'dashboard', 'sfu-1', 'sfu-2', 'zcp-1', 'zcp-2']);
    // The banner follows the "started" log line; the pipe may hand it over a moment later.
    const banner = `media sessions: ${urls['sfu-2']?.replace('http:', 'ws:')}/v1/media`;
    await waitFor(() => r.stdout.join('').includes(banner), { description: 'the banner after the started line' });
    expect(r.stdout.join('')).toContain(banner);
    // Both modules registered with both ZCPs over gRPC: each ZCP lists both.
    for (const zcp of ['zcp-1', 'zcp-2']) {
      await waitFor(async () => {
        const listed = (await (await fetch(`${urls[zcp]}/v1/zone/modules`)).json()) as { modules: { id: string }[] };
        return listed.modules.map((m) => m.id).join() === 'sfu-1,sfu-2';
      }, { description: `${zcp} lists sfu-1 and sfu-2` });
    }
    expect(r.stdout.join('')).toContain('Sign in as admin@demo.meetedge.local');
    // The demo account is there: its admin signs in.
    const signIn = await fetch(`${urls['dashboard']}/v1/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@demo.meetedge.local', password: 'meetedge-demo' }),
    });
    expect(signIn.status).toBe(200);
    for (const [name, url] of Object.entries(urls)) {
      expect(r.stdout.join('')).toContain(`${url}/healthz`);
      const res = await fetch(`${url}/healthz`);
      expect([name, res.status]).toEqual([name, 200]);
    }
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);
  });

  it('stops at boot with one line naming a bad key', async () => {
    const r = run('all-in-one', { MEETEDGE_ZCP_PORT: '-1' });
    running.push(r);
    expect(await r.exited).toBe(1);
    expect(r.stderr.join('')).toBe('meetedge: config MEETEDGE_ZCP_PORT: expected a port number 0-65535, got "-1"\n');
  });
});
