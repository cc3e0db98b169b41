/**
 * Keys and environment for ZCP tests: a fresh control-plane token key pair and
 * ticket key pair per process, and the env a ZCP needs to load its config.
 */
import { generateTicketKeys, signAccessToken, type AccessClaims } from '@meetedge/core';

export const testKeys = {
  token: generateTicketKeys(),
  ticket: generateTicketKeys(),
};

/** The join-API keys a ZCP config requires, for `loadZcpConfig({ ...zcpKeyEnv(), ... })`. */
export function zcpKeyEnv(): Record<string, string> {
  return {
    MEETEDGE_TOKEN_PUBLIC_KEY: testKeys.token.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    MEETEDGE_TICKET_PRIVATE_KEY: testKeys.ticket.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** An access token as the control plane would sign it (valid 15 minutes from `nowMs`). */
export function accessToken(claims: Omit<AccessClaims, 'tokenId' | 'issuedAt' | 'expiresAt'>, nowMs = Date.now(), ttlSeconds = 900): string {
  const issuedAt = Math.floor(nowMs / 1000);
  return signAccessToken({ ...claims, tokenId: `t-${issuedAt}`, issuedAt, expiresAt: issuedAt + ttlSeconds } as AccessClaims, testKeys.token.privateKey);
}
