# syntax=docker/dockerfile:1
# leasehold sidecar image. Build from the repository root:
#   docker build -t leasehold .
# test/deploy-files.test.ts keeps this file consistent with the code (ports, routes, paths,
# pnpm version); docs/deploy.md explains how to run it.

# ---- build: install the workspace from the lockfile, compile, cut a production tree ----
FROM node:24-bookworm-slim AS build

# better-sqlite3 compiles its native addon from source when no prebuilt binary can be
# downloaded (pnpm-workspace.yaml lets it run its build script): node-gyp needs these.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# The version pinned by package.json "packageManager", installed with npm: corepack is
# not relied on (newer Node releases no longer bundle it).
RUN npm install --global --no-fund --no-audit pnpm@10.34.9

WORKDIR /src

# Manifests first: the dependency layer is rebuilt only when one of them changes, not on
# every source edit. List every workspace package: pnpm silently skips one whose manifest
# is missing here, and its dependencies are then absent from the build.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages/core/package.json packages/core/
COPY packages/conformance/package.json packages/conformance/
COPY packages/adapters/package.json packages/adapters/
COPY packages/sidecar/package.json packages/sidecar/
COPY packages/testkit/package.json packages/testkit/
RUN pnpm install --frozen-lockfile

COPY tsconfig.base.json tsconfig.json ./
COPY packages/ packages/
RUN pnpm run build

# A self-contained copy of the sidecar (its "files": bin, dist, src) with production
# dependencies only, workspace packages copied in. pnpm 10's default deploy requires
# inject-workspace-packages=true, which this workspace does not set; --legacy is the
# documented mode for workspaces that link their packages, and still installs the
# versions in pnpm-lock.yaml.
RUN pnpm --filter @leasehold/sidecar deploy --prod --legacy /out

# The sidecar bundled into that copy (dist/bundle/, which bin/leasehold.js runs when it is
# there): a few files to load instead of hundreds, which starts faster (bench/RESULTS.md,
# Notes). rolldown is a development dependency of the workspace and stays in this stage.
COPY scripts/bundle.mjs scripts/
RUN node scripts/bundle.mjs /out

# ---- runtime: Node and the deployed tree, no compiler, no pnpm ----
FROM node:24-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out /app

# The code stays root-owned and read-only to the process; only the directory of the
# embedded SQLite default (sqlite://.leasehold/leasehold.db, relative to /app) is writable,
# by that user alone (leasehold refuses a directory others can write: docs/stores.md).
RUN mkdir -m 700 /app/.leasehold && chown node:node /app/.leasehold
USER node

# The sidecar binds 127.0.0.1 by default: run it in the app's network namespace (a pod, or
# compose network_mode "service:<app>"). Set LEASEHOLD_HOST=0.0.0.0 only when the app must
# reach it across a network; see docs/deploy.md.
EXPOSE 4040

# Slim images have no curl: ask /healthz with Node's fetch, on the configured port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.LEASEHOLD_PORT || '4040') + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# SIGTERM makes the sidecar stop reporting leadership and release the lock, so another
# instance takes over at once; it exits within LEASEHOLD_SHUTDOWN_GRACE (default 10s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/leasehold.js"]
