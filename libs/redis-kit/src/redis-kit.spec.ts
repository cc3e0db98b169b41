import { MeetedgeError } from '@meetedge/core';
import { startRedis, type TestRedis } from '@meetedge/test-kit';
import Redis from 'ioredis';
import { LuaScript, asArray, quitConnection, toStoreError } from './redis-kit';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

describe('LuaScript', () => {
  it('runs by SHA, and by source when the server does not know it (a fresh or restarted Redis)', async () => {
    const client = new Redis(redis.url);
    try {
      const script = new LuaScript('echo', "return { KEYS[1], ARGV[1], 'v1' }");
      await client.script('FLUSH');
      expect(await script.run(client, ['k'], ['a'])).toEqual(['k', 'a', 'v1']);
      // Cached now: EVALSHA alone answers.
      expect(await client.evalsha(script.sha, 1, 'k', 'b')).toEqual(['k', 'b', 'v1']);
      expect(script.sha).toMatch(/^[0-9a-f]{40}$/);
    } finally {
      await quitConnection(client);
    }
  });

  it('lets an error of the script itself through (not retried)', async () => {
    const client = new Redis(redis.url);
    try {
      const broken = new LuaScript('broken', "return redis.call('NOSUCHCOMMAND')");
      await expect(broken.run(client, [], [])).rejects.toThrow(/Unknown Redis command|unknown command/i);
    } finally {
      await quitConnection(client);
    }
  });
});

describe('toStoreError', () => {
  it('maps a refused command to INTERNAL, a busy or loading server and lost connections to UNAVAILABLE, and keeps coded errors', () => {
    const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
    expect(toStoreError(reply('ERR wrong number of arguments'))).toMatchObject({ code: 'INTERNAL' });
    expect(toStoreError(reply('LOADING Redis is loading the dataset in memory'))).toMatchObject({ code: 'UNAVAILABLE' });
    expect(toStoreError(reply('READONLY You cannot write against a read only replica.'))).toMatchObject({ code: 'UNAVAILABLE' });
    expect(toStoreError(new Error('Connection is closed.'))).toMatchObject({ code: 'UNAVAILABLE', message: 'redis is not reachable: Connection is closed.' });
    const coded = new MeetedgeError('NOT_FOUND', 'x');
    expect(toStoreError(coded)).toBe(coded);
  });
});

it('asArray refuses what is not a list', () => {
  expect(asArray([1])).toEqual([1]);
  expect(() => asArray('x')).toThrow(/expected a list from redis, got string/);
});

it('quitConnection ends a connected client and drops one that never connected', async () => {
  const client = new Redis(redis.url);
  await client.ping();
  const ended = new Promise((resolve) => client.once('end', resolve));
  await quitConnection(client);
  await ended;
  expect(client.status).toBe('end');
  const never = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0 });
  await quitConnection(never);
  expect(['end', 'close']).toContain(never.status);
});
