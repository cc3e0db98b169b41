/**
 * A small Dockerfile reader and the rules the root Dockerfile must keep. Not a
 * full parser: it joins `\` continuations, drops comments and parser
 * directives, and splits each instruction into keyword, flags and arguments,
 * which is all the checks below need.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPS, PORT_KEYS } from './apps';

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** `--name=value` flags (COPY --from, HEALTHCHECK --interval, ...). */
  flags: Record<string, string>;
  /** The rest of the line after keyword and flags. */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  /** Name after AS, if any. */
  name?: string;
  /** Image or earlier stage it starts from, with global ARG defaults substituted. */
  from: string;
  line: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string | undefined>;
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let current = lines[i] ?? '';
    if (/^\s*(#|$)/.test(current)) continue;
    while (/\\\s*$/.test(current) && i + 1 < lines.length) {
      i++;
      const next = lines[i] ?? '';
      if (/^\s*#/.test(next)) continue; // comment lines inside a continuation are dropped
      current = current.replace(/\s*\\\s*$/, ' ') + next.trim();
    }
    const match = /^\s*(\S+)\s*(.*)$/.exec(current);
    if (!match) continue;
    let rest = match[2] ?? '';
    const flags: Record<string, string> = {};
    for (;;) {
      const flag = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest);
      if (!flag || !flag[1]) break;
      flags[flag[1]] = flag[2] ?? '';
      rest = rest.slice(flag[0].length);
    }
    instructions.push({ keyword: (match[1] ?? '').toUpperCase(), flags, args: rest.trim(), line: start });
  }

  const globalArgs: Record<string, string | undefined> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args.split(/\s+/);
      const from = image.replace(/\$\{?(\w+)\}?/g, (_, arg: string) => globalArgs[arg] ?? '');
      const stage: Stage = { from, line: instruction.line, instructions: [] };
      if (as?.toUpperCase() === 'AS' && name) stage.name = name;
      stages.push(stage);
    } else if (stages.length === 0) {
      if (instruction.keyword === 'ARG') {
        const [arg = '', ...value] = instruction.args.split('=');
        globalArgs[arg] = value.length > 0 ? value.join('=') : undefined;
      }
    } else {
      stages[stages.length - 1]?.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** The JSON-array (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD, or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((part) => typeof part === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Paths excluded by .dockerignore (plain paths and `**\/name` only, which is all we use). */
function ignoredBy(patterns: string[], path: string): string | undefined {
  const parts = path.replace(/\/+$/, '').split('/');
  for (const pattern of patterns) {
    const clean = pattern.replace(/\/+$/, '');
    if (clean.startsWith('**/')) {
      if (parts.includes(clean.slice(3))) return pattern;
    } else if (path === clean || path.startsWith(`${clean}/`)) {
      return pattern;
    }
  }
  return undefined;
}

export interface DockerfileCheckOptions {
  /** Workspace root: the build context. */
  root: string;
  /** Base image every stage must use. */
  baseImage: string;
  /** Text of .dockerignore; default: the file in `root`, if any. */
  dockerignore?: string;
}

/** Everything wrong with the root Dockerfile, one sentence per problem. */
export function checkDockerfile(dockerfile: Dockerfile, options: DockerfileCheckOptions): string[] {
  const { root, baseImage } = options;
  const problems: string[] = [];
  const { stages } = dockerfile;
  const names = new Set<string>();
  const ignorePath = join(root, '.dockerignore');
  const ignoreText = options.dockerignore ?? (existsSync(ignorePath) ? readFileSync(ignorePath, 'utf8') : '');
  const ignore = ignoreText
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#') && !line.startsWith('!'));

  for (const stage of stages) {
    if (stage.from !== baseImage && !names.has(stage.from)) {
      problems.push(`line ${stage.line}: stage ${stage.name ?? '(unnamed)'} starts from ${stage.from}, expected ${baseImage}`);
    }
    for (const instruction of stage.instructions) {
      const at = `line ${instruction.line}`;
      if (instruction.keyword === 'RUN' && /\bnpm ci\b/.test(instruction.args)) {
        problems.push(`${at}: npm ci fails against this registry's lockfile; use npm install`);
      }
      if (instruction.keyword === 'COPY' || instruction.keyword === 'ADD') {
        const parts = execForm(instruction.args) ?? instruction.args.split(/\s+/);
        const sources = parts.slice(0, -1);
        if (sources.length === 0) problems.push(`${at}: ${instruction.keyword} needs a source and a destination`);
        const from = instruction.flags['from'];
        if (from !== undefined) {
          if (!names.has(from)) problems.push(`${at}: COPY --from=${from} names no earlier stage`);
          continue;
        }
        for (const source of sources) {
          if (/[*?[$]/.test(source)) {
            problems.push(`${at}: COPY source ${source} uses a pattern or variable; the check cannot verify it`);
            continue;
          }
          const rel = source.replace(/^\.\//, '');
          if (!existsSync(join(root, rel))) problems.push(`${at}: COPY source ${source} does not exist`);
          const excludedBy = ignoredBy(ignore, rel);
          if (excludedBy) problems.push(`${at}: COPY source ${source} is excluded by .dockerignore (${excludedBy})`);
        }
      }
    }
    if (stage.name) names.add(stage.name);
  }

  const build = stages.find((stage) => stage.name === 'build');
  const runtime = stages[stages.length - 1];
  if (!build) problems.push('no stage named "build"');
  if (!runtime || runtime.name !== 'runtime') problems.push('the last stage (the image) must be named "runtime"');
  if (!build || !runtime) return problems;

  const has = (stage: Stage, keyword: string, test: (i: Instruction) => boolean = () => true) =>
    stage.instructions.some((i) => i.keyword === keyword && test(i));

  for (const stage of [build, runtime]) {
    if (!has(stage, 'ARG', (i) => i.args.split('=')[0] === 'APP')) problems.push(`stage ${stage.name}: no ARG APP`);
  }
  if (!has(build, 'RUN', (i) => /\bnpm install\b/.test(i.args) && !/--omit=dev/.test(i.args))) {
    problems.push('stage build: no RUN npm install');
  }
  if (!has(build, 'RUN', (i) => /tools\/scripts\/bundle\.mjs\s+"?\$\{?APP\}?"?/.test(i.args))) {
    problems.push('stage build: no RUN node tools/scripts/bundle.mjs "${APP}"');
  }
  const depsStages = stages.filter((stage) => has(stage, 'RUN', (i) => /\bnpm install\b.*--omit=dev/.test(i.args)));
  if (depsStages.length === 0) problems.push('no stage installs production dependencies (npm install --omit=dev)');
  if (!has(runtime, 'COPY', (i) => depsStages.some((s) => s.name === i.flags['from']) && /node_modules/.test(i.args))) {
    problems.push('stage runtime: does not copy node_modules from the production-dependencies stage');
  }
  if (!has(runtime, 'COPY', (i) => i.flags['from'] === 'build' && /dist\/apps\/\$\{APP\}/.test(i.args))) {
    problems.push('stage runtime: does not copy dist/apps/${APP} from the build stage');
  }

  const users = runtime.instructions.filter((i) => i.keyword === 'USER');
  const user = users[users.length - 1]?.args.split(':')[0];
  if (!user || user === 'root' || user === '0') problems.push('stage runtime: must switch to a non-root USER');

  for (const env of runtime.instructions.filter((i) => i.keyword === 'ENV')) {
    if (/\bMEETEDGE_\w+=/.test(env.args)) problems.push(`line ${env.line}: the image must not set MEETEDGE_* (apps reject keys they do not know)`);
  }

  const exposed = new Set(
    runtime.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => (p.includes('/') ? p : `${p}/tcp`))),
  );
  for (const [app, facts] of Object.entries(APPS)) {
    for (const [role, port] of Object.entries(facts.defaultPorts)) {
      const protocols = role === 'media' ? ['udp', 'tcp'] : ['tcp'];
      for (const protocol of protocols) {
        if (!exposed.has(`${port}/${protocol}`)) {
          problems.push(`stage runtime: EXPOSE lacks ${port}/${protocol} (${app} ${PORT_KEYS[role as keyof typeof PORT_KEYS]} default)`);
        }
      }
    }
  }

  const healthcheck = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK');
  const probe = healthcheck && execForm(healthcheck.args.replace(/^CMD\s+/, ''));
  if (!probe) problems.push('stage runtime: no HEALTHCHECK CMD in exec form');
  else {
    // The probe script must be one this stage copies from the context, and it must ask /healthz.
    const script = probe.find((part) => /\.[cm]?js$/.test(part));
    const copy = runtime.instructions.find((i) => {
      if (i.keyword !== 'COPY' || i.flags['from'] !== undefined || !script) return false;
      const dest = i.args.split(/\s+/).pop() ?? '';
      return dest.replace(/^\.\//, '') === script.replace(/^\.\//, '');
    });
    const source = copy?.args.split(/\s+/)[0];
    if (!script || !source) problems.push(`stage runtime: HEALTHCHECK ${healthcheck.args} runs no script copied into the image`);
    else if (existsSync(join(root, source)) && !readFileSync(join(root, source), 'utf8').includes('/healthz')) {
      problems.push(`stage runtime: HEALTHCHECK script ${source} does not request /healthz`);
    }
  }

  const cmd = runtime.instructions.filter((i) => i.keyword === 'CMD').pop();
  const command = cmd && execForm(cmd.args);
  if (!command) problems.push('stage runtime: no CMD in exec form');
  else if (!command.some((part) => /\bnode\b.*dist\/apps\/\$\{?APP\}?\/main\.js/.test(part) || part === 'dist/apps/${APP}/main.js')) {
    problems.push(`stage runtime: CMD ${cmd.args} does not run node dist/apps/\${APP}/main.js`);
  }
  return problems;
}
