/**
 * Access tokens of the control plane (issue [3]): JSON Web Tokens (RFC 7519)
 * signed with Ed25519 (`alg: EdDSA`, RFC 8037), so a ZCP or a module verifies
 * one with the control plane's public key and never calls back.
 *
 * Verification is strict and small on purpose: the header must be exactly
 * `{"alg":"EdDSA","typ":"JWT"}` (no algorithm choice, so no "none" and no
 * HMAC-with-the-public-key confusion), the signature must verify, `iss` and
 * `aud` must be ours, `exp` must be in the future and every claim must have
 * its type. Refusals are UNAUTHENTICATED with a message that says which check
 * failed.
 *
 * Two kinds: `member` (a signed-in user of an account, with a role) and
 * `guest` (someone who gave a cloud-hybrid meeting's passcode and a name: good
 * for that one meeting only).
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { MeetedgeError } from './errors';
import { AccountId, MeetingId, UserId, type Id } from './ids';

export const ACCESS_TOKEN_ISSUER = 'meetedge-control-plane';
export const ACCESS_TOKEN_AUDIENCE = 'meetedge';
/** Longest token accepted; anything longer is refused before parsing. */
export const MAX_ACCESS_TOKEN_LENGTH = 4096;

const HEADER = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' }), 'utf8').toString('base64url');

export type AccessRole = 'admin' | 'member';

export interface MemberClaims {
  readonly kind: 'member';
  readonly userId: UserId;
  readonly accountId: AccountId;
  readonly role: AccessRole;
  readonly displayName: string;
}

export interface GuestClaims {
  readonly kind: 'guest';
  /** A random id for this guest. */
  readonly guestId: Id<'GuestId'>;
  /** The one meeting the guest may join. */
  readonly meetingId: MeetingId;
  readonly accountId: AccountId;
  readonly displayName: string;
}

export type AccessClaims = (MemberClaims | GuestClaims) & {
  /** Token id (for logs), issued-at and expiry in seconds since the epoch (JWT `jti`, `iat`, `exp`). */
  readonly tokenId: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
};

const refuse = (message: string): MeetedgeError => new MeetedgeError('UNAUTHENTICATED', `access token ${message}`);

/** Signs `claims` as a JWT with the control plane's Ed25519 private key. */
export function signAccessToken(claims: AccessClaims, privateKey: KeyObject): string {
  const payload: Record<string, unknown> = {
    iss: ACCESS_TOKEN_ISSUER,
    aud: ACCESS_TOKEN_AUDIENCE,
    jti: claims.tokenId,
    iat: claims.issuedAt,
    exp: claims.expiresAt,
    kind: claims.kind,
    acct: claims.accountId,
    name: claims.displayName,
  };
  if (claims.kind === 'member') {
    payload['sub'] = claims.userId;
    payload['role'] = claims.role;
  } else {
    payload['sub'] = claims.guestId;
    payload['mtg'] = claims.meetingId;
  }
  const body = `${HEADER}.${Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')}`;
  return `${body}.${sign(null, Buffer.from(body, 'ascii'), privateKey).toString('base64url')}`;
}

/**
 * Verifies a token (as taken from an `Authorization: Bearer` header) and
 * returns its claims; UNAUTHENTICATED otherwise.
 * @param nowMs current time, ms since the epoch
 */
export function verifyAccessToken(token: unknown, publicKey: KeyObject, nowMs: number): AccessClaims {
  if (typeof token !== 'string' || token.length === 0) throw refuse('is missing');
  if (token.length > MAX_ACCESS_TOKEN_LENGTH) throw refuse(`is longer than ${MAX_ACCESS_TOKEN_LENGTH} characters`);
  const parts = token.split('.');
  const [header, payload, signature] = parts;
  if (parts.length !== 3 || !header || !payload || !signature || !/^[A-Za-z0-9_-]+$/.test(header + payload + signature)) {
    throw refuse('is malformed (expected a JWT)');
  }
  if (header !== HEADER) throw refuse('has an unsupported header (expected alg EdDSA)');
  let valid = false;
  try {
    valid = verify(null, Buffer.from(`${header}.${payload}`, 'ascii'), publicKey, Buffer.from(signature, 'base64url'));
  } catch {
    valid = false;
  }
  if (!valid) throw refuse('has an invalid signature');
  const claims = parseClaims(payload);
  if (nowMs >= claims.expiresAt * 1000) throw refuse('has expired; sign in again');
  return claims;
}

function parseClaims(payload: string): AccessClaims {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw refuse('is malformed (payload is not JSON)');
  }
  if (typeof raw !== 'object' || raw === null) throw refuse('is malformed (payload is not an object)');
  const r = raw as Record<string, unknown>;
  if (r['iss'] !== ACCESS_TOKEN_ISSUER || r['aud'] !== ACCESS_TOKEN_AUDIENCE) throw refuse('was not issued for meetedge');
  try {
    const tokenId = r['jti'];
    const issuedAt = r['iat'];
    const expiresAt = r['exp'];
    const displayName = r['name'];
    if (typeof tokenId !== 'string' || tokenId.length === 0 || tokenId.length > 64) throw new Error('jti');
    if (!Number.isSafeInteger(issuedAt) || !Number.isSafeInteger(expiresAt)) throw new Error('time');
    if (typeof displayName !== 'string' || displayName.length < 1 || displayName.length > 64) throw new Error('name');
    const common = { tokenId, issuedAt: issuedAt as number, expiresAt: expiresAt as number, displayName, accountId: AccountId(r['acct']) };
    if (r['kind'] === 'member') {
      const role = r['role'];
      if (role !== 'admin' && role !== 'member') throw new Error('role');
      return { ...common, kind: 'member', userId: UserId(r['sub']), role };
    }
    if (r['kind'] === 'guest') {
      const guestId = r['sub'];
      if (typeof guestId !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(guestId)) throw new Error('sub');
      return { ...common, kind: 'guest', guestId: guestId as Id<'GuestId'>, meetingId: MeetingId(r['mtg']) };
    }
    throw new Error('kind');
  } catch {
    // Signed by our key but not claims we issue: a bug, or a key shared with something else.
    throw refuse('has invalid claims');
  }
}

const BEARER = /^Bearer ([A-Za-z0-9._-]+)$/;

/**
 * The verified claims of an HTTP `Authorization: Bearer <token>` header (every
 * door that takes access tokens reads them this way); UNAUTHENTICATED when
 * the header is missing, not Bearer, or the token does not verify.
 */
export function bearerClaims(authorization: string | undefined, publicKey: KeyObject, nowMs: number): AccessClaims {
  if (authorization === undefined) throw refuse('is missing: sign in first and send Authorization: Bearer <access token>');
  const token = BEARER.exec(authorization)?.[1];
  if (token === undefined) throw new MeetedgeError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <access token>"');
  return verifyAccessToken(token, publicKey, nowMs);
}
