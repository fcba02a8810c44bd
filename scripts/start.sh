#!/usr/bin/env bash
# `npm start` / `pnpm start`: install and build when needed, then run the sidecar.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec node packages/sidecar/bin/leasehold.js "$@"
