import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkDockerfile, parseDockerfile } from './dockerfile';

const root = resolve(__dirname, '../../..');
const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
const baseImage = 'node:20-bookworm-slim';
const check = (source: string): string[] => checkDockerfile(parseDockerfile(source), { root, baseImage });

/** The real Dockerfile with one exact piece of text replaced (fails if the piece is gone). */
function edited(from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`Dockerfile no longer contains ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

describe('Dockerfile', () => {
  it('passes the deployment checks', () => {
    expect(check(text)).toEqual([]);
  });

  it('builds in stages build → prod-deps → runtime, all on node:20-bookworm-slim', () => {
    const { stages, globalArgs } = parseDockerfile(text);
    expect(globalArgs['NODE_IMAGE']).toBe(baseImage);
    expect(stages.map((s) => [s.name, s.from])).toEqual([
      ['build', baseImage],
      ['prod-deps', baseImage],
      ['runtime', baseImage],
    ]);
  });

  it('runs the bundle of the app named by APP as a non-root user', () => {
    const runtime = parseDockerfile(text).stages.at(-1);
    const last = (keyword: string) => runtime?.instructions.filter((i) => i.keyword === keyword).pop()?.args;
    expect(last('USER')).toBe('node');
    expect(last('CMD')).toContain('dist/apps/${APP}/main.js');
    expect(last('HEALTHCHECK')).toContain('healthcheck.cjs');
  });
});

describe('checkDockerfile rejects real mistakes', () => {
  it('copying a file that does not exist', () => {
    expect(check(edited('COPY tsconfig.base.json ./', 'COPY tsconfig.build.json ./'))).toEqual([
      expect.stringMatching(/^line \d+: COPY source tsconfig.build.json does not exist$/),
    ]);
  });

  it('copying from a stage that does not exist', () => {
    expect(check(edited('COPY --from=prod-deps', 'COPY --from=deps'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/COPY --from=deps names no earlier stage/)]),
    );
  });

  it('a runtime stage that forgets ARG APP', () => {
    expect(check(edited('FROM ${NODE_IMAGE} AS runtime\nARG APP\n', 'FROM ${NODE_IMAGE} AS runtime\n'))).toEqual([
      'stage runtime: no ARG APP',
    ]);
  });

  it('npm ci, which fails against this registry', () => {
    expect(check(edited('RUN npm install --no-audit', 'RUN npm ci --no-audit'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/npm ci fails/), 'stage build: no RUN npm install']),
    );
  });

  it('copying what .dockerignore leaves out of the build context', () => {
    const problems = checkDockerfile(parseDockerfile(text), { root, baseImage, dockerignore: 'node_modules\ntools\n' });
    expect(problems).toEqual([
      expect.stringMatching(/COPY source tools\/scripts\/ is excluded by .dockerignore \(tools\)$/),
      expect.stringMatching(/COPY source tools\/scripts\/healthcheck.cjs is excluded by .dockerignore \(tools\)$/),
    ]);
  });

  it('running as root', () => {
    expect(check(edited('USER node', 'USER root'))).toEqual(['stage runtime: must switch to a non-root USER']);
  });

  it('a base image other than node:20-bookworm-slim', () => {
    expect(check(edited('ARG NODE_IMAGE=node:20-bookworm-slim', 'ARG NODE_IMAGE=node:22-alpine'))).toEqual([
      expect.stringMatching(/stage build starts from node:22-alpine, expected node:20-bookworm-slim$/),
      expect.stringMatching(/stage prod-deps starts from node:22-alpine/),
      expect.stringMatching(/stage runtime starts from node:22-alpine/),
    ]);
  });

  it('an EXPOSE that misses the media port over UDP', () => {
    expect(check(edited(' 8801/udp', ''))).toEqual([
      'stage runtime: EXPOSE lacks 8801/udp (sfu MEETEDGE_MEDIA_PORT default)',
    ]);
  });

  it('a CMD that runs something other than the bundle', () => {
    expect(check(edited('dist/apps/${APP}/main.js"]', 'apps/${APP}/src/main.ts"]'))).toEqual([
      expect.stringMatching(/^stage runtime: CMD .* does not run node dist\/apps\/\$\{APP\}\/main\.js$/),
    ]);
  });

  it('setting a MEETEDGE_* variable in the image', () => {
    expect(check(edited('APP=${APP}\n', 'APP=${APP} \\\n    MEETEDGE_LOG_LEVEL=debug\n'))).toEqual([
      expect.stringMatching(/the image must not set MEETEDGE_\*/),
    ]);
  });
});

describe('parseDockerfile', () => {
  it('joins continuations, skips comments and reads flags', () => {
    const parsed = parseDockerfile(
      [
        '# syntax=docker/dockerfile:1',
        'ARG BASE=node:20',
        'FROM ${BASE} AS a',
        'RUN echo one \\',
        '  # a comment inside a continuation',
        '  && echo two',
        'FROM a AS b',
        'COPY --from=a --chown=node:node /x /y',
      ].join('\n'),
    );
    expect(parsed.globalArgs).toEqual({ BASE: 'node:20' });
    expect(parsed.stages.map((s) => [s.name, s.from])).toEqual([
      ['a', 'node:20'],
      ['b', 'a'],
    ]);
    expect(parsed.stages[0]?.instructions[0]).toEqual({ keyword: 'RUN', flags: {}, args: 'echo one && echo two', line: 4 });
    expect(parsed.stages[1]?.instructions[0]?.flags).toEqual({ from: 'a', chown: 'node:node' });
  });
});
