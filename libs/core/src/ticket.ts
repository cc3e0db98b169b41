/**
 * Join tickets: what a ZCP hands a client so that a module lets it in. A
 * ticket names the meeting, the participant, the module it is valid on, the
 * quality it reserved capacity for, and when it expires; it is signed with
 * Ed25519, so modules verify tickets with the ZCPs' public key and cannot
 * mint them.
 *
 * Wire form: `base64url(JSON claims) "." base64url(signature)`; the signature
 * covers the first part's ASCII bytes. Short (≈ 300 bytes), URL-safe, and
 * checked in constant time by node's crypto.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { parseQuality, type Quality } from './capacity';
import { MeetedgeError } from './errors';
import { MeetingId, ModuleId, ParticipantId, ReservationId } from './ids';

export type MeetingMode = 'cloud-hybrid' | 'internal-only';
export const MEETING_MODES: readonly MeetingMode[] = ['cloud-hybrid', 'internal-only'];

export interface TicketClaims {
  /** Ticket id; also the id of the capacity reservation it holds. */
  readonly ticketId: ReservationId;
  readonly meetingId: MeetingId;
  readonly participantId: ParticipantId;
  /** The only module that accepts this ticket. */
  readonly moduleId: ModuleId;
  readonly quality: Quality;
  readonly mode: MeetingMode;
  /** Shown to other participants; 1–64 characters. */
  readonly displayName: string;
  /**
   * The meeting's host or an admin of its account (the ZCP checked the access
   * token): may mute everyone, remove someone and end the meeting where the
   * module holds the roster (internal-only meetings). Absent means false.
   */
  readonly isHost?: boolean;
  /** Issued at, ms since the epoch. */
  readonly issuedAt: number;
  /** Not accepted at or after this time, ms since the epoch. */
  readonly expiresAt: number;
}

/** Longest ticket accepted; anything longer is refused before parsing. */
export const MAX_TICKET_LENGTH = 2048;

const refuse = (message: string): MeetedgeError => new MeetedgeError('UNAUTHENTICATED', `join ticket ${message}`);

/** Signs claims with the ZCP's Ed25519 private key. */
export function signTicket(claims: TicketClaims, privateKey: KeyObject): string {
  const body = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
  const signature = sign(null, Buffer.from(body, 'ascii'), privateKey).toString('base64url');
  return `${body}.${signature}`;
}

export interface VerifyTicketOptions {
  /** The verifying module: a ticket for another module is refused. */
  readonly moduleId: ModuleId;
  /** Current time, ms since the epoch. */
  readonly nowMs: number;
  /**
   * Accept an expired ticket (the caller then checks it is held by a
   * participant already admitted with it, e.g. signaling that reconnects
   * beside a live media session). Default false.
   */
  readonly ignoreExpiry?: boolean;
}

/**
 * Returns the claims of a valid ticket; throws `MeetedgeError('UNAUTHENTICATED')`
 * saying why otherwise (malformed, bad signature, expired, other module).
 */
export function verifyTicket(ticket: unknown, publicKey: KeyObject, options: VerifyTicketOptions): TicketClaims {
  if (typeof ticket !== 'string' || ticket.length === 0) throw refuse('is missing');
  if (ticket.length > MAX_TICKET_LENGTH) throw refuse(`is longer than ${MAX_TICKET_LENGTH} characters`);
  const parts = ticket.split('.');
  const [body, signature] = parts;
  if (parts.length !== 2 || !body || !signature || !/^[A-Za-z0-9_-]+$/.test(body + signature)) {
    throw refuse('is malformed');
  }
  let valid = false;
  try {
    valid = verify(null, Buffer.from(body, 'ascii'), publicKey, Buffer.from(signature, 'base64url'));
  } catch {
    valid = false;
  }
  if (!valid) throw refuse('has an invalid signature');
  const claims = parseClaims(body);
  if (claims.moduleId !== options.moduleId) throw refuse(`is for module ${claims.moduleId}, not ${options.moduleId}`);
  if (options.nowMs >= claims.expiresAt && options.ignoreExpiry !== true) throw refuse('has expired');
  return claims;
}

function parseClaims(body: string): TicketClaims {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw refuse('is malformed');
  }
  if (typeof raw !== 'object' || raw === null) throw refuse('is malformed');
  const r = raw as Record<string, unknown>;
  try {
    const mode = r['mode'];
    if (mode !== 'cloud-hybrid' && mode !== 'internal-only') throw new Error('mode');
    const displayName = r['displayName'];
    if (typeof displayName !== 'string' || displayName.length < 1 || displayName.length > 64) throw new Error('name');
    const issuedAt = r['issuedAt'];
    const expiresAt = r['expiresAt'];
    if (!Number.isSafeInteger(issuedAt) || !Number.isSafeInteger(expiresAt)) throw new Error('time');
    const isHost = r['isHost'];
    if (isHost !== undefined && typeof isHost !== 'boolean') throw new Error('isHost');
    return {
      ticketId: ReservationId(r['ticketId']),
      meetingId: MeetingId(r['meetingId']),
      participantId: ParticipantId(r['participantId']),
      moduleId: ModuleId(r['moduleId']),
      quality: parseQuality(r['quality']),
      mode,
      displayName,
      issuedAt: issuedAt as number,
      expiresAt: expiresAt as number,
      ...(isHost === true ? { isHost } : {}),
    };
  } catch {
    // Signed but not ours: a key shared with something else, or a bug.
    throw refuse('has invalid claims');
  }
}

/** A fresh Ed25519 key pair (the all-in-one mode and tests make their own). */
export function generateTicketKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

/** Reads an Ed25519 public key from PEM (SPKI); throws INVALID_ARGUMENT otherwise. */
export function parseTicketPublicKey(pem: string): KeyObject {
  // createPublicKey() would happily derive the public half of a private key:
  // refuse it, so a private key never ends up in every verifier's config.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new MeetedgeError('INVALID_ARGUMENT', 'expected an Ed25519 public key in PEM (SPKI), got a private key: keep it with its owner and give the public half');
  }
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    return key;
  } catch {
    throw new MeetedgeError('INVALID_ARGUMENT', 'expected an Ed25519 public key in PEM (SPKI)');
  }
}

/** Reads an Ed25519 private key from PEM (PKCS#8); throws INVALID_ARGUMENT otherwise. */
export function parseTicketPrivateKey(pem: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    return key;
  } catch {
    throw new MeetedgeError('INVALID_ARGUMENT', 'expected an Ed25519 private key in PEM (PKCS#8)');
  }
}
