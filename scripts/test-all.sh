#!/usr/bin/env bash
# The whole test suite from a fresh clone: dependencies, the real stores, then every test.
# The chaos suite's short run goes last and alone: it starts dozens of sidecars, watchdogs,
# jobs and private stores, and its failover bounds are about the sidecars, not about a
# machine that is also running every other test file on its two cores.
set -uo pipefail
cd "$(dirname "$0")/.."
set -e
bash scripts/ensure-deps.sh
bash scripts/services.sh
pnpm run --silent lint
set +e
CHAOS=chaos/test/short-run.test.ts
status=0
pnpm exec vitest run --exclude "$CHAOS" "$@" || status=1
if [ "$#" -eq 0 ]; then
  pnpm exec vitest run "$CHAOS" --outputFile.json=.vitest-results-chaos.json || status=1
fi
exit "$status"
