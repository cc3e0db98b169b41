/**
 * `npm start`: the whole system in one process, nothing else needed.
 */
import { createLogger, runMain } from '@meetedge/service-kit';
import { loadAllInOneConfig } from './config';
import { DEMO, buildSystem, seedDemo } from './system';

void runMain(async () => {
  const config = loadAllInOneConfig(process.env);
  const logger = createLogger({ level: config.logLevel, bindings: { mode: 'all-in-one' } });
  const system = buildSystem(config, logger);
  const demo = { meetingId: '' };
  return {
    logger,
    services: system.services,
    afterClose: () => system.state.close(),
    afterStart: async (urls) => {
      ({ meetingId: demo.meetingId } = await seedDemo(
        system,
        system.zcps.map((zcp) => urls[system.services.indexOf(zcp)] ?? ''),
      ));
    },
    onStarted: (urls) => {
      const lines = system.services.map((s, i) => `  ${s.name.padEnd(10)} ${urls[i]}   health: ${urls[i]}/healthz   metrics: ${urls[i]}/metrics`);
      // Modules also serve media sessions (docs/protocol.md) over WebSocket.
      for (const [i, s] of system.services.entries()) {
        if (s.name.startsWith('sfu') || s.name === 'cloud-mmr') lines.push(`  ${s.name.padEnd(10)} media sessions: ${urls[i]?.replace('http:', 'ws:')}/v1/media`);
      }
      const api = urls[0] ?? '';
      lines.push(
        '',
        `  Sign in as ${DEMO.email} / ${DEMO.password} (demo account "${DEMO.account}", meeting ${demo.meetingId}):`,
        `    curl -s ${api}/v1/sign-in -H 'content-type: application/json' -d '{"email":"${DEMO.email}","password":"${DEMO.password}"}'`,
        `  API reference (OpenAPI): ${api}/docs`,
      );
      process.stdout.write(`\nmeetedge is running (all-in-one, in-memory state). Ctrl-C stops it.\n${lines.join('\n')}\n\n`);
    },
  };
});
