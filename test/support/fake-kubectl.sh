#!/usr/bin/env bash
# A stand-in for kubectl in the deploy script tests: records each call's arguments in $FAKE_KUBECTL_LOG
# (arguments separated by the ASCII unit separator, calls by the record separator) and answers the few
# reads the scripts make from FAKE_* variables; every other call succeeds silently. FAKE_CANARY_STATUS and
# FAKE_PRIMARY_IMAGE are sequences separated by `;`: each read takes the next one (the last repeats).
set -euo pipefail
# The next of a `;`-separated sequence, by a counter kept beside the log.
next_of() { # name sequence
  local counter="$FAKE_KUBECTL_LOG.$1" i=0 items
  [ -f "$counter" ] && i=$(cat "$counter")
  IFS=';' read -r -a items <<<"$2"
  ((i < ${#items[@]})) || i=$((${#items[@]} - 1))
  printf '%s' "${items[$i]}"
  echo $((i + 1)) >"$counter"
}
{
  for arg in "$@"; do printf '%s\037' "$arg"; done
  printf '\036'
} >>"$FAKE_KUBECTL_LOG"
args=" $* "
case "$args" in
  *" get service "*"{.spec.selector.version}"*) printf '%s' "${FAKE_SERVICE_VERSION:-blue}" ;;
  *" get service "*"{.metadata.annotations."*) printf '%s' "${FAKE_PREVIOUS_VERSION:-}" ;;
  *" get deployment "*"-canary "*".image}"*) printf '%s' "${FAKE_CANARY_IMAGE:-}" ;;
  *" get job lms-migrate "*"{.status.succeeded}"*) printf '%s' "${FAKE_JOB_SUCCEEDED-1}" ;;
  *" get job lms-migrate "*"Failed"*) printf '%s' "${FAKE_JOB_FAILED:-}" ;;
  *" get -f "*) printf '%s' "${FAKE_DEPLOYMENTS:-}" ;;
  *" get deployment "*"-stable "*"{.spec.replicas}"*) printf '%s' "${FAKE_STABLE_REPLICAS:-3}" ;;
  *" get canary "*"{.status.phase}"*) next_of canary "${FAKE_CANARY_STATUS:-Succeeded 0 0}" ;;
  *" get deployment "*"-primary "*".image}"*) next_of primary "${FAKE_PRIMARY_IMAGE:-}" ;;
esac
exit "${FAKE_KUBECTL_EXIT:-0}"
