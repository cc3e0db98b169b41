import Redis from 'ioredis';
import { AccountId, MeetingId, ModuleId, NodeId, UserId, ZoneId, type MeetedgeError } from '@meetedge/core';
import { startRedis, type TestRedis } from '@meetedge/test-kit';
import type { NewMeeting } from './directory';
import { openDirectory } from './open';
import { RedisDirectory, type RedisDirectoryOptions } from './redis-directory';
import { DIRECTORY_KEY_PREFIX, directoryKeys } from './redis/keys';
import { describeDirectoryContract, redisDirectoryFactory, type DirectoryFactory } from './testing';

let redis: TestRedis;
let factory: DirectoryFactory;

beforeAll(async () => {
  redis = await startRedis();
  factory = redisDirectoryFactory(redis.url);
});

afterAll(async () => {
  await redis?.stop();
});

describeDirectoryContract('RedisDirectory', (options) => factory(options));

describe('RedisDirectory', () => {
  const ACME = AccountId('acme');
  const meeting: NewMeeting = {
    id: MeetingId('m-1'),
    accountId: ACME,
    topic: 'Weekly',
    mode: 'internal-only',
    e2ee: false,
    defaultQuality: 'HD',
    passcode: '0042',
    hostId: UserId('u-1'),
    startsAt: 1_900_000_000_000,
    durationMinutes: 60,
    onTopLoss: 'collapse',
  };
  let prefixCount = 0;
  const uniquePrefix = (): string => `spec-dir-${++prefixCount}:`;
  let raw: Redis;
  const opened: RedisDirectory[] = [];
  const open = (options: Partial<RedisDirectoryOptions> = {}): RedisDirectory => {
    const directory = new RedisDirectory({ url: redis.url, keyPrefix: uniquePrefix(), ...options } as RedisDirectoryOptions);
    opened.push(directory);
    return directory;
  };

  /** An account with one of every record. */
  const populate = async (directory: RedisDirectory): Promise<void> => {
    await directory.createAccount({ id: ACME, name: 'Acme' });
    await directory.createUser({
      id: UserId('u-1'),
      accountId: ACME,
      email: 'Ada@Acme.Example',
      displayName: 'Ada',
      role: 'admin',
      passwordHash: 'scrypt$x',
    });
    await directory.createMeeting(meeting);
    await directory.createZone({ id: ZoneId('zone-a'), accountId: ACME, name: 'Paris' });
    await directory.createNode({ id: NodeId('node-1'), accountId: ACME, zoneId: ZoneId('zone-a'), name: 'n1', address: '10.0.0.1' });
    await directory.assignModule({ id: ModuleId('sfu-1'), accountId: ACME, nodeId: NodeId('node-1'), kind: 'sfu' });
    await directory.countAttempt('signin:user:ada@acme.example', 60_000);
  };

  beforeEach(() => {
    raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((directory) => directory.close()));
    raw.disconnect();
  });

  it('keeps the documented key schema (docs/redis-keys.md, "Directory")', async () => {
    const prefix = uniquePrefix();
    const directory = open({ keyPrefix: prefix });
    const keys = directoryKeys(prefix);
    await populate(directory);

    const expected: Array<[string, string]> = [
      [keys.account('acme'), 'hash'],
      [keys.accountUsers('acme'), 'set'],
      [keys.accountMeetings('acme'), 'zset'],
      [keys.accountZones('acme'), 'set'],
      [keys.user('u-1'), 'hash'],
      [keys.email('ada@acme.example'), 'string'],
      [keys.meeting('m-1'), 'hash'],
      [keys.zone('zone-a'), 'hash'],
      [keys.zoneNodes('zone-a'), 'set'],
      [keys.zoneModules('zone-a'), 'set'],
      [keys.node('node-1'), 'hash'],
      [keys.nodeModules('node-1'), 'set'],
      [keys.module('sfu-1'), 'hash'],
      [keys.attempts('signin:user:ada@acme.example'), 'string'],
    ];
    expect(await Promise.all(expected.map(([key]) => raw.type(key)))).toEqual(expected.map(([, type]) => type));
    expect((await raw.keys(`${prefix}*`)).sort()).toEqual(expected.map(([key]) => key).sort());

    expect(await raw.get(keys.email('ada@acme.example'))).toBe('u-1');
    expect(await raw.zrange(keys.accountMeetings('acme'), '0', '-1', 'WITHSCORES')).toEqual(['m-1', '1900000000000']);
    expect(await raw.smembers(keys.zoneModules('zone-a'))).toEqual(['sfu-1']);
    const attemptTtl = await raw.pttl(keys.attempts('signin:user:ada@acme.example'));
    expect(attemptTtl).toBeGreaterThan(0);
    expect(attemptTtl).toBeLessThanOrEqual(60_000);
    // Durable records carry no TTL.
    expect(await raw.pttl(keys.meeting('m-1'))).toBe(-1);
    expect(await raw.pttl(keys.email('ada@acme.example'))).toBe(-1);
  });

  it('writes fields readably: strings as is, numbers in decimal, booleans as true/false, undefined as no field', async () => {
    const prefix = uniquePrefix();
    const directory = open({ keyPrefix: prefix });
    const keys = directoryKeys(prefix);
    await populate(directory);
    const hash = await raw.hgetall(keys.meeting('m-1'));
    expect(hash).toEqual({
      id: 'm-1',
      accountId: 'acme',
      topic: 'Weekly',
      mode: 'internal-only',
      e2ee: 'false',
      defaultQuality: 'HD',
      passcode: '0042',
      hostId: 'u-1',
      startsAt: '1900000000000',
      durationMinutes: '60',
      onTopLoss: 'collapse',
      createdAt: expect.stringMatching(/^[1-9][0-9]{12}$/),
      updatedAt: hash['createdAt'],
      version: '1',
    });
    expect(await raw.hget(keys.user('u-1'), 'email')).toBe('ada@acme.example');
    expect(await raw.hget(keys.module('sfu-1'), 'zoneId')).toBe('zone-a');

    const updated = await directory.updateMeeting(MeetingId('m-1'), { passcode: undefined, startsAt: undefined, e2ee: true }, 1);
    expect(await raw.hexists(keys.meeting('m-1'), 'passcode')).toBe(0);
    expect(await raw.hexists(keys.meeting('m-1'), 'startsAt')).toBe(0);
    expect(await raw.hget(keys.meeting('m-1'), 'e2ee')).toBe('true');
    expect(await raw.hget(keys.meeting('m-1'), 'version')).toBe('2');
    // An instant meeting sorts by its creation time.
    expect(await raw.zscore(keys.accountMeetings('acme'), 'm-1')).toBe(String(updated.createdAt));
  });

  it('deleting records removes their keys and index entries, and frees the e-mail key', async () => {
    const prefix = uniquePrefix();
    const directory = open({ keyPrefix: prefix });
    const keys = directoryKeys(prefix);
    await populate(directory);
    await directory.deleteUser(UserId('u-1'));
    await directory.deleteMeeting(MeetingId('m-1'));
    await directory.removeModule(ModuleId('sfu-1'));
    await directory.deleteNode(NodeId('node-1'));
    await directory.deleteZone(ZoneId('zone-a'));
    // Accounts are never deleted; the attempt counter ends with its window.
    expect((await raw.keys(`${prefix}*`)).sort()).toEqual(
      [keys.account('acme'), keys.attempts('signin:user:ada@acme.example')].sort(),
    );
  });

  it('uses the default prefix `me:dir:` without a keyPrefix option', async () => {
    expect(DIRECTORY_KEY_PREFIX).toBe('me:dir:');
    const directory = new RedisDirectory({ url: redis.url });
    opened.push(directory);
    await directory.createAccount({ id: AccountId('default-prefix-account'), name: 'Default' });
    expect(await raw.type('me:dir:account:default-prefix-account')).toBe('hash');
  });

  it('refuses a record whose hash was damaged (INTERNAL), instead of answering a wrong one', async () => {
    const prefix = uniquePrefix();
    const directory = open({ keyPrefix: prefix });
    await populate(directory);
    await raw.hset(directoryKeys(prefix).meeting('m-1'), 'e2ee', 'maybe');
    const error = (await directory.getMeeting(MeetingId('m-1')).catch((err: unknown) => err)) as MeetedgeError;
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toMatch(/e2ee/);
  });

  it('uses a client it is given and leaves it open on close()', async () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      const directory = new RedisDirectory({ client, keyPrefix: uniquePrefix() });
      await directory.createAccount({ id: ACME, name: 'Acme' });
      expect((await directory.getAccount(ACME))?.name).toBe('Acme');
      await directory.close();
      await expect(client.ping()).resolves.toBe('PONG');
      expect(client.listenerCount('error')).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('refuses a client with its own keyPrefix (scripts would not carry it)', () => {
    const client = new Redis(redis.url, { keyPrefix: 'app:', lazyConnect: true });
    try {
      expect(() => new RedisDirectory({ client })).toThrow(/pass a client without keyPrefix/);
    } finally {
      client.disconnect();
    }
  });

  it('scripts survive a SCRIPT FLUSH (as after a Redis restart)', async () => {
    const directory = open();
    await directory.createAccount({ id: ACME, name: 'Acme' });
    await raw.script('FLUSH');
    await directory.createZone({ id: ZoneId('zone-a'), accountId: ACME, name: 'Paris' });
    expect((await directory.listZones(ACME)).map((z) => z.id)).toEqual(['zone-a']);
  });

  it('rejects with UNAVAILABLE when Redis is not reachable', async () => {
    const doomed = await startRedis();
    const directory = new RedisDirectory({ url: doomed.url, keyPrefix: uniquePrefix() });
    opened.push(directory);
    await directory.ping();
    await doomed.stop();
    const error = (await directory.ping().catch((err: unknown) => err)) as MeetedgeError;
    expect(error.code).toBe('UNAVAILABLE');
    const write = (await directory.createAccount({ id: ACME, name: 'Acme' }).catch((err: unknown) => err)) as MeetedgeError;
    expect(write.code).toBe('UNAVAILABLE');
  });

  it('openDirectory() with state "redis" answers a directory that works, or rejects (UNAVAILABLE) when Redis does not answer', async () => {
    const logger = { warn: () => undefined };
    const directory = await openDirectory({ state: 'redis', redisUrl: redis.url }, logger);
    try {
      expect(directory).toBeInstanceOf(RedisDirectory);
      await directory.ping();
    } finally {
      await directory.close();
    }
    const doomed = await startRedis();
    const url = doomed.url;
    await doomed.stop();
    const error = (await openDirectory({ state: 'redis', redisUrl: url }, logger).catch((err: unknown) => err)) as MeetedgeError;
    expect(error.code).toBe('UNAVAILABLE');
  });
});
