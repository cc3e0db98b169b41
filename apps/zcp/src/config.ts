import { ZcpId, ZoneId, parseTicketPrivateKey, parseTicketPublicKey } from '@meetedge/core';
import { commonKeys, key, loadConfig, stateKeys, type ConfigOf } from '@meetedge/service-kit';

/** Every key the zone controller proxy accepts (see docs/configuration.md). */
export const zcpConfigSpec = {
  ...commonKeys,
  ...stateKeys,
  httpPort: key.port('MEETEDGE_HTTP_PORT', { doc: 'HTTP port: join API, /healthz, /metrics', default: 8090 }),
  grpcPort: key.port('MEETEDGE_GRPC_PORT', {
    doc: 'gRPC port of the ZoneControllerProxy service the modules of the zone register on (binds on MEETEDGE_HTTP_HOST)',
    default: 8091,
  }),
  zcpId: key.id('MEETEDGE_ZCP_ID', ZcpId, { doc: 'this ZCP\'s id, unique in its zone' }),
  zoneId: key.id('MEETEDGE_ZONE_ID', ZoneId, { doc: 'the zone (location) whose modules this ZCP serves' }),
  // ── Join API (join/, docs/zcp.md) ──
  tokenPublicKey: key.parsed(
    'MEETEDGE_TOKEN_PUBLIC_KEY',
    { doc: 'the control plane\'s Ed25519 public key (PEM, SPKI; "\\n" may stand for newlines) that verifies access tokens' },
    (raw) => parseTicketPublicKey(raw.replace(/\\n/g, '\n')),
  ),
  ticketPrivateKey: key.parsed(
    'MEETEDGE_TICKET_PRIVATE_KEY',
    { doc: 'Ed25519 private key (PEM, PKCS#8; "\\n" may stand for newlines) that signs join tickets; modules verify with its public half', secret: true },
    (raw) => parseTicketPrivateKey(raw.replace(/\\n/g, '\n')),
  ),
  ticketTtlMs: key.int('MEETEDGE_TICKET_TTL_MS', {
    doc: 'lifetime of a join ticket, and of the capacity it holds unless the participant arrives, ms',
    default: 60_000,
    min: 1_000,
    max: 600_000,
  }),
  zoneControllerAddress: key.string('MEETEDGE_ZONE_CONTROLLER_ADDRESS', {
    doc: 'the cloud zone controller\'s gRPC endpoint (host:port): meeting-server info for joins, and the zone\'s cascade needs',
    default: '127.0.0.1:8081',
    pattern: /^[^\s:/]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/,
    what: 'host:port',
  }),
  cloudMmrUrl: key.url('MEETEDGE_CLOUD_MMR_URL', ['ws:', 'wss:'], {
    doc: 'the cloud MMR\'s media-session URL, given to cloud-hybrid participants when the zone is full',
    default: 'ws://127.0.0.1:8110/v1/media',
  }),
};

export type ZcpConfig = ConfigOf<typeof zcpConfigSpec>;

export function loadZcpConfig(env: Readonly<Record<string, string | undefined>>): ZcpConfig {
  return loadConfig(zcpConfigSpec, env);
}
