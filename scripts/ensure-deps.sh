#!/usr/bin/env bash
# Make a fresh clone runnable with nothing but Node and npm: install the pinned pnpm with npm
# (corepack is not available everywhere), install the workspace from the lockfile and build.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION="$(node -p "require('./package.json').packageManager.split('@')[1]")"
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "leasehold: installing pnpm $PNPM_VERSION with npm" >&2
  npm install --global --no-fund --no-audit "pnpm@$PNPM_VERSION" >&2
fi
pnpm install --frozen-lockfile --reporter=silent >&2
pnpm exec tsc -b >&2
