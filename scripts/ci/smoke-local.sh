#!/usr/bin/env bash
# The smoke tests against a locally started API (CI's "smoke tests" stage): builds the app, starts the
# local services (scripts/services.sh, which writes .env.local), starts `node dist/src/main.js` on a free
# port with an application and an operator token (migrations applied at start-up), runs
# scripts/smoke-tests.sh against it, then against a port nothing listens on, where it must fail; the API is
# stopped by its own pid whatever happens. Exits non-zero if either expectation is not met.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$ROOT"
LOG_DIR="$ROOT/.local/log"

free_port() {
  node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })"
}

npm run --silent build
npm run --silent services:up
mkdir -p "$LOG_DIR"

# Throw-away tokens for this run only (never printed).
APP_TOKEN="smoke-app-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
OPERATOR_TOKEN="smoke-operator-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
export APP_TOKEN OPERATOR_TOKEN
port=$(free_port)
metrics_port=$(free_port)
api_log="$LOG_DIR/smoke-api.log"

APP_API_TOKENS="smoke:$APP_TOKEN" OPERATOR_API_TOKENS="smoke-ops:$OPERATOR_TOKEN" PORT="$port" METRICS_PORT="$metrics_port" \
  MIGRATIONS_RUN_ON_START=true LOG_LEVEL=warn node dist/src/main.js >"$api_log" 2>&1 &
api_pid=$!
stop_api() {
  if kill -0 "$api_pid" 2>/dev/null; then
    kill -TERM "$api_pid"
    for _ in $(seq 1 50); do kill -0 "$api_pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$api_pid" 2>/dev/null && kill -KILL "$api_pid"
  fi
  wait "$api_pid" 2>/dev/null || true
}
trap stop_api EXIT
echo "API started (pid $api_pid, port $port, log $api_log)"

if ! METRICS_URL="http://127.0.0.1:$metrics_port/metrics" bash scripts/smoke-tests.sh "http://127.0.0.1:$port" --public --wait 60; then
  echo "---- last lines of $api_log ----" >&2
  tail -n 40 "$api_log" >&2
  exit 1
fi

echo
dead_port=$(free_port)
echo "against a dead API (port $dead_port, nothing listening): the smoke tests must fail"
rc=0
bash scripts/smoke-tests.sh "http://127.0.0.1:$dead_port" || rc=$?
if [ "$rc" = 0 ]; then
  echo "smoke-local.sh: the smoke tests passed against a dead port" >&2
  exit 1
fi
echo "the smoke tests failed against the dead API as they should (exit $rc)"
