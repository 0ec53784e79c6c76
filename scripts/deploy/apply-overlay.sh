#!/usr/bin/env bash
# Rolls an overlay out with kubectl (staging; production goes through Argo CD) in the order an empty
# namespace needs: renders it with the release's image; applies the namespace, the ServiceAccount and the
# secrets (ExternalSecret) and waits for the Secret; runs the migration Job and waits for it (the same Job
# Argo CD runs as a PreSync hook); applies everything; waits for every Deployment's rollout (5 minutes each,
# the seed's timeout) and, under Flagger, for the canary analysis of IMAGE (scripts/deploy/flagger.sh wait).
#
#   scripts/deploy/apply-overlay.sh OVERLAY_DIR IMAGE            roll out
#   scripts/deploy/apply-overlay.sh OVERLAY_DIR IMAGE --print    print the rendered manifest, change nothing
#
# Environment: KUSTOMIZE (kustomize on PATH, else .tools/bin/kustomize), KUBECTL (kubectl),
# ROLLOUT_TIMEOUT (5m), SECRETS_TIMEOUT (120s), MIGRATION_TIMEOUT_SECONDS (1800); flagger.sh's for the canary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
KUBECTL="${KUBECTL:-kubectl}"
ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-5m}"
SECRETS_TIMEOUT="${SECRETS_TIMEOUT:-120s}"
MIGRATION_TIMEOUT_SECONDS="${MIGRATION_TIMEOUT_SECONDS:-1800}"
IMAGE_NAME=legacy-migration-service

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "apply-overlay.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || usage
overlay=$1 image=$2 print=0
case "${3:-}" in
  --print) print=1 ;;
  "") ;;
  *) usage ;;
esac
[ -f "$overlay/kustomization.yaml" ] || die "$overlay has no kustomization.yaml"
[[ $image =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$ ]] || die "not an image reference: '$image'"
KUSTOMIZE="${KUSTOMIZE:-$(command -v kustomize || echo "$ROOT/.tools/bin/kustomize")}"
[ -x "$KUSTOMIZE" ] || die "kustomize not found (bash scripts/ci/install-tools.sh installs it into .tools/bin)"
KUSTOMIZE="$(cd "$(dirname "$KUSTOMIZE")" && pwd -P)/$(basename "$KUSTOMIZE")"

# The overlay with the image set, rendered from a throw-away copy beside it (same relative paths), so the
# overlay in the tree stays untouched.
overlay=$(cd "$overlay" && pwd -P)
work=$(mktemp -d "$(dirname "$overlay")/.render-$(basename "$overlay").XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$overlay"/. "$work"/
(cd "$work" && "$KUSTOMIZE" edit set image "$IMAGE_NAME=$image")
"$KUSTOMIZE" build "$work" >"$work/rendered.yaml"
if ((print)); then
  cat "$work/rendered.yaml"
  exit 0
fi

namespace=$(awk '/^kind: Namespace/ { next } /^  namespace: / { print $2; exit }' "$work/rendered.yaml")
[ -n "$namespace" ] || die "the overlay sets no namespace"
k() { "$KUBECTL" -n "$namespace" "$@"; }
# The documents of one kind in the render.
documents() { awk -v kind="$1" 'BEGIN { RS = "\n---\n" } $0 ~ "(^|\n)kind: " kind "\n" { print; print "---" }' "$work/rendered.yaml"; }

# What everything else needs, first: the namespace (kubectl creates none), the pods' ServiceAccount (the
# secrets' IAM identity) and the Secret from Secrets Manager.
k apply -f "$work/rendered.yaml" -l 'app.kubernetes.io/component in (namespace,identity,secrets)'
for secret in $(documents ExternalSecret | awk '/^metadata:/ { m = 1; next } m && /^  name: / { print $2; m = 0 }'); do
  echo "secrets: waiting for externalsecret/$secret (at most $SECRETS_TIMEOUT)"
  k wait "externalsecret/$secret" --for=condition=Ready --timeout="$SECRETS_TIMEOUT"
done

echo "migrations: running job/lms-migrate with $image"
k delete job lms-migrate --ignore-not-found --wait=true
k apply -f "$work/rendered.yaml" -l app.kubernetes.io/component=migration
deadline=$((SECONDS + MIGRATION_TIMEOUT_SECONDS))
while :; do
  succeeded=$(k get job lms-migrate -o jsonpath='{.status.succeeded}')
  failed=$(k get job lms-migrate -o jsonpath='{.status.conditions[?(@.type=="Failed")].status}')
  [ "${succeeded:-0}" -ge 1 ] && break
  if [ "$failed" = True ] || ((SECONDS > deadline)); then
    k logs job/lms-migrate --tail=50 || true
    die "the migration job did not succeed; nothing else was changed"
  fi
  sleep 5
done
echo "migrations: done"

k apply -f "$work/rendered.yaml"
# A Canary's target is rolled by Flagger (its pods are the canary): its analysis is the wait for it.
canaries=$(documents Canary | awk '/^metadata:/ { m = 1; next } m && /^  name: / { print $2; m = 0 }')
targets=" $(documents Canary | awk '/^  targetRef:/ { t = 1; next } t && /^    name: / { print $2; t = 0 } /^  [a-z]/ { t = 0 }' | tr '\n' ' ') "
for deployment in $(k get -f "$work/rendered.yaml" -o jsonpath='{range .items[?(@.kind=="Deployment")]}{.metadata.name}{" "}{end}'); do
  [[ $targets == *" $deployment "* ]] && continue
  k rollout status "deployment/$deployment" --timeout="$ROLLOUT_TIMEOUT"
done
for canary in $canaries; do
  NAMESPACE="$namespace" CANARY="$canary" KUBECTL="$KUBECTL" bash "$ROOT/scripts/deploy/flagger.sh" wait "$image"
done
echo "rolled out $image to namespace $namespace"
