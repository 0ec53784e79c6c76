#!/usr/bin/env bash
# Blue-green switch of the API (deployment/kubernetes/strategies/blue-green): the Service lms-api selects
# the Deployment lms-api-blue or lms-api-green by its pods' `version` label.
#
#   blue-green.sh status              which colour serves, and how ready each colour is
#   blue-green.sh switch              wait until the idle colour is fully rolled out and ready (300 s at
#                                     most), then point the Service at it; the colour it leaves is kept
#                                     in an annotation for rollback
#   blue-green.sh rollback            point the Service back at the colour it served before (instant: that
#                                     colour is still running)
#
# Options:
#   --print-patch      print the change as JSON lines ({"kind","name","type","patch"}) and change nothing
#                      (what the tests apply to the rendered manifests)
#   --current COLOUR   the colour serving now, instead of asking the cluster (with --print-patch)
#   --previous COLOUR  for rollback: the colour to go back to, instead of the Service's annotation
#
# Environment: NAMESPACE (legacy-migration), SERVICE (lms-api), KUBECTL (kubectl), WAIT_TIMEOUT (300s).
# Under Argo CD with selfHeal, let the Application ignore the Service's selector (docs/runbook.md) or
# the switch is undone at the next sync.
set -euo pipefail

NAMESPACE="${NAMESPACE:-legacy-migration}"
SERVICE="${SERVICE:-lms-api}"
KUBECTL="${KUBECTL:-kubectl}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-300s}"
ANNOTATION="lms.example.com/previous-version"

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "blue-green.sh: $*" >&2; exit 1; }

command="${1:-}"
[ $# -gt 0 ] && shift
print_patch=0 current="" previous=""
while [ $# -gt 0 ]; do
  case "$1" in
    --print-patch) print_patch=1 ;;
    --current) current="${2:-}"; shift ;;
    --previous) previous="${2:-}"; shift ;;
    -h | --help) usage ;;
    *) echo "blue-green.sh: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done

check_colour() { # what value
  case "$2" in
    blue | green) ;;
    *) die "$1 must be blue or green, got '${2}'" ;;
  esac
}
other() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }
k() { "$KUBECTL" -n "$NAMESPACE" "$@"; }

live_colour() {
  local colour
  colour=$(k get service "$SERVICE" -o jsonpath='{.spec.selector.version}') || die "cannot read service/$SERVICE in namespace $NAMESPACE"
  [ -n "$colour" ] || die "service/$SERVICE has no version selector: is the blue-green strategy deployed?"
  echo "$colour"
}

# The JSON merge patch that makes the Service select $1 and remember $2.
selector_patch() {
  printf '{"metadata":{"annotations":{"%s":"%s"}},"spec":{"selector":{"version":"%s"}}}' "$ANNOTATION" "$2" "$1"
}

apply_selector() { # target leaving
  local patch
  patch=$(selector_patch "$1" "$2")
  if ((print_patch)); then
    printf '{"kind":"Service","name":"%s","type":"merge","patch":%s}\n' "$SERVICE" "$patch"
    return
  fi
  k patch service "$SERVICE" --type merge -p "$patch" >/dev/null
  echo "service/$SERVICE now selects version=$1 (was $2)"
  k get endpoints "$SERVICE" -o wide
}

resolve_current() {
  if [ -n "$current" ]; then check_colour --current "$current"; echo "$current"; return; fi
  ((print_patch)) && die "--print-patch needs --current blue|green (it does not ask the cluster)"
  live_colour
}

case "$command" in
  status)
    colour=$(live_colour)
    echo "service/$SERVICE selects version=$colour"
    for c in blue green; do
      k get deployment "$SERVICE-$c" -o jsonpath="{.metadata.name}: {.status.readyReplicas}/{.spec.replicas} ready, image {.spec.template.spec.containers[0].image}{'\n'}" ||
        echo "$SERVICE-$c: not found"
    done
    ;;
  switch)
    from=$(resolve_current)
    to=$(other "$from")
    if ! ((print_patch)); then
      echo "waiting for deployment/$SERVICE-$to to be rolled out and ready (at most $WAIT_TIMEOUT)"
      k rollout status "deployment/$SERVICE-$to" --timeout="$WAIT_TIMEOUT"
      k wait --for=condition=ready pod -l "app=$SERVICE,version=$to" --timeout="$WAIT_TIMEOUT"
    fi
    apply_selector "$to" "$from"
    ;;
  rollback)
    from=$(resolve_current)
    if [ -z "$previous" ] && ! ((print_patch)); then
      previous=$(k get service "$SERVICE" -o jsonpath="{.metadata.annotations.${ANNOTATION//./\\.}}")
    fi
    to="${previous:-$(other "$from")}"
    check_colour "the previous colour" "$to"
    [ "$to" != "$from" ] || die "service/$SERVICE already selects version=$to"
    apply_selector "$to" "$from"
    ;;
  *) usage ;;
esac
