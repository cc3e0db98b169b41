import Redis from 'ioredis';
import { MissingRedisServerError, pingOnce, startRedis, type TestRedis } from './redis-server';

describe('startRedis()', () => {
  let servers: TestRedis[] = [];

  afterEach(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    servers = [];
  });

  it('starts a private redis-server on a free port that answers PING, never 6379', async () => {
    const server = await startRedis();
    servers.push(server);

    expect(server.port).not.toBe(6379);
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      await expect(client.ping()).resolves.toBe('PONG');
      // Persistence is off: nothing is saved anywhere.
      await expect(client.config('GET', 'save')).resolves.toEqual(['save', '']);
      await expect(client.config('GET', 'appendonly')).resolves.toEqual(['appendonly', 'no']);
    } finally {
      client.disconnect();
    }
  });

  it('gives each caller its own server', async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    servers.push(a, b);
    expect(a.port).not.toBe(b.port);
  });

  it('stop() shuts the server down and is idempotent', async () => {
    const server = await startRedis();
    servers.push(server);
    await expect(pingOnce(server.port)).resolves.toBe(true);

    await Promise.all([server.stop(), server.stop()]);
    await server.stop();
    await expect(pingOnce(server.port)).resolves.toBe(false);
  });

  it('kill() crashes the server, losing its data; a server started again on its port is empty', async () => {
    const server = await startRedis();
    servers.push(server);
    const client = new Redis(server.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await client.connect();
      await client.set('k', 'v');
      await server.kill();
      await expect(pingOnce(server.port)).resolves.toBe(false);
      const again = await startRedis({ port: server.port });
      servers.push(again);
      expect(again.port).toBe(server.port);
      await expect(client.get('k')).resolves.toBeNull();
    } finally {
      client.disconnect();
    }
  });

  it('refuses to start on 6379', async () => {
    await expect(startRedis({ port: 6379 })).rejects.toThrow(/never on 6379/);
  });

  it('says so when the binary is missing', async () => {
    await expect(startRedis({ binary: 'redis-server-that-does-not-exist' })).rejects.toBeInstanceOf(
      MissingRedisServerError,
    );
  });
});
