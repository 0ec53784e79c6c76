#!/usr/bin/env bash
# Validates the deployment files offline (no cluster, no network beyond the Go module proxy for the tools):
#   - renders every overlay and every strategy with kustomize and checks each render with
#     `kubeconform -strict` against the offline schemas and the External Secrets Operator's and KEDA's (generated
#     from their CRDs by scripts/ci/crd-schemas.sh; never -ignore-missing-schemas: a kind without a schema fails),
#     and checks the Argo CD files and the kustomization.yaml files the same way;
#   - shows the checks have teeth: the seed's own mistakes (an Application with `healthChecks`, a Flagger
#     Canary with `webhooks` beside `analysis`) and a misspelt ExternalSecret or ScaledObject field must be refused, a prod
#     overlay without its environment parameters must not render, and the release gate
#     (scripts/deploy/check-render.sh) must refuse the example values committed in overlays/prod;
#   - lints the GitHub workflows with actionlint (which runs shellcheck on their `run:` steps) and the
#     deployment and CI scripts with shellcheck.
#
#   bash scripts/ci/validate-deploy.sh
#
# Environment: LMS_SCHEMAS_DIR (default ../shared/schemas beside the repository), TOOLS_BIN (.tools/bin).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$ROOT"
SCHEMAS="${LMS_SCHEMAS_DIR:-$ROOT/../shared/schemas}"
K8S_VERSION=1.30.0

if [ ! -d "$SCHEMAS/kubernetes/v$K8S_VERSION-standalone-strict" ] || [ ! -d "$SCHEMAS/crds" ]; then
  echo "validate-deploy.sh: no offline schemas at $SCHEMAS (need kubernetes/v$K8S_VERSION-standalone-strict/ and crds/)." >&2
  echo "  Put the shared schemas beside the repository (../shared/schemas) or set LMS_SCHEMAS_DIR." >&2
  exit 1
fi
SCHEMAS="$(cd "$SCHEMAS" && pwd -P)"
command -v shellcheck >/dev/null || { echo "validate-deploy.sh: shellcheck is required (apt-get install shellcheck)" >&2; exit 1; }

TOOLS_BIN="$(bash scripts/ci/install-tools.sh | tail -n 1)"
CRD_SCHEMAS="$(bash scripts/ci/crd-schemas.sh | tail -n 1)"
KUSTOMIZE="$TOOLS_BIN/kustomize"
KUBECONFORM="$TOOLS_BIN/kubeconform"
ACTIONLINT="$TOOLS_BIN/actionlint"
echo "kustomize $("$KUSTOMIZE" version), kubeconform $(go version -m "$KUBECONFORM" | awk '$1 == "mod" { print $3 }'), actionlint $("$ACTIONLINT" -version | head -n 1), $(shellcheck --version | sed -n 's/^version: /shellcheck /p')"
echo "schemas: $SCHEMAS, $CRD_SCHEMAS"

kubeconform() {
  "$KUBECONFORM" -strict -summary -kubernetes-version "$K8S_VERSION" \
    -schema-location "$SCHEMAS/kubernetes" \
    -schema-location "$SCHEMAS/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" \
    -schema-location "$CRD_SCHEMAS/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" "$@"
}

work=$(mktemp -d)
missing="deployment/kubernetes/overlays/.render-validate-$$" # a copy beside the overlays (same relative paths)
trap 'rm -rf "$work" "$missing"' EXIT
failed=0

echo
echo "-- rendered overlays and strategies"
targets=(deployment/kubernetes/overlays/* deployment/kubernetes/strategies/* deployment/kubernetes/base)
for dir in "${targets[@]}"; do
  [ -f "$dir/kustomization.yaml" ] || continue
  out="$work/$(echo "$dir" | tr '/' '_').yaml"
  if ! "$KUSTOMIZE" build "$dir" >"$out"; then
    echo "FAIL $dir: kustomize build failed" >&2
    failed=1
    continue
  fi
  printf '%-48s ' "$dir"
  kubeconform "$out" || failed=1
done

echo
echo "-- Argo CD files and kustomization files"
printf '%-48s ' deployment/argocd
kubeconform deployment/argocd || failed=1
# Components (kind: Component) have no schema in the set; every other kustomization.yaml is a Kustomization.
mapfile -t kustomizations < <(grep -rlZ --include=kustomization.yaml --exclude-dir='.render-*' -e '^kind: Kustomization$' deployment | xargs -0 -n1 echo | sort)
printf '%-48s ' "kustomization.yaml (${#kustomizations[@]})"
kubeconform "${kustomizations[@]}" || failed=1

echo
echo "-- the seed's mistakes are refused"
refused() { # what file
  if kubeconform "$2" >"$work/refused.log" 2>&1; then
    echo "FAIL $1: kubeconform accepted it" >&2
    failed=1
  else
    echo "ok   $1: $(grep -o "additional properties '[^']*' not allowed" "$work/refused.log" | head -n 1)"
  fi
}
sed 's/^  ignoreDifferences:/  healthChecks:\n    - kind: Deployment\n      name: lms-api\n  ignoreDifferences:/' deployment/argocd/application-prod.yaml >"$work/seed-application.yaml"
refused "Application with spec.healthChecks" "$work/seed-application.yaml"
"$KUSTOMIZE" build deployment/kubernetes/strategies/flagger-canary |
  awk 'BEGIN { RS = "\n---\n" } /(^|\n)kind: Canary\n/ { print }' |
  sed 's/^    webhooks:/  webhooks:/' >"$work/seed-canary.yaml"
refused "Canary with spec.webhooks beside analysis" "$work/seed-canary.yaml"
"$KUSTOMIZE" build deployment/kubernetes/base |
  awk 'BEGIN { RS = "\n---\n" } /(^|\n)kind: ExternalSecret\n/ { print }' |
  sed 's/^  refreshInterval:/  refreshIntervall:/' >"$work/bad-externalsecret.yaml"
refused "ExternalSecret with a misspelt field" "$work/bad-externalsecret.yaml"
"$KUSTOMIZE" build deployment/kubernetes/base |
  awk 'BEGIN { RS = "\n---\n" } /(^|\n)kind: ScaledObject\n/ { print }' |
  sed 's/^  cooldownPeriod:/  coolDownPeriod:/' >"$work/bad-scaledobject.yaml"
refused "ScaledObject with a misspelt field" "$work/bad-scaledobject.yaml"

echo
echo "-- the environment parameters and the release gate"
cp -R deployment/kubernetes/overlays/prod "$missing"
sed -i '/PROMETHEUS_RELEASE:/d' "$missing/environment.yaml"
if "$KUSTOMIZE" build "$missing" >/dev/null 2>"$work/missing.log"; then
  echo "FAIL prod without PROMETHEUS_RELEASE: it rendered" >&2
  failed=1
else
  echo "ok   prod without PROMETHEUS_RELEASE does not render: $(grep -o 'fieldPath .\{1,60\} is missing' "$work/missing.log" | head -n 1)"
fi
rm -rf "$missing"
if KUSTOMIZE="$KUSTOMIZE" bash scripts/deploy/check-render.sh deployment/kubernetes/overlays/prod --application deployment/argocd/application-prod.yaml >/dev/null 2>"$work/gate.log"; then
  echo "FAIL the release gate accepted the committed prod overlay (example values, image by tag)" >&2
  failed=1
else
  echo "ok   the release gate refuses the committed prod overlay: $(grep -c '^  - ' "$work/gate.log") reasons (example values, image by tag)"
fi

echo
echo "-- workflows (actionlint, with shellcheck on run: steps)"
workflows=(.github/workflows/*.yml)
if "$ACTIONLINT" "${workflows[@]}"; then echo "ok   ${workflows[*]}"; else failed=1; fi

echo
echo "-- scripts (shellcheck)"
scripts=(scripts/deploy/*.sh scripts/smoke-tests.sh scripts/ci/*.sh test/support/*.sh deployment/kubernetes/strategies/flagger-canary/loadtest.sh .ci/run)
if shellcheck -x "${scripts[@]}"; then echo "ok   ${scripts[*]}"; else failed=1; fi

echo
if ((failed)); then
  echo "deployment files: INVALID (see above)" >&2
  exit 1
fi
echo "deployment files: valid"
