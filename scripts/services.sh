#!/usr/bin/env bash
# Local services for development and tests, without Docker (Debian 12):
#   PostgreSQL 15, Redis, FerretDB v1 (MongoDB-compatible, tools/ferretdb) and moto (Route 53 emulator).
#
#   bash scripts/services.sh up [svc...]  start what is not running (idempotent), write .env.local; without
#                                     names the usual four; `up redis-cluster` (also) starts a Redis Cluster
#   bash scripts/services.sh down     stop every service by its own pid, leave no process behind
#   bash scripts/services.sh status   one line per service; exit 0 if all are up, 3 otherwise
#   bash scripts/services.sh build    build .local/bin/ferretdb-embedded if missing or stale (CI uses it)
#
# Everything lives under $SERVICES_DIR (default: <repo>/.local, git-ignored):
#   data/<svc>/  run/<svc>.pid  run/<svc>.port  log/<svc>.log  bin/ferretdb-embedded
#
# Environment:
#   PG_PORT=55432 REDIS_PORT=56379 MONGO_PORT=57017 MOTO_PORT=55500   ports (127.0.0.1 only)
#   REDIS_CLUSTER_PORT=46390  the Redis Cluster's three masters listen on it and the next two ports (each node's
#                       cluster bus on its port + 10000, so at most 55533); it is
#                       not in .env.local (the service would use it by default): point a process at it with
#                       REDIS_CLUSTER_NODES=127.0.0.1:46390,127.0.0.1:46391,127.0.0.1:46392 (`cluster-nodes` prints it)
#   SERVICES_DIR        another state folder, e.g. for a second, independent set of services
#   SERVICES_ENV_FILE   where `up` writes the connection settings (default: <repo>/.env.local)
#   PG_FAST=1           start PostgreSQL with fsync/synchronous_commit/full_page_writes off: faster, NOT
#                       crash-safe (a machine crash can corrupt the local database). Default is durable.
#   PG_BIN              PostgreSQL server binaries (default: /usr/lib/postgresql/15/bin)
#   PG_MAX_CONNECTIONS  default 200 (tests open several pools at once)
#   FERRETDB_BIN        the FerretDB binary to run (built there when missing or older than tools/ferretdb),
#                       e.g. <repo>/.local/bin/ferretdb-embedded so that a second set shares it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
SERVICES_DIR="${SERVICES_DIR:-$ROOT/.local}"
mkdir -p "$SERVICES_DIR"
SERVICES_DIR="$(cd "$SERVICES_DIR" && pwd -P)"
DATA_DIR="$SERVICES_DIR/data"
RUN_DIR="$SERVICES_DIR/run"
LOG_DIR="$SERVICES_DIR/log"
BIN_DIR="$SERVICES_DIR/bin"
ENV_FILE="${SERVICES_ENV_FILE:-$ROOT/.env.local}"

PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
MONGO_PORT="${MONGO_PORT:-57017}"
MOTO_PORT="${MOTO_PORT:-55500}"
REDIS_CLUSTER_PORT="${REDIS_CLUSTER_PORT:-46390}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_MAX_CONNECTIONS="${PG_MAX_CONNECTIONS:-200}"
PG_FAST="${PG_FAST:-0}"

FERRET_SRC="$ROOT/tools/ferretdb"
FERRET_BIN="${FERRETDB_BIN:-$BIN_DIR/ferretdb-embedded}"
[[ $FERRET_BIN == /* ]] || FERRET_BIN="$PWD/$FERRET_BIN"

SERVICES=(postgres redis ferretdb moto)
# Started only when named (`up redis-cluster`); `down` and `status` cover it too.
OPTIONAL_SERVICES=(redis-cluster)

# ---------------------------------------------------------------------------------------------- helpers

say() { printf '%-9s %s\n' "$1" "$2"; }
warn() { printf '%-9s %s\n' "$1" "$2" >&2; }
die() { echo "services.sh: $*" >&2; exit 1; }

for p in PG_PORT REDIS_PORT MONGO_PORT MOTO_PORT REDIS_CLUSTER_PORT; do
  [[ ${!p} =~ ^[0-9]+$ ]] && ((${!p} > 0 && ${!p} < 65536)) || die "$p=${!p} is not a TCP port"
done
((REDIS_CLUSTER_PORT <= 55533)) || die "REDIS_CLUSTER_PORT=$REDIS_CLUSTER_PORT: a cluster node's bus port is its port + 10000, so at most 55533"

log_tail() { # svc logfile
  [ -s "$2" ] || { echo "  (log $2 is empty)" >&2; return 0; }
  echo "---- last lines of $2 ----" >&2
  tail -n 30 "$2" >&2
  echo "----" >&2
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port_owner() { # best effort, for error messages
  command -v ss >/dev/null 2>&1 || return 0
  ss -H -ltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))$/\1/p' | head -n1
}

# A pid counts as ours only if it is alive, its command line contains $2 and its working directory is $3
# (every service runs with its data directory as cwd). A pid file whose pid was reused by an unrelated
# process therefore reads as stale. Zombies have an empty cmdline and read as dead.
proc_matches() { # pid pattern cwd
  local pid=$1 pat=$2 want=$3 cmd cwd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *"$pat"* ]] || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [ "$cwd" = "$want" ]
}

# Sets PID and STATE (running | stale | none) from a pid file.
read_pidfile() { # pidfile pattern cwd
  PID="" STATE=none
  [ -e "$1" ] || return 0
  PID=$(head -n1 "$1" 2>/dev/null | tr -dc '0-9' || true)
  if proc_matches "$PID" "$2" "$3"; then STATE=running; else STATE=stale; fi
}

is_zombie() { [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

stale_reason() { # pid
  if [ -z "$1" ]; then echo "empty pid file"
  elif [ -d "/proc/$1" ] && ! is_zombie "$1"; then echo "pid $1 now belongs to another process: $(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | cut -c1-60 | sed "s/ *$//")"
  else echo "pid $1 is not running"; fi
}

wait_gone() { # pid seconds -> 0 if gone
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [ -d "/proc/$1" ] || return 0
    # a zombie is as good as gone (its parent, not us, reaps it)
    is_zombie "$1" && return 0
    sleep 0.1
  done
  return 1
}

stop_pid() { # svc pid [signal]
  local svc=$1 pid=$2 sig=${3:-TERM}
  kill -"$sig" "$pid" 2>/dev/null || return 0
  if ! wait_gone "$pid" 20; then
    warn "$svc" "pid $pid did not exit after SIG$sig within 20 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || warn "$svc" "pid $pid still exists after SIGKILL"
  fi
}

# Start "$@" in the background in its own session with cwd $2, stdin closed, output to $3, and the pid
# (the same process after exec) written to $1. fd 9 (the services lock) is not inherited.
spawn() { # pidfile cwd logfile cmd...
  local pidfile=$1 cwd=$2 log=$3
  shift 3
  (
    cd "$cwd"
    exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$log" 2>&1 9>&-
  ) &
}

record_port() { echo "$2" >"$RUN_DIR/$1.port"; }
recorded_port() { cat "$RUN_DIR/$1.port" 2>/dev/null || echo "?"; }

# Refuse to leave a running service on another port than the one asked for: .env.local would lie.
check_port_matches() { # svc requested
  local have
  have=$(recorded_port "$1")
  if [ "$have" != "?" ] && [ "$have" != "$2" ]; then
    warn "$1" "is running on port $have but port $2 was requested; run 'npm run services:down' first"
    return 1
  fi
}

check_port_free() { # svc port envvar
  if port_open "$2"; then
    local who
    who=$(port_owner "$2")
    warn "$1" "cannot start: 127.0.0.1:$2 is already used by another program${who:+ ($who)}; set $3 to another port"
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------- postgres

AS_ROOT=0
[ "$(id -u)" = 0 ] && AS_ROOT=1

pg_as() { # run a PostgreSQL tool as the cluster owner (initdb refuses root)
  if ((AS_ROOT)); then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_paths() {
  PG_DATA="$DATA_DIR/postgres"
  PG_SOCK="$RUN_DIR/postgres-socket"
  if ((AS_ROOT)); then
    id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist: apt-get install postgresql-15"
    # The postgres user must be able to reach its folders; a clone under /root (mode 700) is not reachable.
    # Then the cluster lives in the postgres user's home and .local/data/postgres is a symlink to it.
    if ! (cd / && runuser -u postgres -- test -x "$SERVICES_DIR") 2>/dev/null; then
      local home key
      home=$(getent passwd postgres | cut -d: -f6)
      key=$(printf '%s' "$SERVICES_DIR" | md5sum | cut -c1-10)
      PG_DATA="$home/local-services-$key/data"
      PG_SOCK="$home/local-services-$key/socket"
      PG_ELSEWHERE=1
    fi
  fi
  # Unix socket paths are limited to 107 bytes.
  if ((${#PG_SOCK} + 16 > 100)); then
    PG_SOCK="/tmp/.local-services-pg-$(printf '%s' "$SERVICES_DIR" | md5sum | cut -c1-10)"
  fi
}

PG_ELSEWHERE=0
pg_state() {
  pg_paths
  # postmaster.pid is the authoritative pid file; run/postgres.pid is a copy for humans and scripts.
  read_pidfile "$PG_DATA/postmaster.pid" "$PG_BIN/postgres" "$PG_DATA"
}

# Backends of a crashed (SIGKILLed) postmaster can live on for a moment; starting a new postmaster while they
# still hold the old shared memory would be unsafe, so wait for them, then end them by pid.
pg_orphans() {
  local p cmd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$PG_DATA" ] || continue
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
    [[ $cmd == postgres* || $cmd == "$PG_BIN/postgres"* ]] && echo "$p"
  done
  return 0
}

pg_reap_orphans() {
  local i pids
  for ((i = 0; i < 100; i++)); do
    pids=$(pg_orphans)
    [ -z "$pids" ] && return 0
    sleep 0.1
  done
  warn postgres "ending leftover server processes of the crashed server: $(echo $pids)"
  for p in $pids; do stop_pid postgres "$p"; done
}

# The server is gone and so are its backends: remove its lock files. PostgreSQL would do it itself if the old
# pid were simply dead, but refuses when that pid now belongs to another process (or to an unreaped zombie).
pg_remove_stale() {
  pg_reap_orphans
  rm -f "$PG_DATA/postmaster.pid" "$PG_SOCK"/.s.PGSQL.*
}

pg_psql() { # sql...
  pg_as "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres -tA "$@"
}

pg_ensure_db() { # psql output goes to $1
  local log=$1
  pg_psql -c "DO \$\$BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'migrator') THEN
        CREATE ROLE migrator LOGIN SUPERUSER PASSWORD 'migrator';
      END IF;
    END\$\$;" >>"$log" 2>&1 || return 1
  if [ "$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = 'migration'" 2>>"$log")" != 1 ]; then
    pg_psql -c "CREATE DATABASE migration OWNER migrator" >>"$log" 2>&1 || return 1
    say postgres "created database migration (role migrator, password migrator)"
  fi
}

postgres_up() {
  local log="$LOG_DIR/postgres.log"
  [ -x "$PG_BIN/postgres" ] || { warn postgres "no PostgreSQL 15 in $PG_BIN: apt-get install postgresql-15"; return 1; }
  pg_state
  if [ "$STATE" = running ]; then
    check_port_matches postgres "$PG_PORT" || return 1
    echo "$PID" >"$RUN_DIR/postgres.pid"
    pg_ensure_db "$log" || { warn postgres "running but role/database setup failed"; log_tail postgres "$log"; return 1; }
    say postgres "already running (pid $PID, port $PG_PORT)"
    return 0
  fi
  if [ "$STATE" = stale ]; then
    pg_remove_stale
    say postgres "stale pid file removed ($(stale_reason "$PID"))"
  else
    pg_remove_stale
  fi
  rm -f "$RUN_DIR/postgres.pid" "$RUN_DIR/postgres.port"
  check_port_free postgres "$PG_PORT" PG_PORT || return 1

  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    mkdir -p "$PG_DATA"
    if ((AS_ROOT)); then chown postgres:postgres "$PG_DATA"; fi
    if ((PG_ELSEWHERE)); then
      chown postgres:postgres "$(dirname "$PG_DATA")"
      ln -sfn "$PG_DATA" "$DATA_DIR/postgres"
      say postgres "data in $PG_DATA (the postgres user cannot reach $SERVICES_DIR)"
    fi
    chmod 700 "$PG_DATA"
    say postgres "initdb $PG_DATA"
    if ! pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >>"$log" 2>&1 9>&-; then
      warn postgres "initdb failed"
      log_tail postgres "$log"
      return 1
    fi
  fi
  mkdir -p "$PG_SOCK"
  if ((AS_ROOT)); then chown postgres:postgres "$PG_SOCK"; fi

  local opts="-p $PG_PORT -k $PG_SOCK -c listen_addresses=127.0.0.1 -c max_connections=$PG_MAX_CONNECTIONS"
  if [ "$PG_FAST" = 1 ]; then
    opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  # No -l: the server inherits this log file descriptor, opened here, so the postgres user needs no
  # write access to $LOG_DIR.
  if ! pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -o "$opts" -w -t 60 start >>"$log" 2>&1 </dev/null 9>&-; then
    warn postgres "failed to start"
    log_tail postgres "$log"
    return 1
  fi
  pg_state
  [ "$STATE" = running ] || { warn postgres "pg_ctl reported success but no server is running"; log_tail postgres "$log"; return 1; }
  echo "$PID" >"$RUN_DIR/postgres.pid"
  record_port postgres "$PG_PORT"
  pg_ensure_db "$log" || { warn postgres "role/database setup failed"; log_tail postgres "$log"; return 1; }
  say postgres "started (pid $PID, port $PG_PORT$([ "$PG_FAST" = 1 ] && echo ', PG_FAST: fsync off'))"
}

postgres_down() {
  pg_state
  case $STATE in
    running)
      if ! pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >>"$LOG_DIR/postgres.log" 2>&1 </dev/null 9>&-; then
        warn postgres "fast shutdown failed; trying immediate"
        pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >>"$LOG_DIR/postgres.log" 2>&1 </dev/null 9>&- ||
          stop_pid postgres "$PID" KILL
      fi
      wait_gone "$PID" 10 || true
      pg_reap_orphans
      say postgres "stopped (pid $PID)"
      ;;
    stale)
      pg_remove_stale
      say postgres "not running; stale pid file removed ($(stale_reason "$PID"))"
      ;;
    none) say postgres "not running" ;;
  esac
  rm -f "$RUN_DIR/postgres.pid" "$RUN_DIR/postgres.port"
}

postgres_status() {
  pg_state
  status_line postgres
}

# ---------------------------------------------------------------------------------------------- redis

redis_state() { read_pidfile "$RUN_DIR/redis.pid" redis-server "$DATA_DIR/redis"; }

redis_ping() { # port -> 0 if PONG
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [[ $line == +PONG* ]]
  ) 2>/dev/null
}

ensure_redis_installed() {
  command -v redis-server >/dev/null 2>&1 && return 0
  if ((AS_ROOT)) && command -v apt-get >/dev/null 2>&1; then
    say redis "redis-server is missing; installing the Debian package redis-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends redis-server >/dev/null; } ||
      { warn redis "apt-get install redis-server failed"; return 1; }
  else
    warn redis "redis-server is missing: sudo apt-get install redis-server"
    return 1
  fi
}

redis_up() {
  local log="$LOG_DIR/redis.log" pidfile="$RUN_DIR/redis.pid" i
  redis_state
  if [ "$STATE" = running ]; then
    check_port_matches redis "$REDIS_PORT" || return 1
    say redis "already running (pid $PID, port $REDIS_PORT)"
    return 0
  fi
  if [ "$STATE" = stale ]; then
    rm -f "$pidfile"
    say redis "stale pid file removed ($(stale_reason "$PID"))"
  fi
  rm -f "$RUN_DIR/redis.port"
  ensure_redis_installed || return 1
  check_port_free redis "$REDIS_PORT" REDIS_PORT || return 1
  mkdir -p "$DATA_DIR/redis"
  if ! redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$pidfile" --logfile "$log" --dir "$DATA_DIR/redis" </dev/null >>"$log" 2>&1 9>&-; then
    warn redis "failed to start"
    log_tail redis "$log"
    return 1
  fi
  for ((i = 0; i < 100; i++)); do
    redis_state
    if [ "$STATE" = running ] && redis_ping "$REDIS_PORT"; then
      record_port redis "$REDIS_PORT"
      say redis "started (pid $PID, port $REDIS_PORT)"
      return 0
    fi
    sleep 0.1
  done
  warn redis "did not answer PING on port $REDIS_PORT within 10 s"
  log_tail redis "$log"
  [ "$STATE" = running ] && stop_pid redis "$PID"
  return 1
}

redis_down() { simple_down redis; }
redis_status() { redis_state; status_line redis; }

# ---------------------------------------------------------------------------------------------- redis cluster
# Three masters (no replicas) on REDIS_CLUSTER_PORT and the next two ports, from Debian's redis-server, the slots
# split by `redis-cli --cluster create`. No persistence, like the single Redis; `down` removes the cluster's state
# so the next `up` forms a fresh one. Each node is a service of its own for the pid bookkeeping.

cluster_ports() { echo "$REDIS_CLUSTER_PORT" $((REDIS_CLUSTER_PORT + 1)) $((REDIS_CLUSTER_PORT + 2)); }
cluster_nodes() { local p out=""; for p in $(cluster_ports); do out="${out:+$out,}127.0.0.1:$p"; done; echo "$out"; }
cluster_node_state() { read_pidfile "$RUN_DIR/redis-cluster-$1.pid" redis-server "$DATA_DIR/redis-cluster/$1"; }
cluster_ok() { [ "$(redis-cli -p "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p')" = ok ]; }

cluster_nodes_running() {
  local p
  for p in $(cluster_ports); do cluster_node_state "$p"; [ "$STATE" = running ] || return 1; done
}
cluster_ok_everywhere() {
  local p
  for p in $(cluster_ports); do cluster_ok "$p" || return 1; done
}

cluster_node_up() { # port
  local port=$1 dir="$DATA_DIR/redis-cluster/$1" log="$LOG_DIR/redis-cluster-$1.log" pidfile="$RUN_DIR/redis-cluster-$1.pid" i
  cluster_node_state "$port"
  [ "$STATE" = running ] && return 0
  [ "$STATE" = stale ] && rm -f "$pidfile"
  check_port_free redis-cluster "$port" REDIS_CLUSTER_PORT || return 1
  check_port_free redis-cluster $((port + 10000)) "REDIS_CLUSTER_PORT (its bus port + 10000)" || return 1
  mkdir -p "$dir"
  if ! redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
    --pidfile "$pidfile" --logfile "$log" --dir "$dir" </dev/null >>"$log" 2>&1 9>&-; then
    warn redis-cluster "node on port $port failed to start"
    log_tail redis-cluster "$log"
    return 1
  fi
  for ((i = 0; i < 100; i++)); do
    cluster_node_state "$port"
    [ "$STATE" = running ] && redis_ping "$port" && return 0
    sleep 0.1
  done
  warn redis-cluster "node on port $port did not answer PING within 10 s"
  log_tail redis-cluster "$log"
  return 1
}

redis_cluster_up() {
  local p i log="$LOG_DIR/redis-cluster.log"
  ensure_redis_installed || return 1
  if cluster_ok "$REDIS_CLUSTER_PORT" && cluster_nodes_running; then
    say redis-cluster "already running (ports $(cluster_ports | tr ' ' ','))"
    return 0
  fi
  for p in $(cluster_ports); do cluster_node_up "$p" || return 1; done
  if ! cluster_ok "$REDIS_CLUSTER_PORT"; then
    # Nodes that remember another cluster (a run interrupted before `down`) start over.
    for p in $(cluster_ports); do redis-cli -p "$p" flushall >/dev/null 2>&1 || true; redis-cli -p "$p" cluster reset hard >/dev/null 2>&1 || true; done
    local addrs=()
    for p in $(cluster_ports); do addrs+=("127.0.0.1:$p"); done
    if ! redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes </dev/null >>"$log" 2>&1; then
      warn redis-cluster "redis-cli --cluster create failed"
      log_tail redis-cluster "$log"
      return 1
    fi
  fi
  for ((i = 0; i < 100; i++)); do
    if cluster_ok_everywhere; then
      say redis-cluster "started (3 masters, ports $(cluster_ports | tr ' ' ',')): REDIS_CLUSTER_NODES=$(cluster_nodes)"
      return 0
    fi
    sleep 0.1
  done
  warn redis-cluster "the cluster did not reach cluster_state:ok within 10 s"
  return 1
}

redis_cluster_down() {
  local p any=0
  for p in $(cluster_ports); do
    cluster_node_state "$p"
    case $STATE in
      running) stop_pid redis-cluster "$PID"; any=1 ;;
    esac
    rm -f "$RUN_DIR/redis-cluster-$p.pid"
  done
  rm -rf "$DATA_DIR/redis-cluster"
  if ((any)); then say redis-cluster "stopped"; else say redis-cluster "not running"; fi
}

redis_cluster_status() {
  local p up=0
  for p in $(cluster_ports); do cluster_node_state "$p"; [ "$STATE" = running ] && up=$((up + 1)); done
  if ((up == 3)) && cluster_ok "$REDIS_CLUSTER_PORT"; then printf '%-9s up    3 masters, ports %s\n' redis-cluster "$(cluster_ports | tr ' ' ',')"
  elif ((up > 0)); then printf '%-9s down  (%d of 3 nodes running, cluster not ok)\n' redis-cluster "$up"; ANY_DOWN=1
  else printf '%-9s not started (optional: up redis-cluster)\n' redis-cluster; fi
}

# ---------------------------------------------------------------------------------------------- ferretdb

ferretdb_state() { read_pidfile "$RUN_DIR/ferretdb.pid" "$FERRET_BIN" "$DATA_DIR/ferretdb"; }

ferretdb_stale_binary() {
  [ ! -x "$FERRET_BIN" ] && return 0
  local f
  for f in "$FERRET_SRC"/main.go "$FERRET_SRC"/go.mod "$FERRET_SRC"/go.sum "$FERRET_SRC"/patches/*.patch; do
    [ "$f" -nt "$FERRET_BIN" ] && return 0
  done
  return 1
}

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go
  else return 1; fi
}

build_ferretdb() {
  ferretdb_stale_binary || return 0
  local go
  go=$(find_go) || { warn ferretdb "Go (>= 1.24) is needed to build tools/ferretdb; see https://go.dev/doc/install"; return 1; }
  mkdir -p "$(dirname "$FERRET_BIN")"
  say ferretdb "building $FERRET_BIN with $("$go" env GOVERSION) (about a minute the first time)"
  # Pure Go (modernc SQLite): no C compiler needed. Build to a temporary name, then rename, so a running
  # server keeps its binary and an interrupted build leaves no half-written file.
  local build="$SERVICES_DIR/build/ferretdb"
  if ! patched_ferretdb_module "$go" "$build"; then
    warn ferretdb "could not prepare the patched FerretDB module in $build"
    return 1
  fi
  if ! (cd "$FERRET_SRC" && CGO_ENABLED=0 "$go" build -modfile="$build/go.mod" -o "$FERRET_BIN.tmp.$$" . 9>&-); then
    rm -f "$FERRET_BIN.tmp.$$"
    warn ferretdb "go build failed"
    return 1
  fi
  mv -f "$FERRET_BIN.tmp.$$" "$FERRET_BIN"
}

# The FerretDB module from the Go proxy with tools/ferretdb/patches/*.patch applied, and a go.mod that
# points the build at it (`go build -modfile`): tools/ferretdb stays a plain module that builds unpatched.
patched_ferretdb_module() { # go build-dir
  local go="$1" build="$2" mod dir p
  mod=$(sed -n 's/^require github.com\/FerretDB\/FerretDB \(v[^ ]*\).*/\1/p' "$FERRET_SRC/go.mod")
  [ -n "$mod" ] || return 1
  dir=$(cd "$FERRET_SRC" && "$go" mod download -json "github.com/FerretDB/FerretDB@$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || return 1
  rm -rf "$build" && mkdir -p "$build"
  cp -R "$dir" "$build/FerretDB" && chmod -R u+w "$build/FerretDB" || return 1
  for p in "$FERRET_SRC"/patches/*.patch; do
    [ -e "$p" ] || continue
    patch -s -p1 -d "$build/FerretDB" <"$p" || return 1
  done
  { cat "$FERRET_SRC/go.mod"; echo; echo "replace github.com/FerretDB/FerretDB => $build/FerretDB"; } >"$build/go.mod"
  cp "$FERRET_SRC/go.sum" "$build/go.sum"
}

mongo_ping() { # port; uses the mongodb driver from node_modules when there is one, else a TCP check
  if command -v node >/dev/null 2>&1 && [ -d "$ROOT/node_modules/mongodb" ]; then
    (cd "$ROOT" && timeout 10 node -e '
      const { MongoClient } = require("mongodb");
      const c = new MongoClient("mongodb://127.0.0.1:" + process.argv[1] + "/?directConnection=true",
        { serverSelectionTimeoutMS: 2000 });
      c.db("admin").command({ ping: 1 })
        .then((r) => c.close().then(() => process.exit(r.ok === 1 ? 0 : 1)))
        .catch(() => process.exit(1));' "$1") >/dev/null 2>&1
  else
    port_open "$1"
  fi
}

ferretdb_up() {
  local log="$LOG_DIR/ferretdb.log" pidfile="$RUN_DIR/ferretdb.pid" i
  ferretdb_state
  if [ "$STATE" = running ]; then
    check_port_matches ferretdb "$MONGO_PORT" || return 1
    local note=""
    if [[ $(readlink "/proc/$PID/exe" 2>/dev/null) == *"(deleted)" ]] || ferretdb_stale_binary; then
      note="; tools/ferretdb changed since it started: services:down, then services:up, restarts it"
    fi
    say ferretdb "already running (pid $PID, port $MONGO_PORT$note)"
    return 0
  fi
  if [ "$STATE" = stale ]; then
    rm -f "$pidfile"
    say ferretdb "stale pid file removed ($(stale_reason "$PID"))"
  fi
  rm -f "$RUN_DIR/ferretdb.port"
  build_ferretdb || return 1
  check_port_free ferretdb "$MONGO_PORT" MONGO_PORT || return 1
  mkdir -p "$DATA_DIR/ferretdb"
  spawn "$pidfile" "$DATA_DIR/ferretdb" "$log" \
    "$FERRET_BIN" -listen "127.0.0.1:$MONGO_PORT" -data "$DATA_DIR/ferretdb"
  for ((i = 0; i < 300; i++)); do
    sleep 0.1
    ferretdb_state
    if [ "$STATE" != running ]; then
      # give the wrapper a moment to write the pid file, then treat absence as a crash
      ((i < 10)) && continue
      break
    fi
    if port_open "$MONGO_PORT" && mongo_ping "$MONGO_PORT"; then
      record_port ferretdb "$MONGO_PORT"
      say ferretdb "started (pid $PID, port $MONGO_PORT)"
      return 0
    fi
  done
  warn ferretdb "did not come up on port $MONGO_PORT"
  log_tail ferretdb "$log"
  [ "$STATE" = running ] && stop_pid ferretdb "$PID"
  rm -f "$pidfile"
  return 1
}

ferretdb_down() { simple_down ferretdb; }
ferretdb_status() { ferretdb_state; status_line ferretdb; }

# ---------------------------------------------------------------------------------------------- moto

# moto_server itself, through scripts/lib/moto-server.py: that wrapper makes Route 53's exact-match rules for DELETE
# and CREATE hold in moto (the traffic router's fence relies on them).
MOTO_WRAPPER="$ROOT/scripts/lib/moto-server.py"
moto_state() { read_pidfile "$RUN_DIR/moto.pid" moto-server.py "$DATA_DIR/moto"; }

# The Python that has moto: python3, else the one moto_server's own first line names.
moto_python() {
  local py
  for py in python3 "$(sed -n '1s/^#! *//p' "$(command -v moto_server)" 2>/dev/null)"; do
    [ -n "$py" ] && "$py" -c 'import moto.server' 2>/dev/null && { echo "$py"; return 0; }
  done
  warn moto "no Python that imports moto.server"
  return 1
}

http_ok() { # port -> 0 if an HTTP server answers
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 3 line <&3 || exit 1
    [[ $line == HTTP/1.* ]]
  ) 2>/dev/null
}

ensure_moto_installed() {
  command -v moto_server >/dev/null 2>&1 && return 0
  say moto "moto_server is missing; pip install 'moto[server]'"
  python3 -m pip install -q 'moto[server]' >/dev/null 2>&1 || { warn moto "pip install 'moto[server]' failed"; return 1; }
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
  hash -r
  command -v moto_server >/dev/null 2>&1 || { warn moto "moto_server still not on PATH after pip install"; return 1; }
}

moto_up() {
  local log="$LOG_DIR/moto.log" pidfile="$RUN_DIR/moto.pid" i
  moto_state
  if [ "$STATE" = running ]; then
    check_port_matches moto "$MOTO_PORT" || return 1
    say moto "already running (pid $PID, port $MOTO_PORT)"
    return 0
  fi
  if [ "$STATE" = stale ]; then
    rm -f "$pidfile"
    say moto "stale pid file removed ($(stale_reason "$PID"))"
  fi
  rm -f "$RUN_DIR/moto.port"
  ensure_moto_installed || return 1
  check_port_free moto "$MOTO_PORT" MOTO_PORT || return 1
  mkdir -p "$DATA_DIR/moto"
  local python
  python=$(moto_python) || return 1
  spawn "$pidfile" "$DATA_DIR/moto" "$log" "$python" "$MOTO_WRAPPER" -H 127.0.0.1 -p "$MOTO_PORT"
  for ((i = 0; i < 300; i++)); do
    sleep 0.1
    moto_state
    if [ "$STATE" != running ]; then
      ((i < 20)) && continue # the pyenv shim takes a moment before it execs python
      break
    fi
    if http_ok "$MOTO_PORT"; then
      record_port moto "$MOTO_PORT"
      say moto "started (pid $PID, port $MOTO_PORT)"
      return 0
    fi
  done
  warn moto "did not answer HTTP on port $MOTO_PORT"
  log_tail moto "$log"
  [ "$STATE" = running ] && stop_pid moto "$PID"
  rm -f "$pidfile"
  return 1
}

moto_down() { simple_down moto; }
moto_status() { moto_state; status_line moto; }

# ---------------------------------------------------------------------------------------------- commands

simple_down() { # svc (uses <svc>_state)
  local svc=$1
  "${svc}_state"
  case $STATE in
    running)
      stop_pid "$svc" "$PID"
      say "$svc" "stopped (pid $PID)"
      ;;
    stale) say "$svc" "not running; stale pid file removed ($(stale_reason "$PID"))" ;;
    none) say "$svc" "not running" ;;
  esac
  rm -f "$RUN_DIR/$svc.pid" "$RUN_DIR/$svc.port"
}

ANY_DOWN=0
status_line() { # svc (after <svc>_state)
  case $STATE in
    running) printf '%-9s up    pid %-7s port %s\n' "$1" "$PID" "$(recorded_port "$1")" ;;
    stale) printf '%-9s down  (stale pid file: %s)\n' "$1" "$(stale_reason "$PID")"; ANY_DOWN=1 ;;
    none) printf '%-9s down\n' "$1"; ANY_DOWN=1 ;;
  esac
}

write_env_file() {
  local header="# written by scripts/services.sh (npm run services:up); other lines are kept" pairs tmp
  pairs="DATABASE_URL=postgres://migrator:migrator@127.0.0.1:$PG_PORT/migration
LEGACY_MONGO_URL=mongodb://127.0.0.1:$MONGO_PORT/legacy
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
AWS_REGION=us-east-1"
  tmp=$(mktemp "$ENV_FILE.XXXXXX")
  if [ -e "$ENV_FILE" ]; then
    # Replace our keys where they are (first occurrence; drop repeats), keep every other line, append the rest.
    awk -v pairs="$pairs" -v header="$header" '
      BEGIN {
        n = split(pairs, lines, "\n")
        for (i = 1; i <= n; i++) { k = substr(lines[i], 1, index(lines[i], "=") - 1); val[k] = lines[i]; order[i] = k }
      }
      {
        line = $0
        sub(/^[ \t]*(export[ \t]+)?/, "", line)
        k = line; sub(/[ \t]*=.*$/, "", k)
        if (line ~ /^[A-Za-z_][A-Za-z0-9_]*[ \t]*=/ && (k in val)) {
          if (!(k in done)) { print val[k]; done[k] = 1 }
          next
        }
        print
        if ($0 == header) seen = 1
      }
      END {
        first = 1
        for (i = 1; i <= n; i++) if (!(order[i] in done)) {
          if (first && !seen) { if (NR > 0) print ""; print header }
          first = 0
          print val[order[i]]
        }
      }' "$ENV_FILE" >"$tmp"
  else
    printf '%s\n%s\n' "$header" "$pairs" >"$tmp"
  fi
  if [ -e "$ENV_FILE" ] && cmp -s "$tmp" "$ENV_FILE"; then
    rm -f "$tmp"
    echo "connection settings in $ENV_FILE are up to date"
  else
    if [ -e "$ENV_FILE" ]; then chmod --reference="$ENV_FILE" "$tmp"; else chmod 644 "$tmp"; fi
    mv -f "$tmp" "$ENV_FILE"
    echo "wrote connection settings to $ENV_FILE"
  fi
}

lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/services.lock"
  flock -w 300 9 || die "another services.sh is still running (lock $RUN_DIR/services.lock)"
}

# Processes of ours that no pid file accounts for (e.g. after someone deleted .local/run): anything running
# one of our programs with its working directory inside $DATA_DIR.
leftovers() {
  local p cwd cmd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] && continue
    cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || continue
    [[ $cwd == "$DATA_DIR"/* || ($PG_ELSEWHERE == 1 && $cwd == "$PG_DATA") ]] || continue
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
    [[ $cmd == *"$FERRET_BIN"* || $cmd == *moto_server* || $cmd == *redis-server* || $cmd == postgres* || $cmd == "$PG_BIN/postgres"* ]] &&
      echo "$p"
  done
  return 0
}

cmd_up() {
  lock
  mkdir -p "$DATA_DIR" "$LOG_DIR" "$BIN_DIR"
  local failed=() svc wanted=("$@")
  ((${#wanted[@]})) || wanted=("${SERVICES[@]}")
  for svc in "${wanted[@]}"; do
    [[ " ${SERVICES[*]} ${OPTIONAL_SERVICES[*]} " == *" $svc "* ]] || die "unknown service $svc (known: ${SERVICES[*]} ${OPTIONAL_SERVICES[*]})"
  done
  for svc in "${wanted[@]}"; do
    "${svc//-/_}_up" || failed+=("$svc")
  done
  if ((${#failed[@]})); then
    echo "services.sh: failed to start: ${failed[*]} (logs in $LOG_DIR)" >&2
    exit 1
  fi
  write_env_file
}

cmd_down() {
  lock
  local svc p rest
  for svc in redis-cluster moto ferretdb redis postgres; do "${svc//-/_}_down"; done
  pg_paths
  rest=$(leftovers)
  if [ -n "$rest" ]; then
    warn services "stopping processes of ours without a pid file: $(echo $rest)"
    for p in $rest; do stop_pid services "$p"; done
  fi
}

cmd_status() {
  local svc
  for svc in "${SERVICES[@]}"; do "${svc}_status"; done
  redis_cluster_status
  ((ANY_DOWN)) && exit 3
  exit 0
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  build) lock; build_ferretdb ;;
  cluster-nodes) cluster_nodes ;;
  *) echo "usage: bash scripts/services.sh up [svc...]|down|status|build|cluster-nodes" >&2; exit 2 ;;
esac
