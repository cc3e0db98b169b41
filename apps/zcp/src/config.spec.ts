import { generateTicketKeys } from '@meetedge/core';
import { loadZcpConfig } from './config';
import { zcpKeyEnv } from './join/test-support';

const base = { ...zcpKeyEnv(), MEETEDGE_ZCP_ID: 'zcp-1', MEETEDGE_ZONE_ID: 'hq' };

describe('zcp config', () => {
  it('loads the defaults of the join API and registration', () => {
    expect(loadZcpConfig(base)).toMatchObject({
      httpPort: 8090,
      grpcPort: 8091,
      ticketTtlMs: 60_000,
      zoneControllerAddress: '127.0.0.1:8081',
      cloudMmrUrl: 'ws://127.0.0.1:8110/v1/media',
    });
  });

  it.each([
    ['MEETEDGE_TOKEN_PUBLIC_KEY', generateTicketKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['MEETEDGE_TICKET_PRIVATE_KEY', 'not a key'],
    ['MEETEDGE_TICKET_TTL_MS', '5'],
    ['MEETEDGE_ZONE_CONTROLLER_ADDRESS', 'dashboard'],
    ['MEETEDGE_CLOUD_MMR_URL', 'https://cloud-mmr'],
    ['MEETEDGE_GRPC_PORT', '-1'],
  ])('refuses a bad %s with one line naming it', (name, value) => {
    expect(() => loadZcpConfig({ ...base, [name]: value })).toThrow(new RegExp(`^config ${name}: `));
  });

  it('requires the keys the join API signs and verifies with', () => {
    expect(() => loadZcpConfig({ MEETEDGE_ZCP_ID: 'zcp-1', MEETEDGE_ZONE_ID: 'hq' })).toThrow(/MEETEDGE_TOKEN_PUBLIC_KEY|MEETEDGE_TICKET_PRIVATE_KEY/);
    expect(() => loadZcpConfig({ ...base, MEETEDGE_TICKET_PRIVATE_KEY: 'secret-not-a-key' })).not.toThrow(/secret-not-a-key/);
  });
});
