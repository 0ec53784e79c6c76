#!/usr/bin/env bash
# After a production rollout: the share of application requests (the /conversations routes, as the phase
# gates and the LmsHighErrorRate alert count them) that failed with 5xx over the last WINDOW, from this
# service's own http_request_duration_seconds histogram in Prometheus.
#
#   PROMETHEUS_URL=https://prometheus.example.com scripts/deploy/error-rate-check.sh [--print-query]
#
# Exit status: 0 at or below MAX_ERROR_RATE, 1 above it (the caller undoes the release), 3 when there is
# no figure (Prometheus unreachable or refusing, no application requests in the window): nothing to
# judge by, which is not the same as a bad release.
#
# Environment: PROMETHEUS_URL (required), PROMETHEUS_TOKEN (optional bearer token), NAMESPACE
# (legacy-migration), WINDOW (5m), MAX_ERROR_RATE (0.01). Needs curl.
set -euo pipefail

NAMESPACE="${NAMESPACE:-legacy-migration}"
WINDOW="${WINDOW:-5m}"
MAX_ERROR_RATE="${MAX_ERROR_RATE:-0.01}"

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[[ $NAMESPACE =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || { echo "error-rate-check.sh: NAMESPACE '$NAMESPACE' is not a namespace name" >&2; exit 2; }
[[ $WINDOW =~ ^[0-9]+[smh]$ ]] || { echo "error-rate-check.sh: WINDOW must look like 5m, got '$WINDOW'" >&2; exit 2; }
[[ $MAX_ERROR_RATE =~ ^(0|1)?(\.[0-9]+)?$ && $MAX_ERROR_RATE != "" ]] || { echo "error-rate-check.sh: MAX_ERROR_RATE must be a fraction such as 0.01, got '$MAX_ERROR_RATE'" >&2; exit 2; }

selector="job=\"lms-api-metrics\",namespace=\"$NAMESPACE\",route=~\"/conversations.*\""
query="sum(rate(http_request_duration_seconds_count{$selector,status=~\"5..\"}[$WINDOW])) / sum(rate(http_request_duration_seconds_count{$selector}[$WINDOW]))"

case "${1:-}" in
  --print-query) echo "$query"; exit 0 ;;
  "") ;;
  *) usage ;;
esac
[ -n "${PROMETHEUS_URL:-}" ] || { echo "error-rate-check.sh: PROMETHEUS_URL is not set" >&2; exit 2; }
command -v curl >/dev/null || { echo "error-rate-check.sh: curl is required" >&2; exit 2; }

headers=$(mktemp)
trap 'rm -f "$headers"' EXIT
if [ -n "${PROMETHEUS_TOKEN:-}" ]; then printf 'Authorization: Bearer %s\n' "$PROMETHEUS_TOKEN" >"$headers"; fi

if ! response=$(curl --silent --show-error --fail-with-body --max-time 30 -H "@$headers" -G --data-urlencode "query=$query" "${PROMETHEUS_URL%/}/api/v1/query" 2>&1); then
  echo "error-rate check: no figure: Prometheus did not answer the query: $(head -c 300 <<<"$response")" >&2
  exit 3
fi
# Prometheus answers compact JSON: {"status":"success","data":{"resultType":"vector","result":[{"metric":{},
# "value":[<time>,"<value>"]}]}}; the sum over everything is one sample, or none without requests.
if ! [[ $response =~ \"status\":\"success\" ]]; then
  echo "error-rate check: no figure: Prometheus refused the query: $(head -c 300 <<<"$response")" >&2
  exit 3
fi
rate=""
if [[ $response =~ \"value\":\[[0-9.eE+-]+,\"([^\"]*)\"\] ]]; then rate=${BASH_REMATCH[1]}; fi
if [ -z "$rate" ] || ! [[ $rate =~ ^[0-9.eE+-]+$ ]]; then
  echo "error-rate check: no figure: no application requests in namespace $NAMESPACE over the last $WINDOW (result '${rate:-none}')" >&2
  exit 3
fi
percent=$(awk -v r="$rate" 'BEGIN { printf "%.3f", r * 100 }')
if awk -v r="$rate" -v m="$MAX_ERROR_RATE" 'BEGIN { exit !(r > m) }'; then
  echo "error-rate check: FAILED: $percent % of application requests failed with 5xx over the last $WINDOW (limit $(awk -v m="$MAX_ERROR_RATE" 'BEGIN { printf "%.3f", m * 100 }') %)" >&2
  exit 1
fi
echo "error-rate check: ok: $percent % of application requests failed with 5xx over the last $WINDOW"
