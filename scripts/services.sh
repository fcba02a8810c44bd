#!/usr/bin/env bash
# Make sure the stores that leasehold's backends are tested against are running
# on this (Debian, root, no systemd) machine, and print where each listens.
#
#   scripts/services.sh [up]       ensure Redis, a Redis Cluster, PostgreSQL, etcd and ZooKeeper
#                                  are up, and
#                                  Chromium, tmux, nftables, faketime, PgBouncer, kubectl,
#                                  systemd-analyze, promtool and prometheus (browser, terminal,
#                                  fault and deployment-file tests) are installed (default)
#   scripts/services.sh status     print each store and whether it answers (exit 1 if any doesn't)
#   scripts/services.sh stop-etcd  stop our etcd and wait until its port is closed
#   scripts/services.sh start-etcd start etcd again (same data dir) and wait until healthy
#   scripts/services.sh restart-etcd  stop-etcd then start-etcd
#
# Idempotent: a store that already answers is left alone. Progress goes to
# stderr; `up` prints one "name  url" line per store on stdout.
#
# Env overrides (defaults in brackets):
#   REDIS_PORT [6379]  PG_PORT [5432]  PG_DB [test]
#   REDIS_CLUSTER_PORT [7000] (6 nodes: PORT..PORT+5, 3 masters with a replica each)
#   REDIS_CLUSTER_DIR [/var/lib/leasehold-redis-cluster]
#   ETCD_PORT [2379]   ETCD_PEER_PORT [ETCD_PORT+1]
#   ETCD_DATA_DIR [/var/lib/leasehold-etcd]  ETCD_LOG [/var/log/leasehold-etcd.log]
#   ETCD_PID_FILE [/var/run/leasehold-etcd.pid]
#   ZK_PORT [2181]  ZK_DATA_DIR [/var/lib/leasehold-zookeeper]
#   ZK_LOG [/var/log/leasehold-zookeeper.log]  ZK_PID_FILE [/var/run/leasehold-zookeeper.pid]
#   WAIT_SECONDS [20]  readiness deadline per store
set -euo pipefail

HOST=127.0.0.1
REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_CLUSTER_PORT="${REDIS_CLUSTER_PORT:-7000}"
REDIS_CLUSTER_DIR="${REDIS_CLUSTER_DIR:-/var/lib/leasehold-redis-cluster}"
PG_PORT="${PG_PORT:-5432}"
PG_DB="${PG_DB:-test}"
ETCD_PORT="${ETCD_PORT:-2379}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-$((ETCD_PORT + 1))}"
ETCD_NAME=leasehold
ETCD_DATA_DIR="${ETCD_DATA_DIR:-/var/lib/leasehold-etcd}"
ETCD_LOG="${ETCD_LOG:-/var/log/leasehold-etcd.log}"
ETCD_PID_FILE="${ETCD_PID_FILE:-/var/run/leasehold-etcd.pid}"
ZK_PORT="${ZK_PORT:-2181}"
ZK_DATA_DIR="${ZK_DATA_DIR:-/var/lib/leasehold-zookeeper}"
ZK_LOG="${ZK_LOG:-/var/log/leasehold-zookeeper.log}"
ZK_PID_FILE="${ZK_PID_FILE:-/var/run/leasehold-zookeeper.pid}"
WAIT_SECONDS="${WAIT_SECONDS:-20}"

PG_USER="" # set by ensure_postgres / pg_find_user

log() { printf 'services.sh: %s\n' "$*" >&2; }
die() {
  printf 'services.sh: error: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# Run `apt-get update` at most once per script run.
APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# apt-get install, keeping the packages' maintainer scripts from starting Debian's own
# service (etcd would take 2379 with /var/lib/etcd, ZooKeeper 2181): a policy-rc.d that says
# "no", unless one is already there (Docker-style images ship one).
apt_install_without_starting() {
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, from leasehold scripts/services.sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    ours=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_install "$@" || log "apt-get install reported an error (service start is expected to fail without systemd)"
  if [ "$ours" = 1 ]; then
    rm -f "$policy"
    trap - EXIT
  fi
}

# Wait until "$@" succeeds, polling every 0.2 s, for at most WAIT_SECONDS.
# If WAIT_PID is set, give up as soon as that process has exited.
wait_for() {
  local what="$1"
  shift
  local deadline now
  deadline=$(($(date +%s%N) / 1000000 + WAIT_SECONDS * 1000))
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ -n "${WAIT_PID:-}" ] && ! kill -0 "$WAIT_PID" 2>/dev/null; then
      log "$what: process $WAIT_PID exited before it was ready"
      return 1
    fi
    now=$(($(date +%s%N) / 1000000))
    if [ "$now" -ge "$deadline" ]; then
      log "$what not ready after ${WAIT_SECONDS}s"
      return 1
    fi
    sleep 0.2
  done
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Wait until a store just started in the background answers; when it exits first or does
# not answer in time, show its log, stop it, drop its pid file and fail.
#   await_started NAME PID CHECK LOG PID_FILE IS_PID_FUNCTION MESSAGE
await_started() {
  local name="$1" pid="$2" check="$3" logfile="$4" pidfile="$5" is_pid="$6" message="$7"
  WAIT_PID="$pid" wait_for "$name" "$check" && return 0
  log "tail of $logfile:"
  tail -n 30 "$logfile" >&2 || true
  if "$is_pid" "$pid"; then kill "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
  die "$message (log: $logfile)"
}
port_closed() { ! port_open "$1"; }

# ---------------------------------------------------------------- Redis
redis_ok() { [ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

ensure_redis() {
  if ! have redis-server || ! have redis-cli; then apt_install redis-server; fi
  if redis_ok; then
    log "redis already answers on $HOST:$REDIS_PORT"
    return 0
  fi
  log "starting redis on $HOST:$REDIS_PORT"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2
  wait_for redis redis_ok || {
    tail -n 20 /var/log/redis/ci.log >&2 || true
    die "redis did not answer PONG on $HOST:$REDIS_PORT"
  }
}

# ---------------------------------------------------------------- Redis Cluster
redis_cluster_ports() { seq "$REDIS_CLUSTER_PORT" $((REDIS_CLUSTER_PORT + 5)); }
redis_cluster_ok() {
  redis-cli -h "$HOST" -p "$REDIS_CLUSTER_PORT" cluster info 2>/dev/null | grep -q '^cluster_state:ok' &&
    [ "$(redis-cli -h "$HOST" -p "$REDIS_CLUSTER_PORT" cluster nodes 2>/dev/null | wc -l)" = 6 ]
}
redis_node_ok() { [ "$(redis-cli -h "$HOST" -p "$1" ping 2>/dev/null)" = PONG ]; }

# Six cluster-mode servers (no persistence, like the plain one) joined into 3 masters with
# a replica each. A node that answers is left alone; a cluster that is not whole is made
# anew from empty nodes.
ensure_redis_cluster() {
  if redis_cluster_ok; then
    log "redis cluster already answers on $HOST:$REDIS_CLUSTER_PORT-$((REDIS_CLUSTER_PORT + 5))"
    return 0
  fi
  local port dir nodes=()
  for port in $(redis_cluster_ports); do
    dir="$REDIS_CLUSTER_DIR/$port"
    nodes+=("$HOST:$port")
    if ! redis_node_ok "$port"; then
      rm -rf "$dir" && mkdir -p "$dir"
      redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
        --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 2000 --save "" \
        --appendonly no --dir "$dir" --logfile "$dir/redis.log" >&2
    fi
  done
  for port in $(redis_cluster_ports); do
    wait_for "redis cluster node $port" redis_node_ok "$port" || die "redis cluster node $port did not answer"
  done
  if ! redis_cluster_ok; then
    log "creating the redis cluster on ${nodes[*]}"
    for port in $(redis_cluster_ports); do
      redis-cli -h "$HOST" -p "$port" flushall >/dev/null 2>&1 || true
      redis-cli -h "$HOST" -p "$port" cluster reset hard >/dev/null
    done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >&2
    wait_for "redis cluster" redis_cluster_ok || die "redis cluster did not reach cluster_state:ok"
  fi
}

# ---------------------------------------------------------------- PostgreSQL
pg_ok() { pg_isready -q -h "$HOST" -p "$PG_PORT"; }

# First role that can log in over TCP without a password.
pg_find_user() {
  local u
  PG_USER=""
  for u in postgres root "$(id -un)"; do
    if psql -h "$HOST" -p "$PG_PORT" -U "$u" -d postgres -w -tAc 'select 1' >/dev/null 2>&1; then
      PG_USER="$u"
      return 0
    fi
  done
  return 1
}

ensure_postgres() {
  if ! have pg_ctlcluster || ! have psql; then apt_install postgresql; fi
  if pg_ok; then
    log "postgres already answers on $HOST:$PG_PORT"
  else
    local ver
    ver="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$ver" ] || die "no cluster under /etc/postgresql"
    log "starting postgres cluster $ver/main"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 || log "pg_ctlcluster start failed (may already be starting)"
    wait_for postgres pg_ok || die "postgres not ready on $HOST:$PG_PORT (see /var/log/postgresql/)"
  fi
  pg_find_user || die "no passwordless role (postgres/root) over TCP on $HOST:$PG_PORT; check pg_hba.conf for trust auth"
  if [ "$(psql -h "$HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -w -tAc \
    "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]; then
    log "creating database $PG_DB"
    psql -h "$HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -w -qc "create database \"$PG_DB\"" >&2
  fi
  psql -h "$HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -w -tAc 'select 1' >/dev/null ||
    die "cannot connect to database $PG_DB as $PG_USER"
}

# ---------------------------------------------------------------- etcd
etcd_ok() {
  port_open "$ETCD_PORT" || return 1 # fast path: etcdctl blocks for its dial timeout on a closed port
  ETCDCTL_API=3 etcdctl --endpoints="http://$HOST:$ETCD_PORT" --dial-timeout=1s --command-timeout=2s \
    endpoint health >/dev/null 2>&1
}

ensure_etcd_installed() {
  have etcd && have etcdctl && return 0
  local t0=$SECONDS
  apt_install_without_starting etcd-server etcd-client
  have etcd && have etcdctl || die "etcd/etcdctl still missing after apt-get install etcd-server etcd-client"
  log "etcd installed in $((SECONDS - t0))s ($(etcd --version 2>/dev/null | head -n 1))"
}

# Is $1 a live (not zombie) etcd process?
is_etcd_pid() {
  local stat
  [ -n "${1:-}" ] && stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  # /proc/PID/stat: "pid (comm) state ..."
  [[ "$stat" == *" (etcd) "[!ZX]* ]]
}

# Pids of etcd processes that are ours: from the pid file, by data dir, or listening on our port.
etcd_pids() {
  local pid p
  {
    if [ -r "$ETCD_PID_FILE" ]; then
      pid="$(cat "$ETCD_PID_FILE" 2>/dev/null || true)"
      is_etcd_pid "$pid" && echo "$pid"
    fi
    for p in /proc/[0-9]*; do
      pid="${p#/proc/}"
      is_etcd_pid "$pid" || continue
      tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "--data-dir $ETCD_DATA_DIR " && echo "$pid"
    done
    if have ss; then
      ss -Hltnp "sport = :$ETCD_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 || true
    fi
    true
  } | sort -un
}

start_etcd() {
  ensure_etcd_installed
  if etcd_ok; then
    log "etcd already healthy on $HOST:$ETCD_PORT"
    return 0
  fi
  if port_open "$ETCD_PORT"; then
    die "something not answering as healthy etcd already listens on $HOST:$ETCD_PORT: $(ss -Hltnp "sport = :$ETCD_PORT" 2>/dev/null || true)"
  fi
  mkdir -p "$ETCD_DATA_DIR" "$(dirname "$ETCD_LOG")" "$(dirname "$ETCD_PID_FILE")"
  chmod 700 "$ETCD_DATA_DIR" # etcd warns (3.4) or refuses (3.5+) on a group/world-readable data dir
  log "starting etcd on $HOST:$ETCD_PORT (peer $ETCD_PEER_PORT, data $ETCD_DATA_DIR, log $ETCD_LOG)"
  local state=new
  [ -d "$ETCD_DATA_DIR/member" ] && state=existing
  # etcd reads ETCD_* variables as flags; drop this script's own so it doesn't warn or conflict.
  # setsid + nohup: own session, survives this shell; stdin from /dev/null.
  env -u ETCD_PORT -u ETCD_PEER_PORT -u ETCD_DATA_DIR -u ETCD_LOG -u ETCD_PID_FILE \
    setsid nohup etcd \
    --name "$ETCD_NAME" \
    --data-dir "$ETCD_DATA_DIR" \
    --listen-client-urls "http://$HOST:$ETCD_PORT" \
    --advertise-client-urls "http://$HOST:$ETCD_PORT" \
    --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster "$ETCD_NAME=http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster-state "$state" \
    --initial-cluster-token leasehold-etcd \
    --logger=zap \
    </dev/null >>"$ETCD_LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$ETCD_PID_FILE"
  await_started etcd "$pid" etcd_ok "$ETCD_LOG" "$ETCD_PID_FILE" is_etcd_pid \
    "etcd did not become healthy on http://$HOST:$ETCD_PORT"
  # setsid execs in place when it need not fork, so $! is etcd itself; check, and fall back to the port.
  if ! is_etcd_pid "$pid"; then
    pid="$(etcd_pids | head -n 1)"
    [ -n "$pid" ] && echo "$pid" >"$ETCD_PID_FILE"
  fi
  log "etcd healthy (pid ${pid:-?})"
}

stop_etcd() {
  local pids
  pids="$(etcd_pids | xargs)"
  if [ -z "$pids" ]; then
    if port_open "$ETCD_PORT"; then die "port $ETCD_PORT is open but no etcd process found to stop"; fi
    log "etcd not running"
    rm -f "$ETCD_PID_FILE"
    return 0
  fi
  log "stopping etcd (pid $pids)"
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  if ! WAIT_SECONDS=10 wait_for "etcd shutdown" etcd_gone $pids; then
    log "etcd still running; sending SIGKILL"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    WAIT_SECONDS=5 wait_for "etcd shutdown" etcd_gone $pids || die "could not stop etcd (pid $pids)"
  fi
  rm -f "$ETCD_PID_FILE"
  log "etcd stopped; $HOST:$ETCD_PORT closed"
}

etcd_gone() {
  local p
  for p in "$@"; do is_etcd_pid "$p" && return 1; done
  port_closed "$ETCD_PORT"
}

# ---------------------------------------------------------------- ZooKeeper
# Debian's ZooKeeper (zookeeperd) run standalone from a config of our own, not Debian's
# service. tickTime is 100 ms because ZooKeeper expires sessions on tick boundaries: a
# crashed leader's session ends between one session timeout and one timeout plus a tick
# after its last heartbeat. maxSessionTimeout allows TTLs up to 10 minutes.
ZK_CLASSPATH=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar

zk_4lw() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$ZK_PORT && printf %s '$1' >&3 && cat <&3" 2>/dev/null; }
zk_ok() { port_open "$ZK_PORT" && [ "$(zk_4lw ruok)" = imok ]; }

ensure_zookeeper_installed() {
  # Netty: the tests' private ZooKeeper servers with a TLS port (secureClientPort).
  [ -r /usr/share/java/zookeeper.jar ] && [ -r /usr/share/java/netty-handler.jar ] && have java && return 0
  local t0=$SECONDS
  apt_install_without_starting zookeeperd default-jre-headless libnetty-java
  [ -r /usr/share/java/zookeeper.jar ] && [ -r /usr/share/java/netty-handler.jar ] && have java ||
    die "ZooKeeper, Netty or java still missing after apt-get install zookeeperd default-jre-headless libnetty-java"
  log "ZooKeeper installed in $((SECONDS - t0))s"
}

is_zk_pid() {
  [ -n "${1:-}" ] && [ -r "/proc/$1/cmdline" ] &&
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$ZK_DATA_DIR/zoo.cfg"
}

write_zk_config() {
  cat >"$ZK_DATA_DIR/zoo.cfg" <<EOF
tickTime=100
dataDir=$ZK_DATA_DIR/data
clientPort=$ZK_PORT
clientPortAddress=$HOST
minSessionTimeout=200
maxSessionTimeout=600000
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr
autopurge.purgeInterval=1
EOF
}

start_zookeeper() {
  ensure_zookeeper_installed
  if zk_ok; then
    log "zookeeper already answers on $HOST:$ZK_PORT"
    return 0
  fi
  if port_open "$ZK_PORT"; then
    die "something that is not a healthy ZooKeeper already listens on $HOST:$ZK_PORT: $(ss -Hltnp "sport = :$ZK_PORT" 2>/dev/null || true)"
  fi
  mkdir -p "$ZK_DATA_DIR/data" "$(dirname "$ZK_LOG")" "$(dirname "$ZK_PID_FILE")"
  write_zk_config
  log "starting zookeeper on $HOST:$ZK_PORT (data $ZK_DATA_DIR, log $ZK_LOG)"
  # setsid + nohup: own session, survives this shell; stdin from /dev/null.
  setsid nohup java -Xmx256m -XX:+UseSerialGC -cp "$ZK_CLASSPATH" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dzookeeper.log.dir="$ZK_DATA_DIR" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$ZK_DATA_DIR/zoo.cfg" \
    </dev/null >>"$ZK_LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$ZK_PID_FILE"
  await_started zookeeper "$pid" zk_ok "$ZK_LOG" "$ZK_PID_FILE" is_zk_pid \
    "zookeeper did not answer ruok on $HOST:$ZK_PORT"
  log "zookeeper healthy (pid $pid)"
}

# ---------------------------------------------------------------- test tools
# The status page test drives Debian's Chromium with playwright-core, which downloads no
# browser of its own (LEASEHOLD_CHROMIUM points the test at another binary); the demo's
# test plays a person at a terminal through tmux.
ensure_test_tools() {
  if [ -z "${LEASEHOLD_CHROMIUM:-}" ] && ! have chromium; then apt_install chromium; fi
  if ! have tmux; then apt_install tmux; fi
  have tmux || die "tmux did not install"
}

# ---------------------------------------------------------------- fault-injection tools
# The run and chaos tests cut and stall a candidate's path to its store with nftables and a
# tc token bucket inside network namespaces (test/support/netlab.ts), and shift one
# process's wall clock with faketime.
ensure_fault_tools() {
  if ! have nft; then apt_install nftables; fi
  if ! have faketime; then apt_install faketime; fi
  if ! have tc || ! have ip; then apt_install iproute2; fi
  have nft && have faketime || die "nftables/faketime did not install"
}

# ---------------------------------------------------------------- PgBouncer
# The PostgreSQL pooler tests and the chaos suite's pgbouncer backend run private
# PgBouncers of their own (packages/testkit/src/stores/pgbouncer.ts); Debian's service is kept from
# starting.
ensure_pooler() {
  if ! have pgbouncer; then apt_install_without_starting pgbouncer; fi
  have pgbouncer || die "pgbouncer did not install"
}

# ---------------------------------------------------------------- deployment-file tools
# test/ops/ checks the Kubernetes, systemd and Prometheus files with the real tools:
# kubectl (its built-in kustomize), systemd-analyze, promtool and a Prometheus server that
# the test starts itself on 127.0.0.1 (the package's own service is kept from starting).
# The machine image ships kubectl (1.27+); Debian's kubernetes-client is the fallback.
ensure_ops_tools() {
  if ! have kubectl; then apt_install kubernetes-client; fi
  if ! have systemd-analyze; then apt_install systemd; fi
  if ! have promtool || ! have prometheus; then
    apt_install_without_starting --no-install-recommends prometheus
  fi
  have kubectl && have systemd-analyze && have promtool && have prometheus ||
    die "kubectl/systemd-analyze/promtool/prometheus missing after apt-get install"
}

# ---------------------------------------------------------------- commands
print_urls() {
  printf '%-14s%s\n' redis "redis://$HOST:$REDIS_PORT"
  printf '%-14s%s\n' redis-cluster "redis://$HOST:$REDIS_CLUSTER_PORT?cluster=true"
  printf '%-14s%s\n' postgres "postgres://$PG_USER@$HOST:$PG_PORT/$PG_DB"
  printf '%-14s%s\n' etcd "etcd://$HOST:$ETCD_PORT"
  printf '%-14s%s\n' zookeeper "zk://$HOST:$ZK_PORT"
}

status() {
  local rc=0 s
  if have redis-cli && redis_ok; then s=up; else s=down rc=1; fi
  printf '%-14s%-42s%s\n' redis "redis://$HOST:$REDIS_PORT" "$s"
  if have redis-cli && redis_cluster_ok; then s=up; else s=down rc=1; fi
  printf '%-14s%-42s%s\n' redis-cluster "redis://$HOST:$REDIS_CLUSTER_PORT?cluster=true" "$s"
  if have pg_isready && pg_ok && pg_find_user; then s=up; else s=down rc=1; fi
  printf '%-14s%-42s%s\n' postgres "postgres://${PG_USER:-postgres}@$HOST:$PG_PORT/$PG_DB" "$s"
  if have etcdctl && etcd_ok; then s=up; else s=down rc=1; fi
  printf '%-14s%-42s%s\n' etcd "etcd://$HOST:$ETCD_PORT" "$s"
  if zk_ok; then s=up; else s=down rc=1; fi
  printf '%-14s%-42s%s\n' zookeeper "zk://$HOST:$ZK_PORT" "$s"
  return "$rc"
}

[ "$(id -u)" = 0 ] || die "run as root (starts services, may apt-get install)"

case "${1:-up}" in
  up)
    ensure_redis
    ensure_redis_cluster
    ensure_postgres
    start_etcd
    start_zookeeper
    ensure_test_tools
    ensure_fault_tools
    ensure_pooler
    ensure_ops_tools
    print_urls
    ;;
  start-etcd) start_etcd ;;
  stop-etcd) stop_etcd ;;
  restart-etcd)
    stop_etcd
    start_etcd
    ;;
  status) status ;;
  -h | --help | help) sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (use: up | status | start-etcd | stop-etcd | restart-etcd)" ;;
esac
