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
# netlab's own test goes there too: beside the tests that cut and stall their own labs it
# timed out waiting for its echoes (it passes alone).
ALONE=(chaos/test/short-run.test.ts test/netlab.test.ts)
status=0
pnpm exec vitest run "${ALONE[@]/#/--exclude=}" "$@" || status=1
if [ "$#" -eq 0 ]; then
  LEASEHOLD_VITEST_JSON=.vitest-results-chaos.json \
    pnpm exec vitest run --no-file-parallelism "${ALONE[@]}" || status=1
fi
exit "$status"
