import { generateKeyPairSync, sign } from 'node:crypto';
import { MeetedgeError } from './errors';
import { MeetingId, ModuleId, ParticipantId, ReservationId } from './ids';
import {
  MAX_TICKET_LENGTH,
  generateTicketKeys,
  parseTicketPrivateKey,
  parseTicketPublicKey,
  signTicket,
  verifyTicket,
  type TicketClaims,
} from './ticket';

const keys = generateTicketKeys();
const now = 1_800_000_000_000;
const claims: TicketClaims = {
  ticketId: ReservationId('t-1'),
  meetingId: MeetingId('m-1'),
  participantId: ParticipantId('p-1'),
  moduleId: ModuleId('sfu-1'),
  quality: 'HD',
  mode: 'internal-only',
  displayName: 'Ada Lovelace',
  issuedAt: now,
  expiresAt: now + 60_000,
};
const at = { moduleId: ModuleId('sfu-1'), nowMs: now + 1_000 };

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MeetedgeError);
    expect((err as MeetedgeError).code).toBe('UNAUTHENTICATED');
    return (err as MeetedgeError).message;
  }
  throw new Error('expected a refusal');
}

describe('join tickets', () => {
  it('a signed ticket verifies and gives back its claims', () => {
    const ticket = signTicket(claims, keys.privateKey);
    expect(ticket).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(verifyTicket(ticket, keys.publicKey, at)).toEqual(claims);
  });

  it('is refused once expired', () => {
    const ticket = signTicket(claims, keys.privateKey);
    expect(refusal(() => verifyTicket(ticket, keys.publicKey, { ...at, nowMs: claims.expiresAt }))).toBe('join ticket has expired');
    // A caller that checks the holder itself may take it still; the signature and module checks stay.
    expect(verifyTicket(ticket, keys.publicKey, { ...at, nowMs: claims.expiresAt, ignoreExpiry: true })).toEqual(claims);
    expect(refusal(() => verifyTicket(ticket, keys.publicKey, { moduleId: ModuleId('sfu-2'), nowMs: claims.expiresAt, ignoreExpiry: true }))).toMatch(/not sfu-2/);
  });

  it('is refused by another module', () => {
    const ticket = signTicket(claims, keys.privateKey);
    expect(refusal(() => verifyTicket(ticket, keys.publicKey, { ...at, moduleId: ModuleId('sfu-2') }))).toBe(
      'join ticket is for module sfu-1, not sfu-2',
    );
  });

  it('is refused when signed by another key', () => {
    const ticket = signTicket(claims, generateTicketKeys().privateKey);
    expect(refusal(() => verifyTicket(ticket, keys.publicKey, at))).toBe('join ticket has an invalid signature');
  });

  it('is refused when its claims were changed (e.g. SD upgraded to HD)', () => {
    const ticket = signTicket({ ...claims, quality: 'SD' }, keys.privateKey);
    const [, signature] = ticket.split('.');
    const forged = `${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    expect(refusal(() => verifyTicket(forged, keys.publicKey, at))).toBe('join ticket has an invalid signature');
  });

  it.each([
    ['missing', undefined, 'join ticket is missing'],
    ['empty', '', 'join ticket is missing'],
    ['a number', 42, 'join ticket is missing'],
    ['without a dot', 'abc', 'join ticket is malformed'],
    ['with three parts', 'a.b.c', 'join ticket is malformed'],
    ['with non-base64url characters', 'a+b.c/d', 'join ticket is malformed'],
    ['too long', 'a'.repeat(MAX_TICKET_LENGTH) + '.b', `join ticket is longer than ${MAX_TICKET_LENGTH} characters`],
  ])('is refused when %s', (_what, ticket, message) => {
    expect(refusal(() => verifyTicket(ticket, keys.publicKey, at))).toBe(message);
  });

  it('refuses validly signed claims that are not a ticket', () => {
    const body = Buffer.from(JSON.stringify({ ...claims, quality: '4K' })).toString('base64url');
    const signature = sign(null, Buffer.from(body, 'ascii'), keys.privateKey).toString('base64url');
    expect(refusal(() => verifyTicket(`${body}.${signature}`, keys.publicKey, at))).toBe('join ticket has invalid claims');
  });

  it("carries the host mark, and refuses one that is not a boolean", () => {
    const host = { ...claims, isHost: true };
    expect(verifyTicket(signTicket(host, keys.privateKey), keys.publicKey, at)).toEqual(host);
    const body = Buffer.from(JSON.stringify({ ...claims, isHost: 'yes' })).toString('base64url');
    const signature = sign(null, Buffer.from(body, 'ascii'), keys.privateKey).toString('base64url');
    expect(refusal(() => verifyTicket(`${body}.${signature}`, keys.publicKey, at))).toBe('join ticket has invalid claims');
  });

  it('reads keys from PEM and refuses keys of another kind', () => {
    const pub = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const priv = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ticket = signTicket(claims, parseTicketPrivateKey(priv));
    expect(verifyTicket(ticket, parseTicketPublicKey(pub), at).participantId).toBe('p-1');

    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => parseTicketPublicKey(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString())).toThrow(
      /expected an Ed25519 public key/,
    );
    expect(() => parseTicketPrivateKey('not a key')).toThrow(/expected an Ed25519 private key/);
  });

  it('refuses a private key where a public key is expected (it must not spread to every verifier)', () => {
    const priv = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => parseTicketPublicKey(priv)).toThrow(/got a private key/);
  });
});
