#!/usr/bin/env bash
# The whole test suite from a fresh clone: dependencies, the Node runtimes CI tests on, the
# real stores, then every test. Every test runs on the machine's node (20); every package's
# suite (core, the five adapters against the real stores, the sidecar's processes and HTTP)
# runs again on each runtime of scripts/runtimes.sh (22, 24), each writing its own report
# (`pnpm release` starts the packed sidecar on each). The repository-level tests (deploy
# files, docs, packing, the run-* process trees in network labs) and the chaos suite's
# short run stay on the machine's node: a
# second and third run of them would take CI past its 30 minutes on two cores
# (docs/design.md, "Runtimes"). The chaos short run goes last and alone: it starts dozens of
# sidecars, watchdogs, jobs and private stores, and its failover bounds are about the
# sidecars, not about a machine also running every other test file. Each phase prints how
# long it took.
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
ON_EVERY_RUNTIME=(packages/core/test packages/adapters/test packages/sidecar/test)
# Node 22 (neither the machine's node nor the image's 24) leaves out the scenarios of many
# sidecar processes at once (steering, many elections, shards: 3 minutes of the run between
# them); 22 and 24 both leave out the longest process-level files (the command line's
# process and start-up failure cases, the listener's limits, the PostgreSQL and ZooKeeper
# failovers: 2.5 minutes of file time) and the adapters' files about a store's faults and
# topologies (first connection, etcd's waiting line, many elections and restart, Redis
# failures and Cluster, ZooKeeper over TLS, PostgreSQL behind a pooler: 2.3 minutes). What
# they drive of the runtime, child processes, node:http, timers and the store clients, the
# other sidecar and adapter tests drive too (each adapter's conformance suite among them),
# and they all run on 20 (the long files) or on 20 and 24 (the scenarios). CI's 30 minutes:
# on 2026-12-07 the whole run took 29-31 minutes with them in.
SKIP_ON_RUNTIMES=(packages/sidecar/test/process.test.ts packages/sidecar/test/startup-failures.test.ts
  packages/sidecar/test/listener.test.ts packages/adapters/test/postgres-failover.test.ts
  packages/adapters/test/zookeeper-failover.test.ts packages/adapters/test/first-connection.test.ts
  packages/adapters/test/etcd-line.test.ts packages/adapters/test/etcd-many.test.ts
  packages/adapters/test/etcd-restart.test.ts packages/adapters/test/redis-failures.test.ts
  packages/adapters/test/redis-cluster.test.ts packages/adapters/test/zookeeper-tls.test.ts
  packages/adapters/test/postgres-pooler.test.ts)
SKIP_ON_22=("${SKIP_ON_RUNTIMES[@]}" packages/sidecar/test/steering.test.ts
  packages/sidecar/test/elections-process.test.ts packages/sidecar/test/shards-process.test.ts)
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
    skip=("${SKIP_ON_RUNTIMES[@]/#/--exclude=}")
    [ "${version%%.*}" = 22 ] && skip=("${SKIP_ON_22[@]/#/--exclude=}")
    phase "node v$version: main run" env PATH="$(bash scripts/runtimes.sh bin "$version"):$PATH" \
      LEASEHOLD_VITEST_JSON=".vitest-results-node${version%%.*}.json" \
      pnpm exec vitest run "${ON_EVERY_RUNTIME[@]}" "${skip[@]}"
  done
  phase "node $(node --version): chaos short run" env \
    LEASEHOLD_VITEST_JSON=.vitest-results-chaos.json \
    pnpm exec vitest run --no-file-parallelism "${ALONE[@]}"
fi
exit "$status"
