// One lint configuration for the whole workspace. The module-boundary rule is
// what keeps the architecture honest: see docs/architecture.md, "Boundaries".
import { builtinModules } from 'node:module';
import nx from '@nx/eslint-plugin';

/** Packages that do I/O. The media core and other pure libraries take packets
 * and return decisions; sockets, gRPC, HTTP and Redis live in adapters. */
const ioPackages = [
  'ioredis',
  '@grpc/*',
  'fastify',
  '@fastify/*',
  'werift',
  'pino',
  'pino-*',
  'prom-client',
];
/** Why browser code of the client SDK may not import a Node-only module. */
const NODE_ONLY = 'the client SDK runs in a page here; Node-only code goes in libs/client/src/node.';
const ioBuiltins = ['net', 'dgram', 'http', 'https', 'http2', 'tls', 'child_process', 'fs', 'fs/promises', 'cluster', 'worker_threads'];

/** Options of @nx/enforce-module-boundaries; `allow` lists imports exempt from the app rule. */
function boundaries(allow) {
  return {
    enforceBuildableLibDependency: false,
    allow,
    depConstraints: [
      // Pure code: ids, errors, units, the forwarding core. No I/O at all.
      {
        sourceTag: 'type:core',
        onlyDependOnLibsWithTags: ['type:core'],
        bannedExternalImports: ioPackages,
      },
      // Generated contracts: may use grpc-js and protobuf runtime, nothing of ours but core.
      { sourceTag: 'type:contract', onlyDependOnLibsWithTags: ['type:core'] },
      // Redis plumbing the stores share (scripts, error mapping): below the stores, above core.
      {
        sourceTag: 'type:data-kit',
        onlyDependOnLibsWithTags: ['type:core', 'type:testing'],
        bannedExternalImports: ['fastify', '@fastify/*', '@grpc/*', 'werift'],
      },
      // Adapters over shared state (Redis or memory).
      {
        sourceTag: 'type:data-access',
        onlyDependOnLibsWithTags: ['type:core', 'type:contract', 'type:data-kit', 'type:testing'],
        bannedExternalImports: ['fastify', '@fastify/*', '@grpc/*', 'werift'],
      },
      // The media fast path's N-API addon (libs/fastpath): below the werift
      // adapters and the apps.
      {
        sourceTag: 'type:native',
        onlyDependOnLibsWithTags: ['type:core'],
        bannedExternalImports: ['ioredis', 'werift', '@grpc/*', 'fastify', '@fastify/*'],
      },
      // HTTP service scaffolding shared by the apps.
      {
        sourceTag: 'type:platform',
        onlyDependOnLibsWithTags: ['type:core'],
        bannedExternalImports: ['ioredis', 'werift'],
      },
      // What the module and the Node client SDK both do with a werift connection.
      {
        sourceTag: 'type:werift-kit',
        onlyDependOnLibsWithTags: ['type:core', 'type:native'],
        bannedExternalImports: ['ioredis', '@grpc/*', 'fastify', '@fastify/*'],
      },
      // The client SDK: what a participant's device runs (werift in Node, the
      // browser's RTCPeerConnection); it speaks the protocols, nothing else.
      {
        sourceTag: 'type:client',
        onlyDependOnLibsWithTags: ['type:core', 'type:werift-kit'],
        bannedExternalImports: ['ioredis', '@grpc/*', 'fastify', '@fastify/*'],
      },
      // Test harnesses (real redis-server on a free port, ...).
      { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:core'] },
      // Apps wire libraries together; an app never imports another app.
      {
        sourceTag: 'type:app',
        onlyDependOnLibsWithTags: ['type:core', 'type:contract', 'type:data-access', 'type:platform', 'type:testing', 'type:client', 'type:werift-kit', 'type:native'],
      },
      // The all-in-one process composes the apps.
      {
        sourceTag: 'type:composite',
        onlyDependOnLibsWithTags: ['type:app', 'type:core', 'type:contract', 'type:data-access', 'type:platform', 'type:testing', 'type:client', 'type:werift-kit', 'type:native'],
      },
    ],
  };
}

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    ignores: ['**/dist', '**/node_modules', '**/.nx', '**/coverage', 'libs/proto/src/gen/**'],
  },
  {
    files: ['**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', boundaries([])] },
  },
  {
    // The all-in-one process composes whole apps, and the deployment checks
    // read the apps' config specs.
    files: ['apps/all-in-one/**/*.ts', 'tools/deploy-check/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': ['error', boundaries(['@meetedge/sfu', '@meetedge/zcp', '@meetedge/dashboard'])],
    },
  },
  {
    // Node builtins are not "external" packages to the nx rule, so pure
    // libraries ban them with the core rule.
    files: ['libs/core/**/*.ts', 'libs/media/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioBuiltins.flatMap((name) => [name, `node:${name}`]).map((name) => ({
            name,
            message: 'type:core code does no I/O; put it behind an adapter.',
          })),
        },
      ],
    },
  },
  {
    // The client SDK's browser half and the session logic it shares with the
    // Node half run in a page: no Node builtins, no werift, no ws.
    files: ['libs/client/src/*.ts', 'libs/client/src/browser/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['werift', 'ws', ...builtinModules].map((name) => ({ name, message: NODE_ONLY })),
          patterns: [{ group: ['node:*'], message: NODE_ONLY }],
        },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
