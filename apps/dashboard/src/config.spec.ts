import { generateTicketKeys } from '@meetedge/core';
import { loadDashboardConfig } from './config';

const key = generateTicketKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('dashboard config', () => {
  it('loads the defaults with only the token key given, and reads "\\n" in a one-line key', () => {
    const config = loadDashboardConfig({ MEETEDGE_TOKEN_PRIVATE_KEY: key.replace(/\n/g, '\\n') });
    expect(config).toMatchObject({
      httpPort: 8080,
      grpcPort: 8081,
      tokenTtlSeconds: 900,
      signup: 'closed',
      publicUrl: 'http://127.0.0.1:8080',
      cloudMmrUrl: 'ws://127.0.0.1:8110/v1/media',
      cloudMmrId: 'cloud-mmr-1',
      cloudMmrCascadeAddress: '127.0.0.1:9701',
      signInPerUser: 10,
      signInPerAddress: 30,
    });
    expect(config.tokenPrivateKey.asymmetricKeyType).toBe('ed25519');
  });

  it.each([
    ['MEETEDGE_TOKEN_PRIVATE_KEY', generateTicketKeys().publicKey.export({ type: 'spki', format: 'pem' }).toString(), /Ed25519 private key/],
    ['MEETEDGE_TOKEN_TTL_SECONDS', '30', /integer 60-86400/],
    ['MEETEDGE_SIGNUP', 'maybe', /one of open, closed/],
    ['MEETEDGE_PUBLIC_URL', 'ftp://meet.example', /http: or https: URL/],
    ['MEETEDGE_CLOUD_MMR_URL', 'http://cloud-mmr:8110', /ws: or wss: URL/],
    ['MEETEDGE_CLOUD_MMR_CASCADE_ADDRESS', 'cloud-mmr', /host:port/],
    ['MEETEDGE_GRPC_PORT', '70000', /port number/],
    ['MEETEDGE_SIGNIN_PER_USER', '0', /integer 1-10000/],
    ['MEETEDGE_SIGNIN_PER_ADDRESS', 'many', /integer 1-100000/],
  ])('refuses a bad %s with one line naming it', (name, value, expected) => {
    let error: unknown;
    try {
      loadDashboardConfig({ MEETEDGE_TOKEN_PRIVATE_KEY: key, [name]: value });
    } catch (err) {
      error = err;
    }
    expect(String((error as Error | undefined)?.message)).toMatch(new RegExp(`^config ${name}: .*${expected.source}`));
  });

  it('never echoes a refused private key', () => {
    expect(() => loadDashboardConfig({ MEETEDGE_TOKEN_PRIVATE_KEY: 'secret-not-a-key' })).toThrow(/MEETEDGE_TOKEN_PRIVATE_KEY/);
    expect(() => loadDashboardConfig({ MEETEDGE_TOKEN_PRIVATE_KEY: 'secret-not-a-key' })).not.toThrow(/secret-not-a-key/);
  });
});
