/**
 * Zone choice by measured RTT (issue [4] item 4): two zones, each a real ZCP
 * on 127.0.0.1, one reached through a TCP proxy that delays every chunk by a
 * latency the test sets. The SDK's probeZones must rank the near zone first,
 * and follow when the latency moves to the other zone.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { probeZones } from '@meetedge/client';
import { MemoryClusterState } from '@meetedge/state';
import { createLogger } from '@meetedge/service-kit';
import { buildApp, type ZcpService } from '../src/app';
import { loadZcpConfig } from '../src/config';
import { zcpKeyEnv } from '../src/join/test-support';

/** A TCP proxy to 127.0.0.1:`targetPort` that holds each chunk, both ways, for `delayMs` (changeable). */
class DelayProxy {
  delayMs = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      const relay = (from: Socket, to: Socket) =>
        from.on('data', (chunk) => {
          setTimeout(() => {
            if (!to.destroyed) to.write(chunk);
          }, this.delayMs);
        });
      relay(client, upstream);
      relay(upstream, client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const zcps: ZcpService[] = [];
const proxies: DelayProxy[] = [];

async function zone(zoneId: string): Promise<DelayProxy> {
  const zcp = buildApp(
    loadZcpConfig({ ...zcpKeyEnv(), MEETEDGE_ZCP_ID: `zcp-${zoneId}`, MEETEDGE_ZONE_ID: zoneId, MEETEDGE_HTTP_PORT: '0', MEETEDGE_GRPC_PORT: '0', MEETEDGE_STATE: 'memory' }),
    { logger: createLogger({ level: 'silent' }), state: new MemoryClusterState(), ownsState: true },
  );
  zcps.push(zcp);
  const url = new URL(await zcp.start());
  const proxy = new DelayProxy(Number(url.port));
  proxies.push(proxy);
  return proxy;
}

afterAll(async () => {
  for (const p of proxies) await p.close();
  for (const z of zcps) await z.close();
});

it('ranks the zone with the lower measured RTT first, and follows when the latency moves', async () => {
  const berlin = await zone('berlin');
  const paris = await zone('paris');
  const zones = [
    { id: 'berlin', zcpUrls: [await berlin.listen()] },
    { id: 'paris', zcpUrls: [await paris.listen()] },
  ];
  // The proxy delays every chunk, so each probe pays the delay whether or not fetch reuses the connection.
  berlin.delayMs = 80;
  const first = await probeZones(zones, { samples: 5 });
  expect(first.map((z) => z.zoneId)).toEqual(['paris', 'berlin']);
  expect(first[1]?.medianRttMs).toBeGreaterThanOrEqual(80);

  berlin.delayMs = 0;
  paris.delayMs = 80;
  const second = await probeZones(zones, { samples: 5 });
  expect(second.map((z) => z.zoneId)).toEqual(['berlin', 'paris']);
  expect(second[1]?.medianRttMs).toBeGreaterThanOrEqual(80);
});

it('puts a zone whose ZCPs do not answer last, after a timeout', async () => {
  const lyon = await zone('lyon');
  const ranked = await probeZones(
    [
      { id: 'gone', zcpUrls: ['http://127.0.0.1:1'] },
      { id: 'lyon', zcpUrls: [await lyon.listen()] },
    ],
    { samples: 2, timeoutMs: 500 },
  );
  expect(ranked.map((z) => [z.zoneId, Number.isFinite(z.medianRttMs)])).toEqual([
    ['lyon', true],
    ['gone', false],
  ]);
});
