#!/usr/bin/env bash
# Smoke tests of a running API, after a deployment or a rollout:
#
#   APP_TOKEN=... OPERATOR_TOKEN=... scripts/smoke-tests.sh BASE_URL [--wait SECONDS] [--public]
#
# Checks, in order, stopping at the first failure: liveness and readiness; with the application token, a
# conversation created, read, appended to, deleted, and gone afterwards; with the operator token, the
# migration status; the metrics (METRICS_URL, default BASE_URL/metrics) with the HTTP series of the
# requests just made. --public: BASE_URL is the address users reach (the load balancer), where /metrics
# must not be served (404: the metrics listener has no route); the series are then checked only when
# METRICS_URL names a metrics listener. Each check prints one line; the exit status is 0 when all pass, 1 at
# the first failure (its line says what was expected and what came back), 2 for a usage error. --wait polls
# /health/ready for that long before the checks (a fresh rollout). Tokens never appear in the output or in
# curl's command line (they go through a header file). Needs curl and jq.
set -euo pipefail

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

BASE_URL="${1:-}"
[ -n "$BASE_URL" ] || usage
[ $# -gt 0 ] && shift
WAIT_SECONDS=0
PUBLIC=0
while [ $# -gt 0 ]; do
  case "$1" in
    --wait) WAIT_SECONDS="${2:-}"; shift ;;
    --public) PUBLIC=1 ;;
    -h | --help) usage ;;
    *) echo "smoke-tests.sh: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done
[[ $BASE_URL =~ ^https?://[^[:space:]]+$ ]] || { echo "smoke-tests.sh: BASE_URL must be an http(s) URL, got '$BASE_URL'" >&2; exit 2; }
[[ $WAIT_SECONDS =~ ^[0-9]+$ ]] || { echo "smoke-tests.sh: --wait takes whole seconds, got '$WAIT_SECONDS'" >&2; exit 2; }
BASE_URL="${BASE_URL%/}"
METRICS_URL="${METRICS_URL:-}"
[ -z "$METRICS_URL" ] || [[ $METRICS_URL =~ ^https?://[^[:space:]]+$ ]] || { echo "smoke-tests.sh: METRICS_URL must be an http(s) URL, got '$METRICS_URL'" >&2; exit 2; }
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "smoke-tests.sh: $tool is required" >&2; exit 2; }
done
for token in APP_TOKEN OPERATOR_TOKEN; do
  [ -n "${!token:-}" ] || { echo "smoke-tests.sh: $token is not set (an application and an operator token of this deployment)" >&2; exit 2; }
done

WORK=$(mktemp -d)
conversation_id=""
cleanup() {
  # A conversation left behind by a failed run is deleted (best effort).
  if [ -n "$conversation_id" ]; then call app DELETE "/conversations/$conversation_id" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
umask 077
printf 'Authorization: Bearer %s\n' "$APP_TOKEN" >"$WORK/app.header"
printf 'Authorization: Bearer %s\n' "$OPERATOR_TOKEN" >"$WORK/operator.header"
: >"$WORK/none.header"

CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); printf 'ok    %s\n' "$1"; }
fail() {
  printf 'FAIL  %s\n' "$1" >&2
  [ -z "${2:-}" ] || printf '      %s\n' "$2" >&2
  echo "smoke tests FAILED against $BASE_URL after $CHECKS passing check(s)" >&2
  exit 1
}

# call WHO METHOD PATH [JSON]: the body goes to $WORK/body, the status to stdout ("000": no answer).
call() {
  local who=$1 method=$2 path=$3 data=${4:-} status
  local args=(--silent --show-error --max-time 10 --connect-timeout 5 -o "$WORK/body" -w '%{http_code}' -X "$method" -H "@$WORK/$who.header")
  [ -z "$data" ] || args+=(-H 'Content-Type: application/json' --data "$data")
  : >"$WORK/body"
  status=$(curl "${args[@]}" "$BASE_URL$path" 2>"$WORK/curl.err") || true
  echo "${status:-000}"
}

body_excerpt() { head -c 300 "$WORK/body" 2>/dev/null | tr '\n' ' '; }

# expect NAME WANT_STATUS WHO METHOD PATH [JSON]
expect() {
  local name=$1 want=$2 status
  shift 2
  status=$(call "$@")
  [ "$status" != 000 ] || fail "$name" "expected HTTP $want, got no answer: $(tr '\n' ' ' <"$WORK/curl.err")"
  [ "$status" = "$want" ] || fail "$name" "expected HTTP $want, got HTTP $status: $(body_excerpt)"
}

# jq_check NAME FILTER MESSAGE: the filter must be true of the last body.
jq_check() {
  jq -e "$2" "$WORK/body" >/dev/null 2>&1 || fail "$1" "$3; body: $(body_excerpt)"
}

if ((WAIT_SECONDS > 0)); then
  deadline=$((SECONDS + WAIT_SECONDS))
  until [ "$(call none GET /health/ready 2>/dev/null)" = 200 ]; do
    ((SECONDS < deadline)) || break
    sleep 1
  done
fi

echo "smoke tests against $BASE_URL"

expect "GET /health/live" 200 none GET /health/live
ok "GET /health/live"
expect "GET /health/ready" 200 none GET /health/ready
# "degraded" is ready: the pod acknowledges writes (the other store or Redis is down and is repaired later).
jq_check "GET /health/ready" '.status == "ready" or .status == "degraded"' 'expected status "ready" or "degraded"'
ok "GET /health/ready: $(jq -r '.status + " (" + (.checks | to_entries | map("\(.key) \(.value.status)") | join(", ")) + ")"' "$WORK/body")"

expect "an application token is required" 401 none GET /conversations?userId=smoke
ok "GET /conversations without a token is 401"

user="smoke-$(date +%s)-$RANDOM"
expect "POST /conversations" 201 app POST /conversations "{\"userId\":\"$user\",\"title\":\"smoke test\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"
jq_check "POST /conversations" '(.id | test("^[0-9a-f]{24}$")) and .version == 1 and (.messages | length) == 1' 'expected a conversation with an id, version 1 and one message'
conversation_id=$(jq -r .id "$WORK/body")
ok "POST /conversations: $conversation_id"

expect "GET /conversations/:id" 200 app GET "/conversations/$conversation_id"
jq_check "GET /conversations/:id" ".id == \"$conversation_id\" and .userId == \"$user\" and .title == \"smoke test\"" 'expected the conversation just created'
ok "GET /conversations/:id"

expect "POST /conversations/:id/messages" 201 app POST "/conversations/$conversation_id/messages" '{"role":"assistant","content":"hi there"}'
jq_check "POST /conversations/:id/messages" '.version == 2 and (.messages | length) == 2 and .messages[1].content == "hi there"' 'expected version 2 with the appended message last'
ok "POST /conversations/:id/messages: version 2"

expect "GET /conversations?userId=" 200 app GET "/conversations?userId=$user"
jq_check "GET /conversations?userId=" ".items | map(.id) | index(\"$conversation_id\") != null" 'expected the conversation in its user list'
ok "GET /conversations?userId="

expect "DELETE /conversations/:id" 204 app DELETE "/conversations/$conversation_id"
deleted=$conversation_id
conversation_id=""
ok "DELETE /conversations/:id"
expect "GET after DELETE" 404 app GET "/conversations/$deleted"
ok "GET /conversations/:id after the delete is 404"

expect "GET /migration/status" 200 operator GET /migration/status
jq_check "GET /migration/status" '(.phase | type) == "string"' 'expected the migration phase'
ok "GET /migration/status: phase $(jq -r .phase "$WORK/body")"
expect "operator endpoints refuse an application token" 403 app GET /migration/status
ok "GET /migration/status with the application token is 403"

if ((PUBLIC)); then
  expect "GET /metrics on the public address" 404 none GET /metrics
  ok "GET /metrics on the public address is 404 (the metrics listener is not routed)"
fi
if ((PUBLIC)) && [ -z "$METRICS_URL" ]; then
  echo "smoke tests passed: $CHECKS checks against $BASE_URL (metrics not checked: no METRICS_URL)"
  exit 0
fi
metrics_base=$BASE_URL metrics_path=/metrics
if [ -n "$METRICS_URL" ]; then
  metrics_base=$(sed -E 's|^(https?://[^/]+).*|\1|' <<<"$METRICS_URL")
  metrics_path=${METRICS_URL#"$metrics_base"}
  metrics_path=${metrics_path:-/metrics}
fi
BASE_URL=$metrics_base expect "GET $metrics_path" 200 none GET "$metrics_path"
for series in 'http_request_duration_seconds_count{method="POST",route="/conversations",status="201"}' \
  'http_request_duration_seconds_bucket{' 'process_cpu_user_seconds_total' 'sync_catchup_lag_seconds' 'shadow_window_mismatch_ratio' 'traffic_change_oldest_open_age_seconds'; do
  grep -qF "$series" "$WORK/body" || fail "GET /metrics" "expected the series $series"
done
ok "GET /metrics: HTTP, process, sync, shadow and traffic series present"

echo "smoke tests passed: $CHECKS checks against $BASE_URL"
