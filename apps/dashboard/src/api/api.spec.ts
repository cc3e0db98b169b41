/**
 * The control plane's REST API through fastify's inject, on both directories
 * (memory, and Redis on a private redis-server): every route, every refusal
 * the issue names, and that nothing of one account is visible to another.
 */
import { validate } from '@readme/openapi-parser';
import { AccountId, UserId, generateTicketKeys, signAccessToken, verifyAccessToken } from '@meetedge/core';
import { MemoryDirectory, RedisDirectory, type Directory } from '@meetedge/directory';
import { createLogger } from '@meetedge/service-kit';
import { startRedis, type TestRedis } from '@meetedge/test-kit';
import { buildApp, type DashboardService } from '../app';
import { loadDashboardConfig } from '../config';

const keys = generateTicketKeys();
const pem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
let now = Date.UTC(2026, 10, 22, 9, 0, 0);
let app: DashboardService;
let redis: TestRedis | undefined;
let fixture = 0;

/** The directory of the suite being run: memory with the test's clock, or Redis (its own clock) under a fresh key prefix. */
function directory(): Directory {
  if (!redis) return new MemoryDirectory({ now: () => now });
  fixture++;
  return new RedisDirectory({ url: redis.url, keyPrefix: `api-${fixture}:` });
}

function build(env: Record<string, string> = {}): DashboardService {
  return buildApp(loadDashboardConfig({ MEETEDGE_TOKEN_PRIVATE_KEY: pem, MEETEDGE_SIGNUP: 'open', MEETEDGE_STATE: 'memory', ...env }), {
    logger: createLogger({ level: 'silent' }),
    directory: directory(),
    ownsDirectory: true,
    passwordParams: { N: 2 ** 10, r: 8, p: 1 },
    now: () => now,
  });
}

describe.each(['memory', 'redis'] as const)('REST API on the %s directory', (store) => {
  beforeAll(async () => {
    if (store === 'redis') redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
    redis = undefined;
  });

  beforeEach(async () => {
    now = Date.UTC(2026, 10, 22, 9, 0, 0);
    app = build();
    await app.http.ready();
  });
  afterEach(() => app.close());

  // Replies are read loosely and checked with expect() (whose failure names the field); their
  // exact types are the route schemas, which a second typed copy here would only restate.
  type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, options: { token?: string; body?: object; headers?: Record<string, string>; ip?: string } = {}) {
    const res = await app.http.inject({
      method,
      url,
      remoteAddress: options.ip ?? '10.0.0.1',
      headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
      ...(options.body ? { payload: options.body } : {}),
    });
    return { status: res.statusCode, body: (res.body ? res.json() : undefined) as Json };
  }

  async function newAccount(name: string, email: string) {
    const res = await call('POST', '/v1/accounts', { body: { name, admin: { email, displayName: `${name} admin`, password: 'correct horse battery' } } });
    expect(res.status).toBe(201);
    return res.body as { account: { id: string }; accessToken: string; user: { id: string } };
  }

  describe('accounts and sign-in', () => {
    it('creates an account with its first admin, signed in, and never returns a password hash', async () => {
      const res = await call('POST', '/v1/accounts', {
        body: { name: 'Acme', admin: { email: 'Ada@Acme.example', displayName: 'Ada', password: 'correct horse battery' } },
      });
      expect(res.status).toBe(201);
      expect(res.body.user).toEqual({ id: expect.any(String), accountId: res.body.account.id, email: 'ada@acme.example', displayName: 'Ada', role: 'admin', createdAt: expect.any(Number) });
      expect(JSON.stringify(res.body)).not.toMatch(/scrypt|passwordHash|correct horse/);
      const account = await call('GET', '/v1/account', { token: res.body.accessToken });
      expect(account).toEqual({ status: 200, body: { id: res.body.account.id, name: 'Acme', createdAt: res.body.account.createdAt } });
    });

    it('signs in with the right password (e-mail in any case) and refuses a wrong one as it refuses an unknown address', async () => {
      await newAccount('Acme', 'ada@acme.example');
      const ok = await call('POST', '/v1/sign-in', { body: { email: 'ADA@acme.example', password: 'correct horse battery' } });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ expiresAt: now + 900_000, user: { email: 'ada@acme.example', role: 'admin' } });
      expect((await call('GET', '/v1/users', { token: ok.body.accessToken })).status).toBe(200);
      const wrong = await call('POST', '/v1/sign-in', { body: { email: 'ada@acme.example', password: 'wrong horse battery' } });
      const unknown = await call('POST', '/v1/sign-in', { body: { email: 'nobody@acme.example', password: 'wrong horse battery' } });
      expect(wrong).toEqual({ status: 401, body: { error: { code: 'UNAUTHENTICATED', message: 'wrong e-mail address or password' } } });
      expect(unknown).toEqual(wrong);
    });

    it('rate-limits sign-in per user (any address) and per address (any user), with the time to wait', async () => {
      await newAccount('Acme', 'ada@acme.example');
      for (let i = 0; i < 10; i++) {
        expect((await call('POST', '/v1/sign-in', { ip: `10.1.0.${i}`, body: { email: 'ada@acme.example', password: 'guess guess guess' } })).status).toBe(401);
      }
      // The 11th attempt for this user is refused even with the right password, from a fresh address.
      const limited = await call('POST', '/v1/sign-in', { ip: '10.9.9.9', body: { email: 'ada@acme.example', password: 'correct horse battery' } });
      expect(limited.status).toBe(429);
      expect(limited.body.error).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: expect.any(Number) } });
      expect(limited.body.error.message).toMatch(/too many sign-in attempts; try again in \d+ s/);

      for (let i = 0; i < 30; i++) await call('POST', '/v1/sign-in', { ip: '10.2.0.1', body: { email: `user${i}@acme.example`, password: 'guess guess guess' } });
      expect((await call('POST', '/v1/sign-in', { ip: '10.2.0.1', body: { email: 'other@acme.example', password: 'x' } })).status).toBe(429);
      expect((await call('POST', '/v1/sign-in', { ip: '10.2.0.2', body: { email: 'other@acme.example', password: 'x' } })).status).toBe(401);
    });

    it('refuses sign-up when it is closed', async () => {
      await app.close();
      app = build({ MEETEDGE_SIGNUP: 'closed' });
      const res = await call('POST', '/v1/accounts', { body: { name: 'Acme', admin: { email: 'a@acme.example', displayName: 'A', password: 'correct horse battery' } } });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/sign-up is closed/);
    });

    it.each([
      ['no Authorization header', undefined, 401, /sign in first/],
      ['a header that is not Bearer', 'Basic abc', 401, /must be "Bearer <access token>"/],
      ['a token that is not a JWT', 'Bearer abc', 401, /malformed/],
    ])('refuses a request with %s', async (_what, authorization, status, message) => {
      const res = await call('GET', '/v1/users', { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(status);
      expect(res.body.error.message).toMatch(message);
    });

    it('refuses an expired token, a token signed by another key, and a guest token on member routes', async () => {
      const { accessToken } = await newAccount('Acme', 'ada@acme.example');
      now += 901_000;
      const expired = await call('GET', '/v1/users', { token: accessToken });
      expect(expired.status).toBe(401);
      expect(expired.body.error.message).toMatch(/expired; sign in again/);
      const t = Math.floor(now / 1000);
      const forged = signAccessToken(
        { kind: 'member', tokenId: 'x', userId: UserId('u-x'), accountId: AccountId('a-x'), role: 'admin', displayName: 'X', issuedAt: t, expiresAt: t + 60 },
        generateTicketKeys().privateKey,
      );
      expect((await call('GET', '/v1/users', { token: forged })).body.error.message).toMatch(/invalid signature/);
      const guest = signAccessToken(
        { kind: 'guest', tokenId: 'g', guestId: 'g-1' as never, meetingId: 'm-1' as never, accountId: AccountId('a-x'), displayName: 'G', issuedAt: t, expiresAt: t + 60 },
        keys.privateKey,
      );
      const res = await call('GET', '/v1/users', { token: guest });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/guest token is good for joining its meeting only/);
    });
  });

  describe('users', () => {
    it('lets an admin add members; a member may not; an e-mail address is taken once across accounts', async () => {
      const acme = await newAccount('Acme', 'ada@acme.example');
      const added = await call('POST', '/v1/users', { token: acme.accessToken, body: { email: 'bob@acme.example', displayName: 'Bob', password: 'bobs password!' } });
      expect(added.status).toBe(201);
      expect(added.body).toMatchObject({ email: 'bob@acme.example', role: 'member', accountId: acme.account.id });
      const bob = (await call('POST', '/v1/sign-in', { body: { email: 'bob@acme.example', password: 'bobs password!' } })).body;
      const byMember = await call('POST', '/v1/users', { token: bob.accessToken, body: { email: 'eve@acme.example', displayName: 'Eve', password: 'eves password!' } });
      expect(byMember.status).toBe(403);
      expect(byMember.body.error.message).toMatch(/only an admin of the account may add users/);
      const other = await newAccount('Globex', 'hank@globex.example');
      const duplicate = await call('POST', '/v1/users', { token: other.accessToken, body: { email: 'BOB@acme.example', displayName: 'Bob 2', password: 'bobs password!' } });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body.error.code).toBe('ALREADY_EXISTS');
    });

    it('shows nothing of one account to another', async () => {
      const acme = await newAccount('Acme', 'ada@acme.example');
      const globex = await newAccount('Globex', 'hank@globex.example');
      const users = await call('GET', '/v1/users', { token: globex.accessToken });
      expect(users.body.map((u: Json) => u.email)).toEqual(['hank@globex.example']);
      for (const [method, body] of [['GET', undefined], ['PATCH', { displayName: 'Pwned' }], ['DELETE', undefined]] as const) {
        const res = await call(method, `/v1/users/${acme.user.id}`, { token: globex.accessToken, ...(body ? { body } : {}) });
        expect([method, res.status, res.body.error.code]).toEqual([method, 404, 'NOT_FOUND']);
      }
      const meeting = (await call('POST', '/v1/meetings', { token: acme.accessToken, body: { topic: 'Board', mode: 'internal-only' } })).body;
      expect((await call('GET', `/v1/meetings/${meeting.id}`, { token: globex.accessToken })).status).toBe(404);
      expect((await call('PATCH', `/v1/meetings/${meeting.id}`, { token: globex.accessToken, body: { topic: 'x' } })).status).toBe(404);
      expect((await call('DELETE', `/v1/meetings/${meeting.id}`, { token: globex.accessToken })).status).toBe(404);
      expect((await call('GET', '/v1/meetings', { token: globex.accessToken })).body).toEqual([]);
      expect((await call('GET', `/v1/meetings/${meeting.id}`, { token: acme.accessToken })).status).toBe(200);
    });

    it('lets a member rename themself and change their password, but not their role; an account keeps an admin', async () => {
      const acme = await newAccount('Acme', 'ada@acme.example');
      const bobId = (await call('POST', '/v1/users', { token: acme.accessToken, body: { email: 'bob@acme.example', displayName: 'Bob', password: 'bobs password!' } })).body.id;
      const bob = (await call('POST', '/v1/sign-in', { body: { email: 'bob@acme.example', password: 'bobs password!' } })).body;
      expect((await call('PATCH', `/v1/users/${bobId}`, { token: bob.accessToken, body: { displayName: 'Robert', password: 'a new password' } })).body.displayName).toBe('Robert');
      expect((await call('POST', '/v1/sign-in', { body: { email: 'bob@acme.example', password: 'a new password' } })).status).toBe(200);
      expect((await call('PATCH', `/v1/users/${bobId}`, { token: bob.accessToken, body: { role: 'admin' } })).status).toBe(403);
      expect((await call('PATCH', `/v1/users/${acme.user.id}`, { token: bob.accessToken, body: { displayName: 'x' } })).status).toBe(403);
      expect((await call('PATCH', `/v1/users/${bobId}`, { token: acme.accessToken, body: { password: 'admin sets it' } })).status).toBe(403);
      const demote = await call('PATCH', `/v1/users/${acme.user.id}`, { token: acme.accessToken, body: { role: 'member' } });
      expect(demote.status).toBe(409);
      expect(demote.body.error.message).toMatch(/keeps at least one admin/);
      expect((await call('DELETE', `/v1/users/${acme.user.id}`, { token: acme.accessToken })).status).toBe(409);
      expect((await call('DELETE', `/v1/users/${bobId}`, { token: bob.accessToken })).status).toBe(403);
      expect((await call('DELETE', `/v1/users/${bobId}`, { token: acme.accessToken })).status).toBe(200);
      expect((await call('POST', '/v1/sign-in', { body: { email: 'bob@acme.example', password: 'a new password' } })).status).toBe(401);
    });
  });

  describe('meetings', () => {
    it('schedules, lists, edits with a version check, and deletes; the passcode is for the host and admins only', async () => {
      const acme = await newAccount('Acme', 'ada@acme.example');
      await call('POST', '/v1/users', { token: acme.accessToken, body: { email: 'bob@acme.example', displayName: 'Bob', password: 'bobs password!' } });
      const bob = (await call('POST', '/v1/sign-in', { body: { email: 'bob@acme.example', password: 'bobs password!' } })).body;
      const created = await call('POST', '/v1/meetings', {
        token: bob.accessToken,
        body: { topic: 'Weekly', mode: 'cloud-hybrid', passcode: '123456', e2ee: true, defaultQuality: 'HD', startsAt: now + 3_600_000 },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ topic: 'Weekly', mode: 'cloud-hybrid', e2ee: true, defaultQuality: 'HD', hostId: bob.user.id, hasPasscode: true, passcode: '123456', version: 1, durationMinutes: 60, onTopLoss: 'recover' });
      const id = created.body.id as string;
      await call('POST', '/v1/users', { token: acme.accessToken, body: { email: 'eve@acme.example', displayName: 'Eve', password: 'eves password!' } });
      const eve = (await call('POST', '/v1/sign-in', { body: { email: 'eve@acme.example', password: 'eves password!' } })).body;
      const seenByEve = await call('GET', `/v1/meetings/${id}`, { token: eve.accessToken });
      expect(seenByEve.body.hasPasscode).toBe(true);
      expect(seenByEve.body).not.toHaveProperty('passcode');
      expect((await call('GET', `/v1/meetings/${id}`, { token: acme.accessToken })).body.passcode).toBe('123456');
      expect((await call('PATCH', `/v1/meetings/${id}`, { token: eve.accessToken, body: { topic: 'Mine now' } })).status).toBe(403);

      const edited = await call('PATCH', `/v1/meetings/${id}`, { token: bob.accessToken, headers: { 'if-match': '"1"' }, body: { topic: 'Weekly sync', passcode: null } });
      expect(edited.body).toMatchObject({ topic: 'Weekly sync', hasPasscode: false, version: 2 });
      expect(edited.body).not.toHaveProperty('passcode');
      const stale = await call('PATCH', `/v1/meetings/${id}`, { token: acme.accessToken, headers: { 'if-match': '1' }, body: { topic: 'Lost update' } });
      expect(stale.status).toBe(409);
      expect(stale.body.error.code).toBe('CONFLICT');
      expect((await call('GET', '/v1/meetings', { token: eve.accessToken })).body.map((m: Json) => m.topic)).toEqual(['Weekly sync']);
      expect((await call('DELETE', `/v1/meetings/${id}`, { token: eve.accessToken })).status).toBe(403);
      expect((await call('DELETE', `/v1/meetings/${id}`, { token: acme.accessToken })).status).toBe(200);
      expect((await call('GET', `/v1/meetings/${id}`, { token: bob.accessToken })).status).toBe(404);
    });

    it('refuses a host from another account', async () => {
      const acme = await newAccount('Acme', 'ada@acme.example');
      const globex = await newAccount('Globex', 'hank@globex.example');
      const res = await call('POST', '/v1/meetings', { token: acme.accessToken, body: { topic: 'x', mode: 'internal-only', hostId: globex.user.id } });
      expect(res.status).toBe(404);
    });
  });

  describe('zones, nodes and modules', () => {
    it('lets an admin build a zone: nodes, modules (4 per node, a 5th refused clearly); members read; other accounts see nothing', async () => {
      const acme = await newAccount('Acme', 'ada@acme.example');
      const token = acme.accessToken;
      const zone = await call('POST', '/v1/zones', { token, body: { name: 'HQ Berlin' } });
      expect(zone.status).toBe(201);
      const node = await call('POST', `/v1/zones/${zone.body.id}/nodes`, { token, body: { name: 'rack-1', address: '10.0.0.11' } });
      expect(node.status).toBe(201);
      const nodeId = node.body.id as string;
      for (const [id, kind, url] of [['zcp-1', 'zcp', 'https://zcp-1.acme.example:8090'], ['sfu-1', 'sfu'], ['sfu-2', 'sfu'], ['sfu-3', 'sfu']]) {
        const res = await call('POST', `/v1/nodes/${nodeId}/modules`, { token, body: { id, kind, ...(url ? { url } : {}) } });
        expect([id, res.status, res.body.zoneId]).toEqual([id, 201, zone.body.id]);
      }
      const fifth = await call('POST', `/v1/nodes/${nodeId}/modules`, { token, body: { id: 'sfu-4', kind: 'sfu' } });
      expect(fifth.status).toBe(409);
      expect(fifth.body.error.message).toMatch(/4/);
      expect((await call('GET', `/v1/nodes/${nodeId}/modules`, { token })).body.map((m: Json) => m.id)).toEqual(['sfu-1', 'sfu-2', 'sfu-3', 'zcp-1']);
      expect((await call('DELETE', `/v1/zones/${zone.body.id}`, { token })).status).toBe(409);
      expect((await call('DELETE', `/v1/nodes/${nodeId}`, { token })).status).toBe(409);

      await call('POST', '/v1/users', { token, body: { email: 'bob@acme.example', displayName: 'Bob', password: 'bobs password!' } });
      const bob = (await call('POST', '/v1/sign-in', { body: { email: 'bob@acme.example', password: 'bobs password!' } })).body;
      expect((await call('GET', '/v1/zones', { token: bob.accessToken })).body.map((z: Json) => z.name)).toEqual(['HQ Berlin']);
      expect((await call('POST', '/v1/zones', { token: bob.accessToken, body: { name: 'Mine' } })).status).toBe(403);
      expect((await call('POST', `/v1/nodes/${nodeId}/modules`, { token: bob.accessToken, body: { id: 'sfu-9', kind: 'sfu' } })).status).toBe(403);

      const globex = await newAccount('Globex', 'hank@globex.example');
      expect((await call('GET', '/v1/zones', { token: globex.accessToken })).body).toEqual([]);
      expect((await call('GET', `/v1/zones/${zone.body.id}`, { token: globex.accessToken })).status).toBe(404);
      expect((await call('POST', `/v1/zones/${zone.body.id}/nodes`, { token: globex.accessToken, body: { name: 'x', address: '10.0.0.1' } })).status).toBe(404);
      expect((await call('POST', `/v1/nodes/${nodeId}/modules`, { token: globex.accessToken, body: { id: 'sfu-x', kind: 'sfu' } })).status).toBe(404);
      expect((await call('DELETE', '/v1/modules/sfu-1', { token: globex.accessToken })).status).toBe(404);

      expect((await call('DELETE', '/v1/modules/sfu-3', { token })).status).toBe(200);
      expect((await call('POST', `/v1/nodes/${nodeId}/modules`, { token, body: { id: 'sfu-4', kind: 'sfu' } })).status).toBe(201);
    });

    it('takes the zone id the ZCPs are configured with, once per deployment', async () => {
      const { accessToken: token } = await newAccount('Acme', 'ada@acme.example');
      const zone = await call('POST', '/v1/zones', { token, body: { name: 'HQ', id: 'hq' } });
      expect([zone.status, zone.body.id]).toEqual([201, 'hq']);
      const again = await call('POST', '/v1/zones', { token, body: { name: 'HQ 2', id: 'hq' } });
      expect([again.status, again.body.error.code]).toEqual([409, 'ALREADY_EXISTS']);
      expect((await call('POST', '/v1/zones', { token, body: { name: 'x', id: 'bad id!' } })).status).toBe(400);
    });

    it('refuses bad zone, node and module input', async () => {
      const { accessToken: token } = await newAccount('Acme', 'ada@acme.example');
      const zone = (await call('POST', '/v1/zones', { token, body: { name: 'HQ' } })).body;
      const node = (await call('POST', `/v1/zones/${zone.id}/nodes`, { token, body: { name: 'n', address: '10.0.0.1' } })).body;
      expect((await call('POST', '/v1/zones', { token, body: {} })).status).toBe(400);
      expect((await call('POST', `/v1/zones/${zone.id}/nodes`, { token, body: { name: 'n', address: 'not an address!' } })).status).toBe(400);
      for (const body of [{ id: 'sfu 1', kind: 'sfu' }, { id: 'sfu-1', kind: 'mcu' }, { id: 'zcp-1', kind: 'zcp', url: 'not a url' }]) {
        const res = await call('POST', `/v1/nodes/${node.id}/modules`, { token, body });
        expect([JSON.stringify(body), res.status, res.body.error.code]).toEqual([JSON.stringify(body), 400, 'INVALID_ARGUMENT']);
      }
    });
  });

  describe('joining', () => {
    async function setUp() {
      const acme = await newAccount('Acme', 'ada@acme.example');
      const token = acme.accessToken;
      const zone = (await call('POST', '/v1/zones', { token, body: { name: 'HQ' } })).body;
      const node = (await call('POST', `/v1/zones/${zone.id}/nodes`, { token, body: { name: 'n', address: '10.0.0.1' } })).body;
      await call('POST', `/v1/nodes/${node.id}/modules`, { token, body: { id: 'zcp-1', kind: 'zcp', url: 'http://10.0.0.1:8090' } });
      await call('POST', `/v1/nodes/${node.id}/modules`, { token, body: { id: 'zcp-2', kind: 'zcp', url: 'http://10.0.0.2:8090' } });
      await call('POST', `/v1/nodes/${node.id}/modules`, { token, body: { id: 'sfu-1', kind: 'sfu' } });
      // A zone without a ZCP is not offered.
      await call('POST', '/v1/zones', { token, body: { name: 'Empty' } });
      const internal = (await call('POST', '/v1/meetings', { token, body: { topic: 'Board', mode: 'internal-only' } })).body;
      const hybrid = (await call('POST', '/v1/meetings', { token, body: { topic: 'All hands', mode: 'cloud-hybrid', passcode: '4242', e2ee: true } })).body;
      return { acme, zone, internal, hybrid };
    }

    it("gives a member the meeting's mode, the cloud side of a cloud-hybrid meeting, and the account's zones with their ZCPs", async () => {
      const { acme, zone, internal, hybrid } = await setUp();
      const zones = [{ id: zone.id, name: 'HQ', zcpUrls: ['http://10.0.0.1:8090', 'http://10.0.0.2:8090'] }];
      const inside = await call('POST', `/v1/meetings/${internal.id}/join`, { token: acme.accessToken });
      expect(inside).toEqual({ status: 200, body: { meetingId: internal.id, topic: 'Board', mode: 'internal-only', e2ee: false, defaultQuality: 'SD', zones } });
      const mixed = await call('POST', `/v1/meetings/${hybrid.id}/join`, { token: acme.accessToken });
      expect(mixed.body).toEqual({
        meetingId: hybrid.id,
        topic: 'All hands',
        mode: 'cloud-hybrid',
        e2ee: true,
        defaultQuality: 'SD',
        signalingUrl: `ws://127.0.0.1:8080/v1/meetings/${hybrid.id}/signal`,
        cloudMmrUrl: 'ws://127.0.0.1:8110/v1/media',
        zones,
      });
      const globex = await newAccount('Globex', 'hank@globex.example');
      expect((await call('POST', `/v1/meetings/${hybrid.id}/join`, { token: globex.accessToken })).status).toBe(404);
      expect((await call('POST', `/v1/meetings/${internal.id}/join`)).status).toBe(401);
    });

    it('lets a guest into a cloud-hybrid meeting with its passcode (cloud only, a token for that meeting), never into an internal-only one', async () => {
      const { internal, hybrid } = await setUp();
      const refused = await call('POST', `/v1/meetings/${internal.id}/guest-join`, { body: { displayName: 'Visitor' } });
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toMatch(/internal-only: sign in with an account of its organization/);
      expect((await call('POST', `/v1/meetings/${hybrid.id}/guest-join`, { body: { displayName: 'Visitor' } })).body.error.message).toBe('this meeting needs a passcode');
      expect((await call('POST', `/v1/meetings/${hybrid.id}/guest-join`, { body: { displayName: 'Visitor', passcode: '0000' } })).body.error).toEqual({ code: 'UNAUTHENTICATED', message: 'wrong passcode' });
      const guest = await call('POST', `/v1/meetings/${hybrid.id}/guest-join`, { body: { displayName: 'Visitor', passcode: '4242' } });
      expect(guest.status).toBe(200);
      expect(guest.body).toMatchObject({ mode: 'cloud-hybrid', zones: [], cloudMmrUrl: 'ws://127.0.0.1:8110/v1/media', signalingUrl: expect.stringMatching(/^ws:/) });
      expect(verifyAccessToken(guest.body.accessToken, keys.publicKey, now)).toMatchObject({ kind: 'guest', meetingId: hybrid.id, displayName: 'Visitor' });
      expect((await call('GET', '/v1/meetings', { token: guest.body.accessToken })).status).toBe(403);
      expect((await call('POST', '/v1/meetings/m-none/guest-join', { body: { displayName: 'Visitor' } })).status).toBe(404);
    });

    it('rate-limits guesses of a passcode per meeting and address', async () => {
      const { hybrid } = await setUp();
      for (let i = 0; i < 10; i++) {
        expect((await call('POST', `/v1/meetings/${hybrid.id}/guest-join`, { ip: '10.7.0.1', body: { displayName: 'G', passcode: String(1000 + i) } })).status).toBe(401);
      }
      expect((await call('POST', `/v1/meetings/${hybrid.id}/guest-join`, { ip: '10.7.0.1', body: { displayName: 'G', passcode: '4242' } })).status).toBe(429);
      expect((await call('POST', `/v1/meetings/${hybrid.id}/guest-join`, { ip: '10.7.0.2', body: { displayName: 'G', passcode: '4242' } })).status).toBe(200);
    });
  });

  describe('bad input', () => {
    it.each([
      ['/v1/sign-in', { email: 'not-an-email', password: 'x' }, /email/],
      ['/v1/sign-in', { email: 'a@b.example' }, /password/],
      ['/v1/sign-in', { email: 'a@b.example', password: 'x', admin: true }, /additional properties/],
      ['/v1/accounts', { name: 'Acme', admin: { email: 'a@b.example', displayName: 'A', password: 'short' } }, /password/],
      ['/v1/accounts', { name: ' ', admin: { email: 'a@b.example', displayName: 'A', password: 'long enough pw' } }, /name/],
    ])('refuses POST %s with %j, naming the field', async (url, body, message) => {
      const res = await call('POST', url, { body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_ARGUMENT');
      expect(res.body.error.message).toMatch(message);
    });

    it('refuses invalid meeting fields and ids, and malformed JSON', async () => {
      const { accessToken: token } = await newAccount('Acme', 'ada@acme.example');
      for (const body of [{ topic: 'x', mode: 'public' }, { topic: '', mode: 'internal-only' }, { topic: 'x', mode: 'internal-only', passcode: 'abc' }, { topic: 'x', mode: 'internal-only', durationMinutes: 0 }]) {
        const res = await call('POST', '/v1/meetings', { token, body });
        expect([JSON.stringify(body), res.status, res.body.error.code]).toEqual([JSON.stringify(body), 400, 'INVALID_ARGUMENT']);
      }
      expect((await call('PATCH', '/v1/meetings/m-1', { token, body: {} })).status).toBe(400);
      expect((await call('GET', '/v1/meetings/bad%20id!', { token })).status).toBe(400);
      const malformed = await app.http.inject({ method: 'POST', url: '/v1/sign-in', headers: { 'content-type': 'application/json' }, payload: '{"email":' });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error.code).toBe('INVALID_ARGUMENT');
    });
  });

  describe('OpenAPI', () => {
    it('serves a valid OpenAPI 3 document at /docs naming every route and its errors', async () => {
      const res = await app.http.inject({ method: 'GET', url: '/docs' });
      expect(res.statusCode).toBe(200);
      const doc = res.json();
      const result = await validate(structuredClone(doc));
      expect(result).toMatchObject({ valid: true });
      expect(Object.keys(doc.paths).sort()).toEqual([
        '/v1/account',
        '/v1/accounts',
        '/v1/meetings',
        '/v1/meetings/{id}',
        '/v1/meetings/{id}/guest-join',
        '/v1/meetings/{id}/join',
        '/v1/modules/{id}',
        '/v1/nodes/{id}',
        '/v1/nodes/{id}/modules',
        '/v1/sign-in',
        '/v1/users',
        '/v1/users/{id}',
        '/v1/zones',
        '/v1/zones/{id}',
        '/v1/zones/{id}/nodes',
      ]);
      expect(Object.keys(doc.paths['/v1/sign-in'].post.responses).sort()).toEqual(['200', '400', '401', '429']);
      expect(JSON.stringify(doc)).not.toMatch(/passwordHash/);
    });
  });
});
