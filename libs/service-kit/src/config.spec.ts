import { ModuleId } from '@meetedge/core';
import { ConfigError, describeConfig, key, loadConfig } from './config';

const spec = {
  port: key.port('MEETEDGE_HTTP_PORT', { doc: 'HTTP port', default: 8080 }),
  role: key.oneOf('MEETEDGE_ROLE', ['edge', 'cloud'] as const, { doc: 'role', default: 'edge' }),
  moduleId: key.id('MEETEDGE_MODULE_ID', ModuleId, { doc: 'module id' }),
  units: key.int('MEETEDGE_CAPACITY_UNITS', { doc: 'units', default: 400, min: 1, max: 1000 }),
  redis: key.url('MEETEDGE_REDIS_URL', ['redis:'], { doc: 'redis', default: 'redis://127.0.0.1:6379' }),
};

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(spec, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('starts from defaults and applies the environment', () => {
    const config = loadConfig(spec, { MEETEDGE_MODULE_ID: 'sfu-1', MEETEDGE_HTTP_PORT: '9000', PATH: '/usr/bin' });
    expect(config).toEqual({
      port: 9000,
      role: 'edge',
      moduleId: 'sfu-1',
      units: 400,
      redis: 'redis://127.0.0.1:6379',
    });
  });

  it('returns a frozen object', () => {
    const config = loadConfig(spec, { MEETEDGE_MODULE_ID: 'sfu-1' });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig(spec, { MEETEDGE_MODULE_ID: 'sfu-1', MEETEDGE_HTTP_PORT: '' }).port).toBe(8080);
  });

  it.each([
    [{ MEETEDGE_HTTP_PORT: 'abc' }, 'config MEETEDGE_HTTP_PORT: expected a port number 0-65535, got "abc"'],
    [{ MEETEDGE_HTTP_PORT: '70000' }, 'config MEETEDGE_HTTP_PORT: expected a port number 0-65535, got "70000"'],
    [{ MEETEDGE_HTTP_PORT: '80.5' }, 'config MEETEDGE_HTTP_PORT: expected a port number 0-65535, got "80.5"'],
    [{ MEETEDGE_ROLE: 'CLOUD' }, 'config MEETEDGE_ROLE: expected one of edge, cloud, got "CLOUD"'],
    [{ MEETEDGE_CAPACITY_UNITS: '0' }, 'config MEETEDGE_CAPACITY_UNITS: expected an integer 1-1000, got "0"'],
    [{ MEETEDGE_REDIS_URL: 'http://x' }, 'config MEETEDGE_REDIS_URL: expected a redis: URL, got "http://x"'],
    [{ MEETEDGE_REDIS_URL: 'nope' }, 'config MEETEDGE_REDIS_URL: expected a URL (redis://), got "nope"'],
    [{ MEETEDGE_MODULE_ID: 'a:b' }, 'config MEETEDGE_MODULE_ID: expected 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit, got "a:b"'],
  ])('refuses %j with one line naming the key', (env, message) => {
    const err = configError({ MEETEDGE_MODULE_ID: 'sfu-1', ...env });
    expect(err.message).toBe(message);
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).not.toContain('\n');
  });

  it('reads IP addresses and refuses anything else, naming the key', () => {
    const ipSpec = { ip: key.ip('MEETEDGE_ANNOUNCED_IP', { doc: 'ip', default: '127.0.0.1' }) };
    expect(loadConfig(ipSpec, { MEETEDGE_ANNOUNCED_IP: '::1' }).ip).toBe('::1');
    expect(() => loadConfig(ipSpec, { MEETEDGE_ANNOUNCED_IP: 'sfu.corp' })).toThrow(
      'config MEETEDGE_ANNOUNCED_IP: expected an IPv4 or IPv6 address, got "sfu.corp"',
    );
  });

  it('parses a value with its own parser and hides a refused secret', () => {
    const parsedSpec = {
      key: key.parsed('MEETEDGE_TICKET_PUBLIC_KEY', { doc: 'key' }, (raw) => {
        if (!raw.startsWith('-----BEGIN')) throw new Error('expected a PEM key');
        return raw.length;
      }),
      secret: key.parsed('MEETEDGE_SECRET', { doc: 'secret', default: 0, secret: true }, () => {
        throw new Error('expected a secret of the right shape');
      }),
    };
    expect(loadConfig(parsedSpec, { MEETEDGE_TICKET_PUBLIC_KEY: '-----BEGIN X' }).key).toBe(12);
    expect(() => loadConfig(parsedSpec, { MEETEDGE_TICKET_PUBLIC_KEY: 'nope' })).toThrow(
      'config MEETEDGE_TICKET_PUBLIC_KEY: expected a PEM key, got "nope"',
    );
    expect(() => loadConfig(parsedSpec, { MEETEDGE_TICKET_PUBLIC_KEY: '-----BEGIN X', MEETEDGE_SECRET: 'hunter2' })).toThrow(
      'config MEETEDGE_SECRET: expected a secret of the right shape, got "[redacted]"',
    );
  });

  it('never echoes the password of a refused URL', () => {
    const err = configError({ MEETEDGE_MODULE_ID: 'sfu-1', MEETEDGE_REDIS_URL: 'http://app:s3cret@redis:6379' });
    expect(err.message).toBe('config MEETEDGE_REDIS_URL: expected a redis: URL, got "http://app:***@redis:6379"');
  });

  it('refuses an unknown MEETEDGE_ key (a typo must not be silently ignored)', () => {
    const err = configError({ MEETEDGE_MODULE_ID: 'sfu-1', MEETEDGE_HTTP_PROT: '1' });
    expect(err.key).toBe('MEETEDGE_HTTP_PROT');
    expect(err.message).toMatch(/^config MEETEDGE_HTTP_PROT: unknown key; this service accepts MEETEDGE_CAPACITY_UNITS, /);
  });

  it('refuses a missing required key', () => {
    expect(configError({}).message).toBe('config MEETEDGE_MODULE_ID: required (module id)');
  });

  it('describes every key with its default', () => {
    expect(describeConfig(spec)).toContain('MEETEDGE_HTTP_PORT=8080  HTTP port');
    expect(describeConfig(spec)).toContain('MEETEDGE_MODULE_ID (required)  module id');
  });
});
