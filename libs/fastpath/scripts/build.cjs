#!/usr/bin/env node
// Builds the fast-path addon with npm's node-gyp (npm runs this on install).
// The addon is optional (docs/fastpath.md): when it cannot be built this says
// why, loudly, and exits 0 so the install goes on; the media module then uses
// its JavaScript path and says so at start. MEETEDGE_FASTPATH_REQUIRED=1 makes
// a failed build fail the install (CI and images that must have it).
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');
if (process.platform !== 'linux') {
  console.warn(`[@meetedge/fastpath] not built: sendmmsg is Linux-only (this is ${process.platform}); the JavaScript path is used`);
  process.exit(0);
}
// npm hands lifecycle scripts its bundled node-gyp; outside npm, the one on PATH.
const gyp = process.env.npm_config_node_gyp;
const command = gyp ? process.execPath : 'node-gyp';
const args = gyp ? [gyp, 'rebuild'] : ['rebuild'];
const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  const why = result.error ? result.error.message : `node-gyp exited with ${result.status}`;
  console.warn(`[@meetedge/fastpath] NOT BUILT (${why}): the media module will use its slower JavaScript path. Needs python3, make and a C compiler, and Node's headers (npm config nodedir).`);
  process.exit(process.env.MEETEDGE_FASTPATH_REQUIRED === '1' ? 1 : 0);
}
