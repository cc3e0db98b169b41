#!/usr/bin/env node
// Generates TypeScript from libs/proto/proto/**/*.proto with ts-proto, run by
// the protoc binary that the npm package `protoc` ships. Both come from
// package-lock.json, so generation works offline and gives the same bytes on
// every machine.
//
//   node libs/proto/scripts/generate.mjs              # writes libs/proto/src/gen
//   node libs/proto/scripts/generate.mjs --out <dir>  # writes <dir> instead
//
// The output directory is replaced as a whole, so files of a deleted .proto
// disappear too. `npm run proto:gen` (nx run proto:generate) runs this; the
// proto test runs it with --out into a temporary directory and fails when the
// result differs from src/gen by a single byte.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const libRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const protoRoot = join(libRoot, 'proto');
const defaultOut = join(libRoot, 'src', 'gen');

/**
 * ts-proto options, one per line so a change shows in review.
 * - outputServices=grpc-js: service definitions, typed server interfaces and
 *   client constructors for @grpc/grpc-js (no runtime reflection).
 * - esModuleInterop=true, env=node: match tsconfig.base.json and Node.
 * - oneof=unions-value: a oneof is `{ $case: 'register', value: Register }`, so
 *   a switch on $case narrows the value.
 * - useOptionals=messages: message-typed fields are optional keys (`info?:`);
 *   scalars keep proto3 defaults (0, "", false) and are always present.
 * - forceLong=number: int64/uint64 fields (Unix ms, sequence numbers) are JS
 *   numbers; all our 64-bit values stay far below 2^53.
 * - useDate=false: no google.protobuf.Timestamp mapping (we use *_unix_ms).
 * - removeEnumPrefix=true: Quality.SD rather than Quality.QUALITY_SD.
 * - useExactTypes=false: create()/fromPartial() accept any partial object,
 *   which keeps call sites readable under strict mode.
 * - outputIndex=false, exportCommonSymbols=false: src/index.ts decides what
 *   the library exports; per-file helpers (DeepPartial, MessageFns) stay
 *   private so the files can be re-exported together.
 */
const TS_PROTO_OPTIONS = [
  'outputServices=grpc-js',
  'esModuleInterop=true',
  'env=node',
  'oneof=unions-value',
  'useOptionals=messages',
  'forceLong=number',
  'useDate=false',
  'removeEnumPrefix=true',
  'useExactTypes=false',
  'outputIndex=false',
  'exportCommonSymbols=false',
];

function header(protoFile) {
  return (
    `// GENERATED FILE: DO NOT EDIT. Source: libs/proto/proto/${protoFile}\n` +
    '// Change the .proto file and run `npm run proto:gen` (libs/proto/scripts/generate.mjs);\n' +
    '// the proto test fails when this file differs from a fresh generation.\n'
  );
}

function listProtoFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listProtoFiles(path));
    else if (entry.name.endsWith('.proto')) found.push(path);
  }
  return found.sort();
}

function listFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listFiles(path));
    else found.push(path);
  }
  return found.sort();
}

/** Runs protoc + ts-proto into `outDir`, replacing whatever it held. */
export function generate(outDir = defaultOut) {
  const protoFiles = listProtoFiles(protoRoot).map((file) => relative(protoRoot, file).split(sep).join('/'));
  if (protoFiles.length === 0) throw new Error(`no .proto files under ${protoRoot}`);

  const protocPkg = dirname(require.resolve('protoc/package.json'));
  const plugin = join(dirname(require.resolve('ts-proto/package.json')), 'protoc-gen-ts_proto');
  const staging = mkdtempSync(join(tmpdir(), 'meetedge-proto-'));
  try {
    execFileSync(
      process.execPath,
      [
        join(protocPkg, 'protoc.cjs'),
        `--plugin=protoc-gen-ts_proto=${plugin}`,
        `--proto_path=${protoRoot}`,
        `--ts_proto_out=${staging}`,
        `--ts_proto_opt=${TS_PROTO_OPTIONS.join(',')}`,
        ...protoFiles,
      ],
      { cwd: protoRoot, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    for (const file of listFiles(staging)) {
      const rel = relative(staging, file).split(sep).join('/');
      const source = rel.replace(/\.ts$/, '.proto');
      // ts-proto opens every file with `/* eslint-disable */`; lint ignores
      // src/gen/ as a whole (eslint.config.mjs), so the blanket disable goes.
      const body = readFileSync(file, 'utf8').replace(/^\/\* eslint-disable \*\/\n/m, '');
      writeFileSync(file, header(source) + body);
    }
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    cpSync(staging, outDir, { recursive: true });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return listFiles(outDir).map((file) => relative(outDir, file).split(sep).join('/'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  let outDir = defaultOut;
  if (outIndex !== -1) {
    const value = args[outIndex + 1];
    if (!value) throw new Error('--out needs a directory');
    outDir = resolve(value);
  }
  const files = generate(outDir);
  process.stdout.write(`generated ${files.length} files in ${relative(process.cwd(), outDir) || '.'}\n`);
}
