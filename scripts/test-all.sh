#!/usr/bin/env bash
# The whole test suite from a fresh clone: dependencies, the real stores, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/services.sh
pnpm run --silent lint
pnpm exec vitest run "$@"
