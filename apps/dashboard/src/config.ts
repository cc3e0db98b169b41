import { parseTicketPrivateKey } from '@meetedge/core';
import { commonKeys, key, loadConfig, stateKeys, type ConfigOf } from '@meetedge/service-kit';

/** Every key the control plane accepts (see docs/configuration.md). */
export const dashboardConfigSpec = {
  ...commonKeys,
  ...stateKeys,
  httpPort: key.port('MEETEDGE_HTTP_PORT', { doc: 'HTTP port: REST API, web UI, /healthz, /metrics', default: 8080 }),
  tokenPrivateKey: key.parsed(
    'MEETEDGE_TOKEN_PRIVATE_KEY',
    {
      doc: 'Ed25519 private key (PEM, PKCS#8; "\\n" may stand for newlines) that signs access tokens; ZCPs and modules verify them with its public half',
      secret: true,
    },
    (raw) => parseTicketPrivateKey(raw.replace(/\\n/g, '\n')),
  ),
  tokenTtlSeconds: key.int('MEETEDGE_TOKEN_TTL_SECONDS', { doc: 'lifetime of an access token, seconds', default: 900, min: 60, max: 86_400 }),
  signup: key.oneOf('MEETEDGE_SIGNUP', ['open', 'closed'] as const, {
    doc: 'open: anyone may create an account with POST /v1/accounts; closed: only the operator creates accounts',
    default: 'closed',
  }),
  signInPerUser: key.int('MEETEDGE_SIGNIN_PER_USER', { doc: 'sign-in attempts allowed per e-mail address per 15 minutes', default: 10, min: 1, max: 10_000 }),
  publicUrl: key.url('MEETEDGE_PUBLIC_URL', ['http:', 'https:'], {
    doc: "the control plane's URL as clients reach it; its meeting server's WebSocket is under it",
    default: 'http://127.0.0.1:8080',
  }),
  cloudMmrUrl: key.url('MEETEDGE_CLOUD_MMR_URL', ['ws:', 'wss:'], {
    doc: "the cloud MMR's media-session URL, given to cloud-hybrid participants as the last resort for media",
    default: 'ws://127.0.0.1:8110/v1/media',
  }),
  grpcPort: key.port('MEETEDGE_GRPC_PORT', { doc: 'gRPC port of the cloud zone controller (ZCPs call it)', default: 8081 }),
  cloudMmrId: key.string('MEETEDGE_CLOUD_MMR_ID', { doc: "module id of the cloud MMR, the top of every cloud-hybrid meeting", default: 'cloud-mmr-1' }),
  cloudMmrCascadeAddress: key.string('MEETEDGE_CLOUD_MMR_CASCADE_ADDRESS', {
    doc: "the cloud MMR's cascade gRPC endpoint (host:port), given to zones that must link a meeting to it",
    default: '127.0.0.1:9701',
    pattern: /^[A-Za-z0-9.:[\]-]+:\d{1,5}$/,
    what: 'host:port',
  }),
  helloTimeoutMs: key.int('MEETEDGE_HELLO_TIMEOUT_MS', {
    doc: 'a meeting-signaling WebSocket that has not sent hello with a valid access token by then is closed, ms',
    default: 10_000,
    min: 100,
    max: 600_000,
  }),
  keepaliveMs: key.int('MEETEDGE_KEEPALIVE_MS', {
    doc: 'ping interval of meeting-signaling WebSockets; a participant that misses a pong leaves the roster as disconnected, ms',
    default: 15_000,
    min: 100,
    max: 600_000,
  }),
  signInPerAddress: key.int('MEETEDGE_SIGNIN_PER_ADDRESS', { doc: 'sign-in attempts allowed per client address per minute', default: 30, min: 1, max: 100_000 }),
};

export type DashboardConfig = ConfigOf<typeof dashboardConfigSpec>;

export function loadDashboardConfig(env: Readonly<Record<string, string | undefined>>): DashboardConfig {
  return loadConfig(dashboardConfigSpec, env);
}
