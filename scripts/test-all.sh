#!/usr/bin/env bash
# The whole test suite from a fresh clone: dependencies, the Node runtimes CI tests on, the
# real stores, then every test. The non-chaos suite runs on every supported Node major: the
# machine's node (20) and each runtime of scripts/runtimes.sh (22, 24), one after another,
# each writing its own report. The chaos suite's short run goes last and alone, on the
# machine's node only: it starts dozens of sidecars, watchdogs, jobs and private stores,
# its failover bounds are about the sidecars, not about a machine that is also running
# every other test file on its two cores, and a second and third run would take CI past
# its 30 minutes (docs/design.md, "Runtimes"). Each phase prints how long it took.
set -uo pipefail
cd "$(dirname "$0")/.."
set -e
bash scripts/ensure-deps.sh
bash scripts/runtimes.sh install
bash scripts/services.sh
pnpm run --silent lint
set +e
# netlab's own test goes there too: beside the tests that cut and stall their own labs it
# timed out waiting for its echoes (it passes alone).
ALONE=(chaos/test/short-run.test.ts test/netlab.test.ts)
status=0

phase() {
  local name="$1" started=$SECONDS
  shift
  "$@" || status=1
  echo "test-all: $name took $((SECONDS - started)) s" >&2
}

phase "node $(node --version): main run" pnpm exec vitest run "${ALONE[@]/#/--exclude=}" "$@"
if [ "$#" -eq 0 ]; then
  for version in $(bash scripts/runtimes.sh versions); do
    phase "node v$version: main run" env PATH="$(bash scripts/runtimes.sh bin "$version"):$PATH" \
      LEASEHOLD_VITEST_JSON=".vitest-results-node${version%%.*}.json" \
      pnpm exec vitest run "${ALONE[@]/#/--exclude=}"
  done
  phase "node $(node --version): chaos short run" env \
    LEASEHOLD_VITEST_JSON=.vitest-results-chaos.json \
    pnpm exec vitest run --no-file-parallelism "${ALONE[@]}"
fi
exit "$status"
