#!/usr/bin/env bash
# Make a fresh clone runnable with nothing but Node and npm: install the pinned pnpm with npm
# (corepack is not available everywhere), install the workspace from the lockfile and build.
# Each step says what it does on stderr (stdout is the sidecar's log). When nothing changed
# since the last successful run (no manifest, lockfile, source or tsconfig newer than the
# stamp, the same Node and pnpm pin), it does nothing: a later `npm start` is up in about a
# second instead of re-checking the install and rebuilding for several.
set -euo pipefail
cd "$(dirname "$0")/.."

STAMP=.leasehold/deps.stamp
# Read without starting Node: this runs before every start.
PNPM_VERSION="$(sed -n 's/^ *"packageManager": *"pnpm@\([^"]*\)".*/\1/p' package.json)"
WANTED="node $(node --version) pnpm $PNPM_VERSION"

# Everything a build or an install depends on, at this checkout.
inputs() {
  ls -d package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig*.json \
    packages/*/package.json packages/*/tsconfig*.json packages/*/src \
    chaos/package.json chaos/tsconfig*.json chaos/src 2>/dev/null
}

up_to_date() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANTED" ] && [ -d node_modules ] &&
    [ -f packages/sidecar/dist/cli.js ] &&
    [ -z "$(find $(inputs) -newer "$STAMP" -print -quit 2>/dev/null)" ]
}

if up_to_date; then
  exit 0
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "leasehold: installing pnpm $PNPM_VERSION with npm" >&2
  npm install --global --no-fund --no-audit "pnpm@$PNPM_VERSION" >&2
fi
echo "leasehold: installing dependencies (pnpm install --frozen-lockfile)" >&2
pnpm install --frozen-lockfile --reporter=silent >&2
echo "leasehold: building (tsc -b)" >&2
pnpm exec tsc -b >&2
mkdir -p "$(dirname "$STAMP")"
# Written after the build, so files changed during it are newer and rebuild next time.
echo "$WANTED" >"$STAMP"
