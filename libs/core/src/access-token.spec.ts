import { sign } from 'node:crypto';
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, signAccessToken, verifyAccessToken, type AccessClaims } from './access-token';
import { AccountId, MeetingId, UserId, type Id } from './ids';
import { generateTicketKeys } from './ticket';

const keys = generateTicketKeys();
const other = generateTicketKeys();
const now = Date.UTC(2026, 10, 22, 12, 0, 0);
const nowS = now / 1000;

const member: AccessClaims = {
  kind: 'member',
  tokenId: 't1',
  userId: UserId('u-1'),
  accountId: AccountId('acme'),
  role: 'admin',
  displayName: 'Ada Lovelace',
  issuedAt: nowS,
  expiresAt: nowS + 900,
};

/** A token with the given header and payload, signed with `key`. */
function forge(header: object, payload: object, key = keys.privateKey): string {
  const body = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${body}.${sign(null, Buffer.from(body), key).toString('base64url')}`;
}

describe('access tokens (JWT, EdDSA)', () => {
  it('round-trips member and guest claims', () => {
    expect(verifyAccessToken(signAccessToken(member, keys.privateKey), keys.publicKey, now)).toEqual(member);
    const guest: AccessClaims = {
      kind: 'guest',
      tokenId: 't2',
      guestId: 'g-42' as Id<'GuestId'>,
      meetingId: MeetingId('m-1'),
      accountId: AccountId('acme'),
      displayName: 'Visitor',
      issuedAt: nowS,
      expiresAt: nowS + 60,
    };
    expect(verifyAccessToken(signAccessToken(guest, keys.privateKey), keys.publicKey, now)).toEqual(guest);
  });

  it('is a standard JWT: three base64url parts, EdDSA header, registered claims', () => {
    const [header, payload] = signAccessToken(member, keys.privateKey).split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'EdDSA', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toMatchObject({
      iss: ACCESS_TOKEN_ISSUER,
      aud: ACCESS_TOKEN_AUDIENCE,
      sub: 'u-1',
      iat: nowS,
      exp: nowS + 900,
    });
  });

  it.each([
    ['missing', undefined, /is missing/],
    ['empty', '', /is missing/],
    ['not a JWT', 'abc', /malformed/],
    ['too long', 'a'.repeat(5000), /longer than 4096/],
    ['non-base64url characters', 'a.b.c$', /malformed/],
  ])('refuses a token that is %s', (_what, token, message) => {
    expect(() => verifyAccessToken(token, keys.publicKey, now)).toThrow(message);
  });

  it('refuses an expired token, a token of another key, and a tampered payload', () => {
    const token = signAccessToken(member, keys.privateKey);
    expect(() => verifyAccessToken(token, keys.publicKey, (nowS + 900) * 1000)).toThrow(/has expired/);
    expect(() => verifyAccessToken(signAccessToken(member, other.privateKey), keys.publicKey, now)).toThrow(/invalid signature/);
    const [h, , s] = token.split('.');
    const admin = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()), role: 'admin', acct: 'other' })).toString('base64url');
    expect(() => verifyAccessToken(`${h}.${admin}.${s}`, keys.publicKey, now)).toThrow(/invalid signature/);
    let error: unknown;
    try {
      verifyAccessToken(token, keys.publicKey, (nowS + 901) * 1000);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses other algorithms, "none" included, whatever the signature', () => {
    const payload = { iss: ACCESS_TOKEN_ISSUER, aud: ACCESS_TOKEN_AUDIENCE, jti: 'x', iat: nowS, exp: nowS + 60, kind: 'member', sub: 'u-1', acct: 'acme', role: 'admin', name: 'A' };
    expect(() => verifyAccessToken(forge({ alg: 'none', typ: 'JWT' }, payload), keys.publicKey, now)).toThrow(/unsupported header/);
    expect(() => verifyAccessToken(forge({ alg: 'HS256', typ: 'JWT' }, payload), keys.publicKey, now)).toThrow(/unsupported header/);
    expect(() => verifyAccessToken(forge({ typ: 'JWT', alg: 'EdDSA' }, payload), keys.publicKey, now)).toThrow(/unsupported header/);
  });

  it('refuses tokens of another issuer or audience, and signed tokens with invalid claims', () => {
    const base = { iss: ACCESS_TOKEN_ISSUER, aud: ACCESS_TOKEN_AUDIENCE, jti: 'x', iat: nowS, exp: nowS + 60, kind: 'member', sub: 'u-1', acct: 'acme', role: 'admin', name: 'A' };
    const header = { alg: 'EdDSA', typ: 'JWT' };
    expect(() => verifyAccessToken(forge(header, { ...base, iss: 'someone' }), keys.publicKey, now)).toThrow(/not issued for meetedge/);
    expect(() => verifyAccessToken(forge(header, { ...base, aud: 'other' }), keys.publicKey, now)).toThrow(/not issued for meetedge/);
    for (const bad of [{ role: 'root' }, { kind: 'robot' }, { sub: 'bad id!' }, { exp: 'soon' }, { name: '' }, { acct: 42 }]) {
      expect(() => verifyAccessToken(forge(header, { ...base, ...bad }), keys.publicKey, now)).toThrow(/invalid claims/);
    }
    expect(verifyAccessToken(forge(header, base), keys.publicKey, now)).toMatchObject({ kind: 'member', role: 'admin' });
  });
});
