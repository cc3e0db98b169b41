import { ModuleId, NodeId, ZoneId, parseTicketPublicKey } from '@meetedge/core';
import { commonKeys, key, loadConfig, stateKeys, type ConfigOf } from '@meetedge/service-kit';

/** `host:port` entries of a comma-separated list; blanks between commas are ignored. */
export function parseZcpAddresses(raw: string): readonly string[] {
  const addresses = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const address of addresses) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) throw new Error(`"${address}" is not host:port`);
  }
  if (new Set(addresses).size !== addresses.length) throw new Error('an address is listed twice');
  return Object.freeze(addresses);
}

/** Every key the SFU/iMMR module accepts (see docs/configuration.md). */
export const sfuConfigSpec = {
  ...commonKeys,
  ...stateKeys,
  httpPort: key.port('MEETEDGE_HTTP_PORT', { doc: 'HTTP port: /healthz, /metrics, module API', default: 8100 }),
  moduleId: key.id('MEETEDGE_MODULE_ID', ModuleId, { doc: 'this module\'s id, unique in the deployment' }),
  zoneId: key.id('MEETEDGE_ZONE_ID', ZoneId, { doc: 'the zone (location) the module serves' }),
  nodeId: key.id('MEETEDGE_NODE_ID', NodeId, { doc: 'the node (server) the module runs on; at most 4 modules per node' }),
  role: key.oneOf('MEETEDGE_ROLE', ['edge', 'cloud'] as const, {
    doc: 'edge: inside a company network; cloud: the cloud MMR',
    default: 'edge',
  }),
  mediaPort: key.port('MEETEDGE_MEDIA_PORT', {
    doc: 'UDP port, and TCP port of the same number for ICE-TCP, shared by all media of the module',
    default: 8801,
  }),
  cascadePort: key.port('MEETEDGE_CASCADE_PORT', {
    doc: 'gRPC port of the Cascade service (links between media servers of a meeting); binds MEETEDGE_HTTP_HOST',
    default: 9701,
  }),
  mediaListenIp: key.ip('MEETEDGE_MEDIA_LISTEN_IP', {
    doc: 'address the media port binds to (its family, IPv4 or IPv6, must be that of MEETEDGE_ANNOUNCED_IP)',
    default: '0.0.0.0',
  }),
  iceTcp: key.parsed(
    'MEETEDGE_ICE_TCP',
    {
      doc: 'true: also accept ICE-TCP (RFC 6544) on the media port number, for clients whose network blocks UDP; false: UDP only',
      default: true,
    },
    (raw) => {
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw new Error('expected true or false');
    },
  ),
  mediaFastPath: key.oneOf('MEETEDGE_MEDIA_FAST_PATH', ['auto', 'on', 'off'] as const, {
    doc: 'the native fast path for forwarded media (SRTP with reused cipher contexts, sendmmsg; docs/fastpath.md). auto: when it was built; on: refuse to start without it; off: JavaScript only',
    default: 'auto',
  }),
  announcedIp: key.ip('MEETEDGE_ANNOUNCED_IP', {
    doc: 'the address clients reach the media port on; the only address in the module\'s ICE candidates',
    default: '127.0.0.1',
  }),
  ticketPublicKey: key.parsed(
    'MEETEDGE_TICKET_PUBLIC_KEY',
    { doc: 'Ed25519 public key (PEM, SPKI; "\\n" may stand for newlines) that verifies join tickets from the ZCPs' },
    (raw) => parseTicketPublicKey(raw.replace(/\\n/g, '\n')),
  ),
  joinTimeoutMs: key.int('MEETEDGE_JOIN_TIMEOUT_MS', {
    doc: 'a media session that has not joined with a valid ticket by then is closed, ms',
    default: 10_000,
    min: 100,
    max: 600_000,
  }),
  keepaliveMs: key.int('MEETEDGE_KEEPALIVE_MS', {
    doc: 'ping interval of media-session WebSockets; a session that misses a pong is closed and its units freed, ms',
    default: 15_000,
    min: 100,
    max: 600_000,
  }),
  audioSlots: key.int('MEETEDGE_AUDIO_SLOTS', {
    doc: 'audio streams each participant receives: the N loudest speakers',
    default: 3,
    min: 1,
    max: 16,
  }),
  maxPublishKbps: key.int('MEETEDGE_MAX_PUBLISH_KBPS', {
    doc: 'the most a participant may send on one video track (camera with all its simulcast layers, or screen share), kbit/s',
    default: 2500,
    min: 100,
    max: 50_000,
  }),
  zcpAddresses: key.parsed(
    'MEETEDGE_ZCP_ADDRESSES',
    {
      doc: 'comma-separated host:port gRPC addresses of every ZCP of the zone; the module registers with each. Empty: the module registers nowhere (standalone)',
      default: [] as readonly string[],
    },
    parseZcpAddresses,
  ),
  capacityUnits: key.int('MEETEDGE_CAPACITY_UNITS', {
    doc: 'capacity in units: an SD participant costs 1, an HD participant 2',
    default: 400,
    min: 1,
    max: 100_000,
  }),
};

export type SfuConfig = ConfigOf<typeof sfuConfigSpec>;

export function loadSfuConfig(env: Readonly<Record<string, string | undefined>>): SfuConfig {
  return loadConfig(sfuConfigSpec, env);
}
