#!/usr/bin/env bash
# Manual canary of the API with Istio (deployment/kubernetes/strategies/istio-canary): the VirtualService
# lms-api sends requests with the header `canary: true` to the canary subset, and splits the rest between
# the subsets stable and canary. Every patch carries the whole route list, so the header route survives
# (a merge patch replaces a list: the seed's weight patches drop it).
#
#   canary.sh weight N     N % to the canary, 100 - N % to stable (0..100; the seed's stages: 5, 25, 50).
#                          First the canary is sized for its share and its rollout awaited: N % of stable's
#                          replicas (at least one), and from 50 % on as many as stable has, so that one pod
#                          never takes half of the traffic
#   canary.sh promote      the canary's image becomes stable's: the canary sized like stable, all traffic to
#                          the canary, stable rolled to its image (waits for the rollout, 300 s at most), all
#                          traffic back to stable, the canary scaled to zero
#   canary.sh rollback     all traffic to stable, the canary scaled to zero
#   canary.sh status       the VirtualService's routes and both Deployments
#
# Options:
#   --print-patch          print each change as a JSON line ({"kind","name","type","patch"}) and change
#                          nothing (what the tests apply to the rendered manifests)
#   --canary-image IMAGE   for promote with --print-patch: the canary's image (else read from the cluster)
#   --stable-replicas N    with --print-patch: stable's replica count (else read from the cluster)
#
# Environment: NAMESPACE (legacy-migration), SERVICE (lms-api), KUBECTL (kubectl), WAIT_TIMEOUT (300s).
# Under Argo CD with selfHeal, let the Application ignore the VirtualService's routes and the canary's
# replicas (docs/runbook.md) or each change is undone at the next sync.
set -euo pipefail

NAMESPACE="${NAMESPACE:-legacy-migration}"
SERVICE="${SERVICE:-lms-api}"
KUBECTL="${KUBECTL:-kubectl}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-300s}"
CONTAINER=app

usage() {
  sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "canary.sh: $*" >&2; exit 1; }

command="${1:-}"
[ $# -gt 0 ] && shift
weight=""
if [ "$command" = weight ]; then
  weight="${1:-}"
  [ $# -gt 0 ] && shift
  if ! [[ $weight =~ ^[0-9]{1,3}$ ]] || ((10#$weight > 100)); then
    die "weight must be a whole number from 0 to 100, got '${weight}'"
  fi
  weight=$((10#$weight))
fi
print_patch=0 canary_image="" stable_replicas=""
while [ $# -gt 0 ]; do
  case "$1" in
    --print-patch) print_patch=1 ;;
    --canary-image) canary_image="${2:-}"; shift ;;
    --stable-replicas) stable_replicas="${2:-}"; shift ;;
    -h | --help) usage ;;
    *) echo "canary.sh: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done

k() { "$KUBECTL" -n "$NAMESPACE" "$@"; }

# One change: printed, or applied with kubectl patch.
change() { # kind name type patch
  if ((print_patch)); then
    printf '{"kind":"%s","name":"%s","type":"%s","patch":%s}\n' "$1" "$2" "$3" "$4"
  else
    k patch "$(echo "$1" | tr '[:upper:]' '[:lower:]')" "$2" --type "$3" -p "$4" >/dev/null
  fi
}

# The VirtualService's routes with N % to the canary: the header route first, then the split.
routes_patch() { # canary-weight
  local c=$1 s=$((100 - $1)) h=$SERVICE
  printf '{"spec":{"http":[{"name":"canary-header","match":[{"headers":{"canary":{"exact":"true"}}}],"route":[{"destination":{"host":"%s","subset":"canary"}}]},{"name":"weighted","route":[{"destination":{"host":"%s","subset":"stable"},"weight":%d},{"destination":{"host":"%s","subset":"canary"},"weight":%d}]}]}}' \
    "$h" "$h" "$s" "$h" "$c"
}

set_weight() {
  change VirtualService "$SERVICE" merge "$(routes_patch "$1")"
  ((print_patch)) || echo "virtualservice/$SERVICE: canary $1 %, stable $((100 - $1)) %"
}

# The canary's replicas for N % of the traffic: N % of stable's (rounded up, at least one), and stable's own
# count from 50 % on. Scaled, then awaited, before any weight moves to it.
size_canary_for() { # weight
  local want
  ((10#$1 > 0)) || return 0
  if [ -z "$stable_replicas" ]; then
    ((print_patch)) && die "--print-patch with a weight above 0 needs --stable-replicas N (it does not ask the cluster)"
    stable_replicas=$(k get deployment "$SERVICE-stable" -o jsonpath='{.spec.replicas}')
  fi
  [[ $stable_replicas =~ ^[0-9]+$ ]] || die "stable's replica count is not a number: '${stable_replicas}'"
  if ((10#$1 >= 50)); then want=$stable_replicas; else want=$(((stable_replicas * 10#$1 + 99) / 100)); fi
  ((want >= 1)) || want=1
  change Deployment "$SERVICE-canary" merge "{\"spec\":{\"replicas\":$want}}"
  if ! ((print_patch)); then
    echo "deployment/$SERVICE-canary: $want replicas for $1 %; waiting for the rollout (at most $WAIT_TIMEOUT)"
    k rollout status "deployment/$SERVICE-canary" --timeout="$WAIT_TIMEOUT"
  fi
}

scale_canary_to_zero() {
  change Deployment "$SERVICE-canary" merge '{"spec":{"replicas":0}}'
  ((print_patch)) || echo "deployment/$SERVICE-canary scaled to 0"
}

case "$command" in
  weight)
    size_canary_for "$weight"
    set_weight "$weight"
    ;;
  promote)
    if [ -z "$canary_image" ]; then
      ((print_patch)) && die "--print-patch with promote needs --canary-image IMAGE (it does not ask the cluster)"
      canary_image=$(k get deployment "$SERVICE-canary" -o jsonpath="{.spec.template.spec.containers[?(@.name=='$CONTAINER')].image}")
    fi
    [[ $canary_image =~ ^[A-Za-z0-9][A-Za-z0-9._/:@-]*$ ]] || die "not an image reference: '${canary_image}'"
    size_canary_for 100
    set_weight 100
    # A strategic merge patch merges containers by name: only the image of `app` changes.
    change Deployment "$SERVICE-stable" strategic "$(printf '{"spec":{"template":{"spec":{"containers":[{"name":"%s","image":"%s"}]}}}}' "$CONTAINER" "$canary_image")"
    if ! ((print_patch)); then
      echo "deployment/$SERVICE-stable: image $canary_image; waiting for the rollout (at most $WAIT_TIMEOUT)"
      k rollout status "deployment/$SERVICE-stable" --timeout="$WAIT_TIMEOUT"
    fi
    set_weight 0
    scale_canary_to_zero
    ;;
  rollback)
    set_weight 0
    scale_canary_to_zero
    ;;
  status)
    k get virtualservice "$SERVICE" -o jsonpath='{range .spec.http[*]}{.name}:{range .route[*]} {.destination.subset}={.weight}{end}{"\n"}{end}'
    for d in stable canary; do
      k get deployment "$SERVICE-$d" -o jsonpath="{.metadata.name}: {.status.readyReplicas}/{.spec.replicas} ready, image {.spec.template.spec.containers[0].image}{'\n'}" ||
        echo "$SERVICE-$d: not found"
    done
    ;;
  *) usage ;;
esac
