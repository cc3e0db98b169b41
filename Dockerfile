# syntax=docker/dockerfile:1
# One image recipe for every meetedge app; APP picks which one:
#
#   docker build --build-arg APP=sfu -t meetedge-sfu .
#
# APP is one of sfu, zcp, dashboard, all-in-one (a folder apps/<APP> with
# src/main.ts). The app is bundled by tools/scripts/bundle.mjs (workspace
# libraries inlined, npm packages external) and runs on production npm
# packages only. Configuration is by MEETEDGE_* environment variables at run
# time; the image sets none, because every app refuses MEETEDGE_* keys it does
# not know. tools/deploy-check tests this file and docker-compose.yml.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: workspace tools + bundle --------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifests first, so this layer is reused until dependencies change.
# `npm install`, not `npm ci`: the registry omits other platforms' optional
# builds from the lockfile and `npm ci` then refuses it; `npm install` with the
# committed lockfile installs the locked versions. Install scripts are off:
# bundling needs none (esbuild finds its platform binary without its
# postinstall).
COPY package.json package-lock.json .npmrc ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.base.json ./
COPY libs/ libs/
COPY apps/ apps/
COPY tools/scripts/ tools/scripts/
# The media fast path's addon (libs/fastpath, docs/fastpath.md): C built by
# npm's own node-gyp against the image's Node headers, and required here
# (MEETEDGE_FASTPATH_REQUIRED=1) so an image never ships the slower path by
# accident. bundle.mjs puts it beside the bundles of the apps that use it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
RUN cd libs/fastpath \
 && MEETEDGE_FASTPATH_REQUIRED=1 npm_config_nodedir=/usr/local \
    npm_config_node_gyp=/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js \
    node scripts/build.cjs
ARG APP
RUN test -n "${APP}" || { echo 'build with --build-arg APP=<sfu|zcp|dashboard|all-in-one>' >&2; exit 1; }
RUN node tools/scripts/bundle.mjs "${APP}"

# ---- prod-deps: the npm packages the bundle requires at run time ----------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# werift runs patched (docs/werift.md): apply the patches explicitly, since
# install scripts are off; --error-on-fail so a patch that no longer applies
# fails the build instead of shipping an unpatched werift.
COPY patches/ patches/
RUN npm install --omit=dev --no-audit --no-fund --ignore-scripts \
 && npx patch-package --error-on-fail \
 && npm cache clean --force

# ---- runtime ----------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG APP
# APP (not MEETEDGE_APP): the apps reject unknown MEETEDGE_* variables.
ENV NODE_ENV=production \
    APP=${APP}
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY tools/scripts/healthcheck.cjs ./healthcheck.cjs
COPY --from=build /src/dist/apps/${APP}/ ./dist/apps/${APP}/
# Files stay owned by root: the app can read them, not change them.
USER node
# Default ports of every app (EXPOSE is documentation; compose/k8s publish
# what each service really listens on): dashboard HTTP 8080, gRPC 8081; zcp HTTP 8090;
# sfu HTTP 8100 + media 8801 UDP and TCP; all-in-one: those HTTP ports plus
# its cloud MMR's HTTP 8110 and media 8802.
EXPOSE 8080/tcp 8081/tcp 8090/tcp 8091/tcp 8100/tcp 8801/udp 8801/tcp 8110/tcp 8802/udp 8802/tcp
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "healthcheck.cjs"]
# exec: node becomes PID 1 and gets SIGTERM directly for a graceful shutdown.
CMD ["sh", "-c", "exec node --enable-source-maps dist/apps/${APP}/main.js"]
