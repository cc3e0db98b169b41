/**
 * The one behaviour both `Directory` implementations must have. Spec files
 * call `describeDirectoryContract` with a factory; the suite is written once
 * and never branches on the implementation.
 */
import {
  AccountId,
  MeetedgeError,
  MeetingId,
  ModuleId,
  NodeId,
  UserId,
  ZoneId,
  type ErrorCode,
} from '@meetedge/core';
import { waitFor } from '@meetedge/test-kit';
import {
  MAX_MODULES_PER_NODE,
  type Directory,
  type Meeting,
  type NewMeeting,
  type NewModuleAssignment,
  type NewNode,
  type NewUser,
} from '../directory';
import type { DirectoryFactory, DirectoryFixture } from './fixtures';

const ACME = AccountId('acme');
const GLOBEX = AccountId('globex');
const HASH = 'scrypt$16384$8$1$c2FsdA$aGFzaA';
/** Longer than any test: windows that must not end while a test counts. */
const LONG_WINDOW_MS = 60_000;
/** Short enough to wait out by polling; nothing asserts it is still open after a delay. */
const SHORT_WINDOW_MS = 150;

function user(id: string, overrides: Partial<NewUser> = {}): NewUser {
  return {
    id: UserId(id),
    accountId: ACME,
    email: `${id}@acme.example`,
    displayName: `User ${id}`,
    role: 'member',
    passwordHash: HASH,
    ...overrides,
  };
}

function meeting(id: string, overrides: Partial<NewMeeting> = {}): NewMeeting {
  return {
    id: MeetingId(id),
    accountId: ACME,
    topic: `Topic of ${id}`,
    mode: 'cloud-hybrid',
    e2ee: false,
    defaultQuality: 'HD',
    passcode: undefined,
    hostId: UserId('u-host'),
    startsAt: undefined,
    durationMinutes: 30,
    onTopLoss: 'recover',
    ...overrides,
  };
}

function node(id: string, overrides: Partial<NewNode> = {}): NewNode {
  return { id: NodeId(id), accountId: ACME, zoneId: ZoneId('zone-a'), name: `Server ${id}`, address: '10.0.0.1', ...overrides };
}

function module(id: string, overrides: Partial<NewModuleAssignment> = {}): NewModuleAssignment {
  return { id: ModuleId(id), accountId: ACME, nodeId: NodeId('node-1'), kind: 'sfu', ...overrides };
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<MeetedgeError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(MeetedgeError);
  return error as MeetedgeError;
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  expect((await rejection(promise)).code).toBe(code);
}

/** The codes of the rejected results and the values of the fulfilled ones. */
function settle<T>(results: PromiseSettledResult<T>[]): { values: T[]; codes: string[] } {
  const values: T[] = [];
  const codes: string[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') values.push(result.value);
    else codes.push(result.reason instanceof MeetedgeError ? result.reason.code : String(result.reason));
  }
  return { values, codes };
}

/** The order `listMeetings` promises: by start (creation for instant ones), then id. */
function inListOrder(meetings: readonly Meeting[]): string[] {
  return [...meetings]
    .sort((a, b) => (a.startsAt ?? a.createdAt) - (b.startsAt ?? b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((m) => m.id);
}

/**
 * Defines the contract tests for one implementation. `factory` builds a fresh
 * fixture per test (see `memoryDirectoryFactory`, `redisDirectoryFactory`).
 */
export function describeDirectoryContract(name: string, factory: DirectoryFactory): void {
  describe(`${name} (Directory contract)`, () => {
    let fx: DirectoryFixture;
    let dir: Directory;
    const others: DirectoryFixture[] = [];

    /** A second fixture with several peers (for Redis: several connections), closed after the test. */
    const openPeers = async (peers: number): Promise<readonly Directory[]> => {
      const fixture = await factory({ peers });
      others.push(fixture);
      return fixture.directories;
    };

    /** An account with a zone `zone-a` and a node `node-1` in it. */
    const infrastructure = async (on: Directory = dir): Promise<void> => {
      await on.createAccount({ id: ACME, name: 'Acme' });
      await on.createZone({ id: ZoneId('zone-a'), accountId: ACME, name: 'Paris' });
      await on.createNode(node('node-1'));
    };

    beforeEach(async () => {
      fx = await factory({ peers: 1 });
      dir = fx.directories[0] as Directory;
    });

    afterEach(async () => {
      await Promise.all([fx.close(), ...others.splice(0).map((fixture) => fixture.close())]);
    });

    describe('accounts', () => {
      it('createAccount() answers the record with its creation time; getAccount() gives the same', async () => {
        const before = Date.now();
        const account = await dir.createAccount({ id: ACME, name: 'Acme Corp' });
        expect(account).toEqual({ id: 'acme', name: 'Acme Corp', createdAt: expect.any(Number) });
        // Same host or not, the store's clock is not years off this one.
        expect(Math.abs(account.createdAt - before)).toBeLessThan(24 * 3600_000);
        expect(await dir.getAccount(ACME)).toEqual(account);
        expect(await dir.getAccount(AccountId('nobody'))).toBeUndefined();
      });

      it('createAccount() with an id that exists is ALREADY_EXISTS and keeps the first', async () => {
        await dir.createAccount({ id: ACME, name: 'Acme' });
        await expectCode(dir.createAccount({ id: ACME, name: 'Impostor' }), 'ALREADY_EXISTS');
        expect((await dir.getAccount(ACME))?.name).toBe('Acme');
      });

      it('refuses a malformed id (INVALID_ID) and an empty name (INVALID_ARGUMENT)', async () => {
        await expectCode(dir.createAccount({ id: 'not an id' as AccountId, name: 'Acme' }), 'INVALID_ID');
        await expectCode(dir.createAccount({ id: ACME, name: '' }), 'INVALID_ARGUMENT');
        await expectCode(dir.getAccount('a:b' as AccountId), 'INVALID_ID');
        expect(await dir.getAccount(ACME)).toBeUndefined();
      });
    });

    describe('users', () => {
      beforeEach(async () => {
        await dir.createAccount({ id: ACME, name: 'Acme' });
      });

      it('createUser() lower-cases the e-mail and answers the record; getUser() and getUserByEmail() in any case find it', async () => {
        const created = await dir.createUser(user('u-1', { email: 'Ada.Lovelace@Acme.Example', role: 'admin' }));
        expect(created).toEqual({
          id: 'u-1',
          accountId: 'acme',
          email: 'ada.lovelace@acme.example',
          displayName: 'User u-1',
          role: 'admin',
          passwordHash: HASH,
          createdAt: expect.any(Number),
        });
        expect(await dir.getUser(UserId('u-1'))).toEqual(created);
        expect(await dir.getUserByEmail('ada.lovelace@acme.example')).toEqual(created);
        expect(await dir.getUserByEmail('ADA.LOVELACE@ACME.EXAMPLE')).toEqual(created);
        expect(await dir.getUserByEmail('someone.else@acme.example')).toBeUndefined();
        expect(await dir.getUserByEmail('not an address')).toBeUndefined();
        expect(await dir.getUser(UserId('u-unknown'))).toBeUndefined();
      });

      it('createUser() without the account is NOT_FOUND and stores nothing', async () => {
        await expectCode(dir.createUser(user('u-1', { accountId: GLOBEX })), 'NOT_FOUND');
        expect(await dir.getUser(UserId('u-1'))).toBeUndefined();
        expect(await dir.getUserByEmail('u-1@acme.example')).toBeUndefined();
      });

      it('createUser() with a used id is ALREADY_EXISTS and does not take the new e-mail', async () => {
        await dir.createUser(user('u-1'));
        await expectCode(dir.createUser(user('u-1', { email: 'fresh@acme.example' })), 'ALREADY_EXISTS');
        expect(await dir.getUserByEmail('fresh@acme.example')).toBeUndefined();
        expect((await dir.getUser(UserId('u-1')))?.email).toBe('u-1@acme.example');
      });

      it('an e-mail is unique across every account, whatever its case', async () => {
        await dir.createAccount({ id: GLOBEX, name: 'Globex' });
        await dir.createUser(user('u-1', { email: 'boss@example.com' }));
        const error = await rejection(dir.createUser(user('u-2', { accountId: GLOBEX, email: 'BOSS@Example.com' })));
        expect(error.code).toBe('ALREADY_EXISTS');
        expect(error.details).toEqual({ field: 'email' });
        expect(await dir.getUser(UserId('u-2'))).toBeUndefined();
        expect(await dir.listUsers(GLOBEX)).toEqual([]);
      });

      it("listUsers() gives the account's users ordered by e-mail, and no one else's", async () => {
        await dir.createAccount({ id: GLOBEX, name: 'Globex' });
        await dir.createUser(user('u-1', { email: 'carol@acme.example' }));
        await dir.createUser(user('u-2', { email: 'Alice@acme.example' }));
        await dir.createUser(user('u-3', { email: 'bob@acme.example' }));
        await dir.createUser(user('u-4', { accountId: GLOBEX, email: 'aaron@globex.example' }));
        expect((await dir.listUsers(ACME)).map((u) => u.email)).toEqual([
          'alice@acme.example',
          'bob@acme.example',
          'carol@acme.example',
        ]);
        expect((await dir.listUsers(GLOBEX)).map((u) => u.id)).toEqual(['u-4']);
        expect(await dir.listUsers(AccountId('nobody'))).toEqual([]);
      });

      it('updateUser() changes what the patch gives, leaves the rest (undefined included) as it was', async () => {
        const created = await dir.createUser(user('u-1'));
        const updated = await dir.updateUser(UserId('u-1'), { role: 'admin', passwordHash: 'scrypt$new', displayName: undefined });
        expect(updated).toEqual({ ...created, role: 'admin', passwordHash: 'scrypt$new' });
        expect(await dir.getUser(UserId('u-1'))).toEqual(updated);
        expect(await dir.updateUser(UserId('u-1'), { displayName: 'Ada' })).toEqual({ ...updated, displayName: 'Ada' });
        expect(await dir.updateUser(UserId('u-1'), {})).toEqual({ ...updated, displayName: 'Ada' });
      });

      it('updateUser() of a missing user is NOT_FOUND and creates nothing', async () => {
        await expectCode(dir.updateUser(UserId('u-ghost'), { displayName: 'Ghost' }), 'NOT_FOUND');
        expect(await dir.getUser(UserId('u-ghost'))).toBeUndefined();
        expect(await dir.listUsers(ACME)).toEqual([]);
      });

      it('deleteUser() removes the user and frees the e-mail address; false when there was none', async () => {
        await dir.createUser(user('u-1', { email: 'ada@acme.example' }));
        await dir.createUser(user('u-2'));
        expect(await dir.deleteUser(UserId('u-1'))).toBe(true);
        expect(await dir.deleteUser(UserId('u-1'))).toBe(false);
        expect(await dir.getUser(UserId('u-1'))).toBeUndefined();
        expect(await dir.getUserByEmail('ada@acme.example')).toBeUndefined();
        expect((await dir.listUsers(ACME)).map((u) => u.id)).toEqual(['u-2']);
        const again = await dir.createUser(user('u-3', { email: 'ADA@acme.example' }));
        expect((await dir.getUserByEmail('ada@acme.example'))?.id).toBe(again.id);
      });

      it('refuses malformed users with INVALID_ARGUMENT / INVALID_ID', async () => {
        await expectCode(dir.createUser(user('u-1', { email: 'no-at-sign' })), 'INVALID_ARGUMENT');
        await expectCode(dir.createUser(user('u-1', { role: 'owner' as never })), 'INVALID_ARGUMENT');
        await expectCode(dir.createUser(user('u-1', { passwordHash: '' })), 'INVALID_ARGUMENT');
        await expectCode(dir.createUser(user('u-1', { id: 'u 1' as UserId })), 'INVALID_ID');
        await expectCode(dir.updateUser(UserId('u-1'), { role: 'root' as never }), 'INVALID_ARGUMENT');
        await expectCode(dir.getUserByEmail(42 as unknown as string), 'INVALID_ARGUMENT');
        expect(await dir.listUsers(ACME)).toEqual([]);
      });

      it('100 concurrent createUser() with one e-mail (in several cases, from several connections): exactly one wins', async () => {
        const peers = await openPeers(4);
        await peers[0]?.createAccount({ id: GLOBEX, name: 'Globex' });
        const attempts = Array.from({ length: 100 }, (_, i) => {
          const email = i % 2 === 0 ? 'race@globex.example' : 'RACE@Globex.Example';
          return (peers[i % peers.length] as Directory).createUser(user(`u-${i}`, { accountId: GLOBEX, email }));
        });
        const { values, codes } = settle(await Promise.allSettled(attempts));
        expect(values).toHaveLength(1);
        expect(codes).toEqual(Array.from({ length: 99 }, () => 'ALREADY_EXISTS'));
        const winner = values[0];
        expect(await peers[1]?.getUserByEmail('race@globex.example')).toEqual(winner);
        expect(await peers[2]?.listUsers(GLOBEX)).toEqual([winner]);
      });
    });

    describe('meetings', () => {
      beforeEach(async () => {
        await dir.createAccount({ id: ACME, name: 'Acme' });
      });

      it('createMeeting() answers version 1 with createdAt = updatedAt, and every field round-trips exactly', async () => {
        const scheduled = meeting('m-1', {
          topic: 'Quarterly review: "numbers" & plans — ünïcødé',
          mode: 'internal-only',
          e2ee: true,
          defaultQuality: 'SD',
          passcode: '007',
          startsAt: 1_893_456_000_123,
          durationMinutes: 90,
          onTopLoss: 'collapse',
        });
        const created = await dir.createMeeting(scheduled);
        expect(created).toEqual({
          ...scheduled,
          createdAt: expect.any(Number),
          updatedAt: created.createdAt,
          version: 1,
        });
        expect(await dir.getMeeting(MeetingId('m-1'))).toStrictEqual(created);

        const instant = await dir.createMeeting(meeting('m-2'));
        expect(instant).toMatchObject({ e2ee: false, passcode: undefined, startsAt: undefined, version: 1 });
        expect(await dir.getMeeting(MeetingId('m-2'))).toStrictEqual(instant);
        expect(await dir.getMeeting(MeetingId('m-unknown'))).toBeUndefined();
      });

      it('createMeeting() without the account is NOT_FOUND; with a used id ALREADY_EXISTS', async () => {
        await expectCode(dir.createMeeting(meeting('m-1', { accountId: GLOBEX })), 'NOT_FOUND');
        expect(await dir.getMeeting(MeetingId('m-1'))).toBeUndefined();
        await dir.createMeeting(meeting('m-1', { topic: 'first' }));
        await expectCode(dir.createMeeting(meeting('m-1', { topic: 'second' })), 'ALREADY_EXISTS');
        expect((await dir.getMeeting(MeetingId('m-1')))?.topic).toBe('first');
      });

      it('refuses malformed meetings with INVALID_ARGUMENT', async () => {
        await expectCode(dir.createMeeting(meeting('m-1', { passcode: '12ab' })), 'INVALID_ARGUMENT');
        await expectCode(dir.createMeeting(meeting('m-1', { mode: 'public' as never })), 'INVALID_ARGUMENT');
        await expectCode(dir.createMeeting(meeting('m-1', { durationMinutes: 0 })), 'INVALID_ARGUMENT');
        await expectCode(dir.createMeeting(meeting('m-1', { startsAt: 1.5 })), 'INVALID_ARGUMENT');
        await expectCode(dir.createMeeting(meeting('m-1', { e2ee: 'yes' as never })), 'INVALID_ARGUMENT');
        expect(await dir.listMeetings(ACME)).toEqual([]);
      });

      it('listMeetings() orders by start (instant ones by creation), then id, and shows only the account', async () => {
        await dir.createAccount({ id: GLOBEX, name: 'Globex' });
        await dir.createMeeting(meeting('m-late', { startsAt: 4_000_000_000_000 }));
        await dir.createMeeting(meeting('m-b', { startsAt: 1_000 }));
        await dir.createMeeting(meeting('m-a', { startsAt: 1_000 }));
        await dir.createMeeting(meeting('m-early', { startsAt: 500 }));
        await dir.createMeeting(meeting('m-now-2'));
        await dir.createMeeting(meeting('m-now-1'));
        await dir.createMeeting(meeting('g-1', { accountId: GLOBEX, startsAt: 700 }));

        const listed = await dir.listMeetings(ACME);
        const ids = listed.map((m) => m.id);
        expect(ids.slice(0, 3)).toEqual(['m-early', 'm-a', 'm-b']);
        expect(ids.at(-1)).toBe('m-late');
        expect(new Set(ids.slice(3, 5))).toEqual(new Set(['m-now-1', 'm-now-2']));
        // The two instant ones sort by their creation time (ties by id), whatever it turned out to be.
        expect(ids).toEqual(inListOrder(listed));
        expect((await dir.listMeetings(GLOBEX)).map((m) => m.id)).toEqual(['g-1']);
        expect(await dir.listMeetings(AccountId('nobody'))).toEqual([]);
      });

      it('updateMeeting() applies the patch, adds 1 to the version and moves updatedAt, keeps the rest', async () => {
        const created = await dir.createMeeting(meeting('m-1', { passcode: '1234' }));
        const updated = await dir.updateMeeting(MeetingId('m-1'), { topic: 'Renamed', e2ee: true, durationMinutes: 45 });
        expect(updated).toEqual({
          ...created,
          topic: 'Renamed',
          e2ee: true,
          durationMinutes: 45,
          updatedAt: expect.any(Number),
          version: 2,
        });
        expect(updated.updatedAt).toBeGreaterThanOrEqual(created.updatedAt);
        expect(await dir.getMeeting(MeetingId('m-1'))).toStrictEqual(updated);
        const third = await dir.updateMeeting(MeetingId('m-1'), { e2ee: false });
        expect(third).toMatchObject({ e2ee: false, version: 3, passcode: '1234' });
      });

      it('`passcode: undefined` removes the passcode and `startsAt: undefined` makes the meeting instant; absent keys keep them', async () => {
        const created = await dir.createMeeting(meeting('m-1', { passcode: '123456', startsAt: 2_000 }));
        const kept = await dir.updateMeeting(MeetingId('m-1'), { topic: 'New topic' });
        expect(kept).toMatchObject({ passcode: '123456', startsAt: 2_000 });
        const cleared = await dir.updateMeeting(MeetingId('m-1'), { passcode: undefined, startsAt: undefined });
        expect(cleared.passcode).toBeUndefined();
        expect(cleared.startsAt).toBeUndefined();
        expect(cleared.version).toBe(3);
        expect(await dir.getMeeting(MeetingId('m-1'))).toStrictEqual(cleared);
        // Required fields given as undefined are left alone.
        const same = await dir.updateMeeting(MeetingId('m-1'), { topic: undefined, mode: undefined });
        expect(same).toMatchObject({ topic: 'New topic', mode: created.mode, version: 4 });
        // Back to scheduled: the list order follows the new start.
        await dir.createMeeting(meeting('m-2', { startsAt: 5_000 }));
        await dir.updateMeeting(MeetingId('m-1'), { passcode: '999', startsAt: 9_000 });
        expect((await dir.listMeetings(ACME)).map((m) => m.id)).toEqual(['m-2', 'm-1']);
        await dir.updateMeeting(MeetingId('m-1'), { startsAt: 1_000 });
        expect((await dir.listMeetings(ACME)).map((m) => m.id)).toEqual(['m-1', 'm-2']);
        expect((await dir.getMeeting(MeetingId('m-1')))?.passcode).toBe('999');
      });

      it('updateMeeting() with the record’s version succeeds; with another is CONFLICT and changes nothing', async () => {
        await dir.createMeeting(meeting('m-1'));
        const second = await dir.updateMeeting(MeetingId('m-1'), { topic: 'v2' }, 1);
        expect(second.version).toBe(2);
        const error = await rejection(dir.updateMeeting(MeetingId('m-1'), { topic: 'stale' }, 1));
        expect(error.code).toBe('CONFLICT');
        expect(error.details).toEqual({ meetingId: 'm-1', expectedVersion: 1, version: 2 });
        await expectCode(dir.updateMeeting(MeetingId('m-1'), { topic: 'future' }, 3), 'CONFLICT');
        expect(await dir.getMeeting(MeetingId('m-1'))).toStrictEqual(second);
        expect((await dir.updateMeeting(MeetingId('m-1'), { topic: 'v3' }, 2)).version).toBe(3);
      });

      it('updateMeeting() of a missing meeting is NOT_FOUND, with or without an expected version', async () => {
        await expectCode(dir.updateMeeting(MeetingId('m-ghost'), { topic: 'x' }), 'NOT_FOUND');
        await expectCode(dir.updateMeeting(MeetingId('m-ghost'), { topic: 'x' }, 1), 'NOT_FOUND');
        expect(await dir.getMeeting(MeetingId('m-ghost'))).toBeUndefined();
        await expectCode(dir.updateMeeting(MeetingId('m-ghost'), { passcode: 'abc' }), 'INVALID_ARGUMENT');
      });

      it('concurrent updates from several connections with the same expected version: exactly one wins', async () => {
        const peers = await openPeers(4);
        await peers[0]?.createAccount({ id: GLOBEX, name: 'Globex' });
        await peers[0]?.createMeeting(meeting('m-1', { accountId: GLOBEX }));
        const updates = Array.from({ length: 20 }, (_, i) =>
          (peers[i % peers.length] as Directory).updateMeeting(MeetingId('m-1'), { topic: `writer ${i}` }, 1),
        );
        const { values, codes } = settle(await Promise.allSettled(updates));
        expect(values).toHaveLength(1);
        expect(codes).toEqual(Array.from({ length: 19 }, () => 'CONFLICT'));
        expect(await peers[1]?.getMeeting(MeetingId('m-1'))).toStrictEqual(values[0]);
        expect(values[0]?.version).toBe(2);
      });

      it('deleteMeeting() removes it from reads and the list; false when there was none', async () => {
        await dir.createMeeting(meeting('m-1', { startsAt: 1_000 }));
        await dir.createMeeting(meeting('m-2', { startsAt: 2_000 }));
        expect(await dir.deleteMeeting(MeetingId('m-1'))).toBe(true);
        expect(await dir.deleteMeeting(MeetingId('m-1'))).toBe(false);
        expect(await dir.getMeeting(MeetingId('m-1'))).toBeUndefined();
        expect((await dir.listMeetings(ACME)).map((m) => m.id)).toEqual(['m-2']);
        await expectCode(dir.updateMeeting(MeetingId('m-1'), { topic: 'x' }), 'NOT_FOUND');
      });
    });

    describe('zones, nodes and modules', () => {
      it('createZone() / getZone() / listZones(), ordered by id; NOT_FOUND without the account, ALREADY_EXISTS for a used id', async () => {
        await expectCode(dir.createZone({ id: ZoneId('zone-a'), accountId: ACME, name: 'Paris' }), 'NOT_FOUND');
        await dir.createAccount({ id: ACME, name: 'Acme' });
        const b = await dir.createZone({ id: ZoneId('zone-b'), accountId: ACME, name: 'Berlin' });
        const a = await dir.createZone({ id: ZoneId('zone-a'), accountId: ACME, name: 'Paris' });
        expect(a).toEqual({ id: 'zone-a', accountId: 'acme', name: 'Paris', createdAt: expect.any(Number) });
        expect(await dir.getZone(ZoneId('zone-a'))).toEqual(a);
        expect(await dir.getZone(ZoneId('zone-x'))).toBeUndefined();
        expect(await dir.listZones(ACME)).toEqual([a, b]);
        await expectCode(dir.createZone({ id: ZoneId('zone-a'), accountId: ACME, name: 'Lyon' }), 'ALREADY_EXISTS');
        expect((await dir.getZone(ZoneId('zone-a')))?.name).toBe('Paris');
      });

      it("createNode() needs the zone in the node's own account (NOT_FOUND otherwise); ALREADY_EXISTS for a used id", async () => {
        await infrastructure();
        await dir.createAccount({ id: GLOBEX, name: 'Globex' });
        await dir.createZone({ id: ZoneId('zone-g'), accountId: GLOBEX, name: 'Globex HQ' });
        await expectCode(dir.createNode(node('node-2', { zoneId: ZoneId('zone-missing') })), 'NOT_FOUND');
        await expectCode(dir.createNode(node('node-2', { zoneId: ZoneId('zone-g') })), 'NOT_FOUND');
        await expectCode(dir.createNode(node('node-2', { accountId: GLOBEX })), 'NOT_FOUND');
        expect(await dir.getNode(NodeId('node-2'))).toBeUndefined();
        await expectCode(dir.createNode(node('node-1', { name: 'Again' })), 'ALREADY_EXISTS');
        expect((await dir.getNode(NodeId('node-1')))?.name).toBe('Server node-1');
        await expectCode(dir.createNode(node('node-3', { address: 'has space' })), 'INVALID_ARGUMENT');
      });

      it('getNode() / listNodes() give the zone’s nodes ordered by id', async () => {
        await infrastructure();
        await dir.createZone({ id: ZoneId('zone-b'), accountId: ACME, name: 'Berlin' });
        const zero = await dir.createNode(node('node-0', { address: 'sfu0.acme.example' }));
        await dir.createNode(node('node-9', { zoneId: ZoneId('zone-b') }));
        const one = await dir.getNode(NodeId('node-1'));
        expect(one).toEqual({
          id: 'node-1',
          accountId: 'acme',
          zoneId: 'zone-a',
          name: 'Server node-1',
          address: '10.0.0.1',
          createdAt: expect.any(Number),
        });
        expect(await dir.listNodes(ZoneId('zone-a'))).toEqual([zero, one]);
        expect((await dir.listNodes(ZoneId('zone-b'))).map((n) => n.id)).toEqual(['node-9']);
        expect(await dir.listNodes(ZoneId('zone-none'))).toEqual([]);
        expect(await dir.getNode(NodeId('node-x'))).toBeUndefined();
      });

      it("assignModule() takes the node's zone and answers the record; getModule(), listModules(), listZoneModules() show it", async () => {
        await infrastructure();
        await dir.createNode(node('node-2'));
        await dir.createZone({ id: ZoneId('zone-b'), accountId: ACME, name: 'Berlin' });
        await dir.createNode(node('node-b', { zoneId: ZoneId('zone-b') }));
        const zcp = await dir.assignModule(module('zcp-1', { kind: 'zcp', url: 'https://zcp-1.acme.example:8090' }));
        expect(zcp).toEqual({ id: 'zcp-1', accountId: 'acme', nodeId: 'node-1', zoneId: 'zone-a', kind: 'zcp', url: 'https://zcp-1.acme.example:8090', createdAt: expect.any(Number) });
        const sfu = await dir.assignModule(module('sfu-1'));
        const other = await dir.assignModule(module('sfu-2', { nodeId: NodeId('node-2') }));
        await dir.assignModule(module('sfu-b', { nodeId: NodeId('node-b') }));
        expect(await dir.getModule(ModuleId('zcp-1'))).toEqual(zcp);
        expect(await dir.getModule(ModuleId('sfu-x'))).toBeUndefined();
        expect(await dir.listModules(NodeId('node-1'))).toEqual([sfu, zcp]);
        expect(await dir.listZoneModules(ZoneId('zone-a'))).toEqual([sfu, other, zcp]);
        expect((await dir.listZoneModules(ZoneId('zone-b'))).map((m) => m.id)).toEqual(['sfu-b']);
        expect(await dir.listModules(NodeId('node-none'))).toEqual([]);
      });

      it('assignModule() keeps no url when none is given, and refuses one that is not an absolute http(s)/ws(s) URL', async () => {
        await infrastructure();
        const bare = await dir.assignModule(module('sfu-1'));
        expect(bare.url).toBeUndefined();
        expect((await dir.getModule(ModuleId('sfu-1')))?.url).toBeUndefined();
        for (const url of ['zcp-1:8090', 'ftp://zcp-1', '']) {
          await expectCode(dir.assignModule(module('zcp-9', { kind: 'zcp', url })), 'INVALID_ARGUMENT');
        }
        expect(await dir.getModule(ModuleId('zcp-9'))).toBeUndefined();
      });

      it("assignModule(): NOT_FOUND without the node or for another account's node, ALREADY_EXISTS for an id assigned anywhere", async () => {
        await infrastructure();
        await dir.createNode(node('node-2'));
        await dir.createAccount({ id: GLOBEX, name: 'Globex' });
        await expectCode(dir.assignModule(module('sfu-1', { nodeId: NodeId('node-missing') })), 'NOT_FOUND');
        await expectCode(dir.assignModule(module('sfu-1', { accountId: GLOBEX })), 'NOT_FOUND');
        expect(await dir.getModule(ModuleId('sfu-1'))).toBeUndefined();
        await dir.assignModule(module('sfu-1'));
        await expectCode(dir.assignModule(module('sfu-1', { nodeId: NodeId('node-2') })), 'ALREADY_EXISTS');
        expect((await dir.getModule(ModuleId('sfu-1')))?.nodeId).toBe('node-1');
        expect(await dir.listModules(NodeId('node-2'))).toEqual([]);
        await expectCode(dir.assignModule(module('sfu-2', { kind: 'mcu' as never })), 'INVALID_ARGUMENT');
      });

      it(`a node runs at most ${MAX_MODULES_PER_NODE} modules: one more is CONFLICT; removeModule() frees a slot`, async () => {
        await infrastructure();
        for (let i = 1; i <= MAX_MODULES_PER_NODE; i++) await dir.assignModule(module(`sfu-${i}`));
        const error = await rejection(dir.assignModule(module('sfu-extra')));
        expect(error.code).toBe('CONFLICT');
        expect(error.details).toEqual({ nodeId: 'node-1', maxModules: MAX_MODULES_PER_NODE });
        expect(await dir.getModule(ModuleId('sfu-extra'))).toBeUndefined();
        // An id already assigned is ALREADY_EXISTS even on a full node.
        await expectCode(dir.assignModule(module('sfu-1')), 'ALREADY_EXISTS');

        expect(await dir.removeModule(ModuleId('sfu-2'))).toBe(true);
        expect(await dir.removeModule(ModuleId('sfu-2'))).toBe(false);
        expect(await dir.getModule(ModuleId('sfu-2'))).toBeUndefined();
        expect((await dir.listZoneModules(ZoneId('zone-a'))).map((m) => m.id)).toEqual(['sfu-1', 'sfu-3', 'sfu-4']);
        await dir.assignModule(module('sfu-extra'));
        expect(await dir.listModules(NodeId('node-1'))).toHaveLength(MAX_MODULES_PER_NODE);
      });

      it(`50 concurrent assignModule() to one node from several connections: exactly ${MAX_MODULES_PER_NODE} succeed, the rest are CONFLICT`, async () => {
        const peers = await openPeers(5);
        await infrastructure(peers[0] as Directory);
        const attempts = Array.from({ length: 50 }, (_, i) => (peers[i % peers.length] as Directory).assignModule(module(`sfu-${i}`)));
        const { values, codes } = settle(await Promise.allSettled(attempts));
        expect(values).toHaveLength(MAX_MODULES_PER_NODE);
        expect(codes).toEqual(Array.from({ length: 50 - MAX_MODULES_PER_NODE }, () => 'CONFLICT'));
        const listed = await peers[3]?.listModules(NodeId('node-1'));
        expect(listed?.map((m) => m.id).sort()).toEqual(values.map((m) => m.id).sort());
        expect(await peers[4]?.listZoneModules(ZoneId('zone-a'))).toHaveLength(MAX_MODULES_PER_NODE);
      });

      it('deleteNode() is CONFLICT while the node has modules; deleteZone() is CONFLICT while the zone has nodes', async () => {
        await infrastructure();
        await dir.assignModule(module('sfu-1'));
        await expectCode(dir.deleteNode(NodeId('node-1')), 'CONFLICT');
        await expectCode(dir.deleteZone(ZoneId('zone-a')), 'CONFLICT');
        expect(await dir.getNode(NodeId('node-1'))).toBeDefined();
        expect(await dir.getZone(ZoneId('zone-a'))).toBeDefined();

        await dir.removeModule(ModuleId('sfu-1'));
        await expectCode(dir.deleteZone(ZoneId('zone-a')), 'CONFLICT');
        expect(await dir.deleteNode(NodeId('node-1'))).toBe(true);
        expect(await dir.deleteNode(NodeId('node-1'))).toBe(false);
        expect(await dir.getNode(NodeId('node-1'))).toBeUndefined();
        expect(await dir.listNodes(ZoneId('zone-a'))).toEqual([]);

        expect(await dir.deleteZone(ZoneId('zone-a'))).toBe(true);
        expect(await dir.deleteZone(ZoneId('zone-a'))).toBe(false);
        expect(await dir.getZone(ZoneId('zone-a'))).toBeUndefined();
        expect(await dir.listZones(ACME)).toEqual([]);
        // Deleted ids can be used again.
        await dir.createZone({ id: ZoneId('zone-a'), accountId: ACME, name: 'Paris again' });
        await dir.createNode(node('node-1'));
        expect((await dir.assignModule(module('sfu-1'))).zoneId).toBe('zone-a');
      });
    });

    describe('account isolation', () => {
      it("no list of one account ever shows another account's records", async () => {
        for (const [account, tag] of [
          [ACME, 'a'],
          [GLOBEX, 'g'],
        ] as const) {
          await dir.createAccount({ id: account, name: tag });
          await dir.createUser(user(`u-${tag}`, { accountId: account, email: `admin@${tag}.example` }));
          await dir.createMeeting(meeting(`m-${tag}`, { accountId: account }));
          await dir.createZone({ id: ZoneId(`zone-${tag}`), accountId: account, name: tag });
          await dir.createNode(node(`node-${tag}`, { accountId: account, zoneId: ZoneId(`zone-${tag}`) }));
          await dir.assignModule(module(`sfu-${tag}`, { accountId: account, nodeId: NodeId(`node-${tag}`) }));
        }
        const lists = [
          await dir.listUsers(ACME),
          await dir.listMeetings(ACME),
          await dir.listZones(ACME),
          await dir.listNodes(ZoneId('zone-a')),
          await dir.listModules(NodeId('node-a')),
          await dir.listZoneModules(ZoneId('zone-a')),
        ];
        for (const list of lists) {
          expect(list).toHaveLength(1);
          expect(list[0]?.accountId).toBe('acme');
        }
        expect((await dir.listUsers(GLOBEX)).map((u) => u.id)).toEqual(['u-g']);
        expect((await dir.listMeetings(GLOBEX)).map((m) => m.id)).toEqual(['m-g']);
        expect((await dir.listZones(GLOBEX)).map((z) => z.id)).toEqual(['zone-g']);
      });
    });

    describe('countAttempt()', () => {
      it('counts attempts per key within a fixed window and tells how long the window still runs', async () => {
        const first = await dir.countAttempt('signin:user:ada@acme.example', LONG_WINDOW_MS);
        expect(first).toEqual({ count: 1, resetInMs: LONG_WINDOW_MS });
        let previous = first.resetInMs;
        for (const expected of [2, 3, 4]) {
          const next = await dir.countAttempt('signin:user:ada@acme.example', LONG_WINDOW_MS);
          expect(next.count).toBe(expected);
          expect(next.resetInMs).toBeGreaterThan(0);
          expect(next.resetInMs).toBeLessThanOrEqual(previous);
          previous = next.resetInMs;
        }
        // The window is the first attempt's: a later, longer window does not extend it.
        const longer = await dir.countAttempt('signin:user:ada@acme.example', 10 * LONG_WINDOW_MS);
        expect(longer.count).toBe(5);
        expect(longer.resetInMs).toBeLessThanOrEqual(LONG_WINDOW_MS);
        expect(await dir.countAttempt('signin:addr:192.0.2.7', LONG_WINDOW_MS)).toEqual({ count: 1, resetInMs: LONG_WINDOW_MS });
      });

      it('starts again at 1 once the window has ended', async () => {
        expect((await dir.countAttempt('k', SHORT_WINDOW_MS)).count).toBe(1);
        // Every poll is an attempt: counts go up until the window ends, then the next one is 1 again.
        const fresh = await waitFor(
          async () => {
            const attempt = await dir.countAttempt('k', SHORT_WINDOW_MS);
            return attempt.count === 1 ? attempt : undefined;
          },
          { intervalMs: 20, description: 'a new attempt window' },
        );
        expect(fresh.resetInMs).toBe(SHORT_WINDOW_MS);
        // A key counted with a long window meanwhile is untouched.
        await dir.countAttempt('other', LONG_WINDOW_MS);
        expect((await dir.countAttempt('other', LONG_WINDOW_MS)).count).toBe(2);
      });

      it('concurrent attempts from several connections each get their own count', async () => {
        const peers = await openPeers(4);
        const counts = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (peers[i % peers.length] as Directory).countAttempt('shared', LONG_WINDOW_MS)),
        );
        expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      });

      it('refuses an empty key or a window that is not a positive integer (INVALID_ARGUMENT)', async () => {
        await expectCode(dir.countAttempt('', 1000), 'INVALID_ARGUMENT');
        await expectCode(dir.countAttempt('k', 0), 'INVALID_ARGUMENT');
        await expectCode(dir.countAttempt('k', 1.5), 'INVALID_ARGUMENT');
        expect((await dir.countAttempt('k', 1000)).count).toBe(1);
      });
    });

    describe('copies and lifecycle', () => {
      it('answers copies: changing a returned record changes nothing in the directory', async () => {
        await infrastructure();
        const created = (await dir.createUser(user('u-1'))) as { displayName: string };
        created.displayName = 'Mallory';
        const read = (await dir.getUser(UserId('u-1'))) as { displayName: string };
        read.displayName = 'Mallory';
        const listed = (await dir.listUsers(ACME))[0] as { role: string };
        listed.role = 'admin';
        expect(await dir.getUser(UserId('u-1'))).toMatchObject({ displayName: 'User u-1', role: 'member' });

        const meetingRecord = (await dir.createMeeting(meeting('m-1'))) as { version: number };
        meetingRecord.version = 99;
        expect((await dir.getMeeting(MeetingId('m-1')))?.version).toBe(1);
        const zone = (await dir.getZone(ZoneId('zone-a'))) as { name: string };
        zone.name = 'changed';
        expect((await dir.getZone(ZoneId('zone-a')))?.name).toBe('Paris');
      });

      it('ping() resolves while open; after close() (idempotent) every call rejects with UNAVAILABLE', async () => {
        await expect(dir.ping()).resolves.toBeUndefined();
        await dir.close();
        await dir.close();
        await expectCode(dir.ping(), 'UNAVAILABLE');
        await expectCode(dir.getAccount(ACME), 'UNAVAILABLE');
        await expectCode(dir.createAccount({ id: ACME, name: 'Acme' }), 'UNAVAILABLE');
        await expectCode(dir.listMeetings(ACME), 'UNAVAILABLE');
        await expectCode(dir.countAttempt('k', 1000), 'UNAVAILABLE');
      });
    });
  });
}
