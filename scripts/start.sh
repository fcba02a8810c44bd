#!/usr/bin/env bash
# `npm start` / `pnpm start`: install and build when needed (each step says so on stderr),
# then run the sidecar.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
echo "leasehold: starting the sidecar (node packages/sidecar/bin/leasehold.js)" >&2
exec node packages/sidecar/bin/leasehold.js "$@"
