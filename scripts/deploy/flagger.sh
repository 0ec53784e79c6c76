#!/usr/bin/env bash
# The API's Flagger canary (deployment/kubernetes/strategies/flagger-canary), for the release workflow and
# for the person on call:
#
#   flagger.sh status             phase, canary weight, failed checks; the images of primary and target
#   flagger.sh wait IMAGE         the release gate. Waits for Flagger to start analysing a new revision
#                                 (phase Progressing: a Succeeded or Failed left by the previous release is
#                                 never taken for this one), then for Succeeded or Failed, and exits 0 only
#                                 when it Succeeded and the primary runs IMAGE; 1 at once on Failed, or when
#                                 no analysis starts or ends in time. The first deploy (Flagger initialises the
#                                 primary without analysis), or IMAGE already promoted: 0 when the primary
#                                 runs IMAGE.
#   flagger.sh abort              stops a running analysis now: opens the load tester's rollback gate (the
#                                 Canary's stop-switch webhook), waits for Flagger to roll back (phase Failed,
#                                 within one analysis interval), then closes the gate again
#   flagger.sh pin-primary IMAGE  undoes a promoted release at once: IMAGE (the previous release) goes back
#                                 on the primary, all its pods replaced together (maxSurge 100 %), and the
#                                 rollout is awaited (PIN_TIMEOUT); Flagger copies the target's spec, its
#                                 rollout strategy included, over the primary at the next promotion
#
# Options: --print-patch (pin-primary: print the change as a JSON line, change nothing).
# Environment: NAMESPACE (legacy-migration), CANARY (lms-api), KUBECTL (kubectl), DETECT_TIMEOUT (600 s:
# Argo CD's sync, the migration Job, Flagger noticing the change), ANALYSIS_TIMEOUT (1800 s), ABORT_TIMEOUT
# (180 s), PIN_TIMEOUT (120s), POLL_SECONDS (10).
set -euo pipefail

NAMESPACE="${NAMESPACE:-legacy-migration}"
CANARY="${CANARY:-lms-api}"
KUBECTL="${KUBECTL:-kubectl}"
DETECT_TIMEOUT="${DETECT_TIMEOUT:-600}"
ANALYSIS_TIMEOUT="${ANALYSIS_TIMEOUT:-1800}"
ABORT_TIMEOUT="${ABORT_TIMEOUT:-180}"
PIN_TIMEOUT="${PIN_TIMEOUT:-120s}"
POLL_SECONDS="${POLL_SECONDS:-10}"
LOADTESTER=lms-loadtester
CONTAINER=app

usage() {
  sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "flagger.sh: $*" >&2; exit 1; }
k() { "$KUBECTL" -n "$NAMESPACE" "$@"; }

command="${1:-}"
[ $# -gt 0 ] && shift
image="" print_patch=0
while [ $# -gt 0 ]; do
  case "$1" in
    --print-patch) print_patch=1 ;;
    -h | --help) usage ;;
    -*) echo "flagger.sh: unknown option '$1'" >&2; usage ;;
    *) [ -z "$image" ] || usage; image=$1 ;;
  esac
  shift
done
check_image() {
  [ -n "$image" ] || usage
  [[ $image =~ ^[A-Za-z0-9][A-Za-z0-9._/:@-]*$ ]] || die "not an image reference: '$image'"
}

# "PHASE WEIGHT FAILED_CHECKS" of the canary (empty fields when the status has none yet).
canary_status() {
  k get canary "$CANARY" -o jsonpath='{.status.phase} {.status.canaryWeight} {.status.failedChecks}'
}
primary_image() {
  k get deployment "$CANARY-primary" -o jsonpath="{.spec.template.spec.containers[?(@.name=='$CONTAINER')].image}" 2>/dev/null || true
}
gate() { # open|close
  k exec "deploy/$LOADTESTER" -c loadtester -- curl -sS --fail --max-time 10 -X POST \
    -d "{\"name\":\"$CANARY\",\"namespace\":\"$NAMESPACE\"}" "http://localhost:8080/rollback/$1" >/dev/null
}

wait_release() {
  local phase weight failed deadline last
  read -r phase weight failed <<<"$(canary_status)" || true
  echo "canary/$CANARY: ${phase:-no status yet} before this release's analysis; waiting for it to start (at most ${DETECT_TIMEOUT}s)"
  deadline=$((SECONDS + DETECT_TIMEOUT))
  while :; do
    case "$phase" in
      Progressing | Promoting | Finalising) break ;;
      Initialized)
        # The first deploy: Flagger copies the target to the primary without an analysis.
        if [ "$(primary_image)" = "$image" ]; then echo "canary/$CANARY: initialised with $image (first deploy, no analysis)"; return 0; fi ;;
      Succeeded)
        # Nothing new to analyse: this image is what the primary runs already (a re-run of the release).
        if [ "$(primary_image)" = "$image" ]; then echo "canary/$CANARY: $image is promoted already"; return 0; fi ;;
    esac
    ((SECONDS < deadline)) || die "no analysis of $image started within ${DETECT_TIMEOUT}s (phase ${phase:-none}, primary $(primary_image)): is the sync done, did the image change?"
    sleep "$POLL_SECONDS"
    read -r phase weight failed <<<"$(canary_status)" || true
  done
  echo "canary/$CANARY: analysing $image (at most ${ANALYSIS_TIMEOUT}s)"
  deadline=$((SECONDS + ANALYSIS_TIMEOUT))
  last=""
  while :; do
    case "$phase" in
      Succeeded)
        local running
        running=$(primary_image)
        [ "$running" = "$image" ] || die "the analysis succeeded, but the primary runs $running, not $image (a newer revision?)"
        echo "canary/$CANARY: promoted $image"
        return 0
        ;;
      Failed) die "the analysis of $image failed after ${failed:-?} failed checks: Flagger rolled back, the primary still runs $(primary_image) (kubectl -n $NAMESPACE describe canary $CANARY)" ;;
    esac
    if [ "$phase $weight $failed" != "$last" ]; then
      echo "  phase ${phase:-?}, canary weight ${weight:-0} %, failed checks ${failed:-0}"
      last="$phase $weight $failed"
    fi
    ((SECONDS < deadline)) || die "the analysis of $image did not end within ${ANALYSIS_TIMEOUT}s (phase $phase)"
    sleep "$POLL_SECONDS"
    read -r phase weight failed <<<"$(canary_status)" || true
  done
}

abort_analysis() {
  local phase weight failed deadline
  gate open || die "could not open the rollback gate of deploy/$LOADTESTER"
  trap 'gate close || echo "flagger.sh: close the gate by hand: kubectl -n $NAMESPACE exec deploy/$LOADTESTER -c loadtester -- curl -sS -X POST -d '"'"'{\"name\":\"$CANARY\",\"namespace\":\"$NAMESPACE\"}'"'"' http://localhost:8080/rollback/close" >&2' EXIT
  echo "canary/$CANARY: rollback gate open; waiting for Flagger to roll back (at most ${ABORT_TIMEOUT}s)"
  deadline=$((SECONDS + ABORT_TIMEOUT))
  while :; do
    read -r phase weight failed <<<"$(canary_status)" || true
    case "$phase" in
      Failed) echo "canary/$CANARY: rolled back; the primary runs $(primary_image)"; return 0 ;;
      Succeeded | Initialized) die "no analysis is running (phase $phase): nothing to abort; to undo a promoted release, pin-primary" ;;
    esac
    ((SECONDS < deadline)) || die "Flagger did not roll back within ${ABORT_TIMEOUT}s (phase ${phase:-none})"
    sleep "$POLL_SECONDS"
  done
}

pin_primary() {
  local patch
  patch=$(printf '{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"100%%","maxUnavailable":0}},"template":{"spec":{"containers":[{"name":"%s","image":"%s"}]}}}}' "$CONTAINER" "$image")
  if ((print_patch)); then
    printf '{"kind":"Deployment","name":"%s-primary","type":"strategic","patch":%s}\n' "$CANARY" "$patch"
    return 0
  fi
  k patch deployment "$CANARY-primary" --type strategic -p "$patch" >/dev/null
  echo "deployment/$CANARY-primary: $image, every pod replaced at once; waiting (at most $PIN_TIMEOUT)"
  k rollout status "deployment/$CANARY-primary" --timeout="$PIN_TIMEOUT"
}

case "$command" in
  status)
    read -r phase weight failed <<<"$(canary_status)" || true
    echo "canary/$CANARY: phase ${phase:-none}, canary weight ${weight:-0} %, failed checks ${failed:-0}"
    echo "primary: $(primary_image)"
    echo "target:  $(k get deployment "$CANARY" -o jsonpath="{.spec.template.spec.containers[?(@.name=='$CONTAINER')].image}")"
    ;;
  wait) check_image; wait_release ;;
  abort) [ -z "$image" ] || usage; abort_analysis ;;
  pin-primary) check_image; pin_primary ;;
  *) usage ;;
esac
