#!/usr/bin/env bash
# The canary's load test, run by the lms-loadtester pod (Flagger's load tester image: bash, curl, jq) for
# the Canary's webhooks: each round creates a conversation, appends a message, reads it, lists its user's
# conversations and deletes it again, as an application with the token in LMS_LOADTEST_TOKEN (Secret
# lms-secrets, key LOADTEST_API_TOKEN; one of APP_API_TOKENS), against the canary's Service only.
#
#   loadtest.sh once            one round; exits 1 at the first unexpected answer (the pre-rollout acceptance
#                               test: a missing or refused token fails the analysis at once, not after five
#                               minutes of 401s)
#   loadtest.sh run SECONDS     rounds for that long, CONCURRENCY at a time (the rollout webhook's traffic;
#                               Flagger's success metric counts 401, 403 and 429 as failures)
#
# Environment: LMS_LOADTEST_TOKEN (required), TARGET (http://lms-api-canary), CONCURRENCY (2),
# PAUSE (0.2 s between rounds of one loop). The token goes through a header file, never a command line.
set -euo pipefail

TARGET="${TARGET:-http://lms-api-canary}"
CONCURRENCY="${CONCURRENCY:-2}"
PAUSE="${PAUSE:-0.2}"
USER_ID="flagger-loadtest"

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
case "${1:-}" in once | run) ;; *) usage ;; esac
[ -n "${LMS_LOADTEST_TOKEN:-}" ] || { echo "loadtest.sh: LMS_LOADTEST_TOKEN is not set (Secret lms-secrets, key LOADTEST_API_TOKEN)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
umask 077
printf 'Authorization: Bearer %s\n' "$LMS_LOADTEST_TOKEN" >"$WORK/auth.header"

# request NAME WANT METHOD PATH [JSON] BODYFILE: the status, or a message and status 1 when it is not WANT.
request() {
  local name=$1 want=$2 method=$3 path=$4 data=$5 body=$6 status
  local args=(--silent --max-time 10 --connect-timeout 3 -o "$body" -w '%{http_code}' -X "$method" -H "@$WORK/auth.header")
  [ -z "$data" ] || args+=(-H 'Content-Type: application/json' --data "$data")
  status=$(curl "${args[@]}" "$TARGET$path") || status=000
  if [ "$status" != "$want" ]; then
    echo "loadtest.sh: $name: expected HTTP $want, got $status: $(head -c 200 "$body" 2>/dev/null | tr '\n' ' ')" >&2
    return 1
  fi
}

# One round in its own files; the conversation is deleted even when a step in between fails.
round() {
  local dir id=""
  dir=$(mktemp -d "$WORK/round.XXXXXX")
  request create 201 POST /conversations "{\"userId\":\"$USER_ID\",\"title\":\"canary load test\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}" "$dir/body" || return 1
  id=$(jq -r '.id // empty' "$dir/body")
  [ -n "$id" ] || { echo "loadtest.sh: create: no id in the answer" >&2; return 1; }
  local ok=0
  request append 201 POST "/conversations/$id/messages" '{"role":"assistant","content":"hi there"}' "$dir/body" &&
    request read 200 GET "/conversations/$id" "" "$dir/body" &&
    request list 200 GET "/conversations?userId=$USER_ID" "" "$dir/body" || ok=1
  request delete 204 DELETE "/conversations/$id" "" "$dir/body" || ok=1
  rm -rf "$dir"
  return "$ok"
}

case "${1:-}" in
  once)
    round
    echo "loadtest.sh: one round against $TARGET passed"
    ;;
  run)
    seconds="${2:-}"
    [[ $seconds =~ ^[0-9]+$ ]] || { echo "loadtest.sh: run takes whole seconds, got '$seconds'" >&2; exit 2; }
    deadline=$((SECONDS + seconds))
    loop() {
      local rounds=0 failed=0
      while ((SECONDS < deadline)); do
        rounds=$((rounds + 1))
        round || failed=$((failed + 1))
        sleep "$PAUSE"
      done
      echo "$rounds $failed" >"$WORK/loop.$1"
    }
    for i in $(seq 1 "$CONCURRENCY"); do loop "$i" & done
    wait
    cat "$WORK"/loop.* | awk -v t="$TARGET" '{ r += $1; f += $2 } END { printf "loadtest.sh: %d rounds against %s, %d with an unexpected answer\n", r, t, f }'
    ;;
  *) usage ;;
esac
