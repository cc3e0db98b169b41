#!/usr/bin/env node
// Container health probe: GET /healthz on the app's own HTTP port; exit 0 on
// a 2xx answer within 3 s, 1 otherwise. Used by the Dockerfile's HEALTHCHECK
// and by docker-compose.yml. It reads the same MEETEDGE_* variables as the app
// (never sets any), falling back to each app's default HTTP port.
'use strict';

/** Default HTTP port of each app, as in its config spec (apps/<app>/src/config.ts). */
const DEFAULT_HTTP_PORT = { dashboard: 8080, zcp: 8090, sfu: 8100, 'all-in-one': 8080 };

const app = process.env.APP ?? '';
const portVar = app === 'all-in-one' ? 'MEETEDGE_DASHBOARD_PORT' : 'MEETEDGE_HTTP_PORT';
const port = Number(process.env[portVar] || DEFAULT_HTTP_PORT[app]);
// A wildcard bind is reached on loopback; a specific address only on itself.
const bind = process.env.MEETEDGE_HTTP_HOST;
const host = !bind || bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind;

if (!Number.isInteger(port) || port <= 0) {
  console.error(`healthcheck: no HTTP port (APP=${JSON.stringify(app)}, ${portVar} unset)`);
  process.exit(1);
}

const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
fetch(url, { signal: AbortSignal.timeout(3000) }).then(
  (res) => {
    if (!res.ok) console.error(`healthcheck: ${url} answered ${res.status}`);
    process.exit(res.ok ? 0 : 1);
  },
  (err) => {
    console.error(`healthcheck: ${url}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
