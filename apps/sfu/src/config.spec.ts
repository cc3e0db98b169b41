import { generateTicketKeys } from '@meetedge/core';
import { loadSfuConfig } from './config';

const required = { MEETEDGE_MODULE_ID: 'sfu-1', MEETEDGE_ZONE_ID: 'hq', MEETEDGE_NODE_ID: 'n1' };
const pem = generateTicketKeys().publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('sfu config', () => {
  it('reads the ticket key from PEM, with "\\n" standing for newlines in one-line values', () => {
    const oneLine = pem.trim().split('\n').join('\\n');
    const config = loadSfuConfig({ ...required, MEETEDGE_TICKET_PUBLIC_KEY: oneLine });
    expect(config.ticketPublicKey.asymmetricKeyType).toBe('ed25519');
    expect(loadSfuConfig({ ...required, MEETEDGE_TICKET_PUBLIC_KEY: pem }).ticketPublicKey.asymmetricKeyType).toBe('ed25519');
  });

  it('refuses a ticket key that is not an Ed25519 public key, naming the key', () => {
    expect(() => loadSfuConfig({ ...required, MEETEDGE_TICKET_PUBLIC_KEY: 'not a key' })).toThrow(
      'config MEETEDGE_TICKET_PUBLIC_KEY: expected an Ed25519 public key in PEM (SPKI), got "not a key"',
    );
  });

  it('accepts ICE-TCP by default; MEETEDGE_ICE_TCP=false turns it off', () => {
    expect(loadSfuConfig({ ...required, MEETEDGE_TICKET_PUBLIC_KEY: pem }).iceTcp).toBe(true);
    expect(loadSfuConfig({ ...required, MEETEDGE_TICKET_PUBLIC_KEY: pem, MEETEDGE_ICE_TCP: 'true' }).iceTcp).toBe(true);
    expect(loadSfuConfig({ ...required, MEETEDGE_TICKET_PUBLIC_KEY: pem, MEETEDGE_ICE_TCP: 'false' }).iceTcp).toBe(false);
  });

  it('takes the native fast path when built by default; on and off as set', () => {
    expect(loadSfuConfig({ ...required, MEETEDGE_TICKET_PUBLIC_KEY: pem }).mediaFastPath).toBe('auto');
    expect(loadSfuConfig({ ...required, MEETEDGE_TICKET_PUBLIC_KEY: pem, MEETEDGE_MEDIA_FAST_PATH: 'off' }).mediaFastPath).toBe('off');
    expect(loadSfuConfig({ ...required, MEETEDGE_TICKET_PUBLIC_KEY: pem, MEETEDGE_MEDIA_FAST_PATH: 'on' }).mediaFastPath).toBe('on');
  });

  it.each([
    ['MEETEDGE_ANNOUNCED_IP', 'media.corp', 'expected an IPv4 or IPv6 address'],
    ['MEETEDGE_MEDIA_LISTEN_IP', '0.0.0', 'expected an IPv4 or IPv6 address'],
    ['MEETEDGE_KEEPALIVE_MS', '50', 'expected an integer 100-600000'],
    ['MEETEDGE_AUDIO_SLOTS', '0', 'expected an integer 1-16'],
    ['MEETEDGE_MAX_PUBLISH_KBPS', 'lots', 'expected an integer 100-50000'],
    ['MEETEDGE_JOIN_TIMEOUT_MS', '-5', 'expected an integer 100-600000'],
    ['MEETEDGE_ICE_TCP', 'yes', 'expected true or false'],
    ['MEETEDGE_ICE_TCP', 'TRUE', 'expected true or false'],
    ['MEETEDGE_MEDIA_FAST_PATH', 'native', 'expected one of auto, on, off'],
  ])('refuses %s=%s', (key, value, expected) => {
    expect(() => loadSfuConfig({ ...required, MEETEDGE_TICKET_PUBLIC_KEY: pem, [key]: value })).toThrow(
      `config ${key}: ${expected}, got "${value}"`,
    );
  });
});
