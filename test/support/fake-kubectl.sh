#!/usr/bin/env bash
# A stand-in for kubectl in the deploy script tests: records each call's arguments in $FAKE_KUBECTL_LOG
# (arguments separated by the ASCII unit separator, calls by the record separator) and answers the few
# reads the scripts make from FAKE_* variables; every other call succeeds silently.
set -euo pipefail
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
esac
exit "${FAKE_KUBECTL_EXIT:-0}"
