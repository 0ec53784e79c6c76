#!/usr/bin/env bash
# The JSON schemas kubeconform needs for custom resources the offline set (../shared/schemas) lacks:
# External Secrets Operator's ExternalSecret and SecretStore (external-secrets.io/v1), and KEDA's ScaledObject
# (keda.sh/v1alpha1, the sync workers' autoscaling). The CRDs come from each operator's Go module through the
# Go module proxy (as install-tools.sh gets the tools), at the version named here, and
# scripts/ci/crd-schemas.js turns them into strict schemas (unknown fields refused). Generated once
# into <repo>/.tools/schemas/crds (git-ignored); prints that folder on its last line. Needs Go and Node (with
# `npm ci` done: the converter reads YAML with the `yaml` package).
#
#   bash scripts/ci/crd-schemas.sh
#   CRD_SCHEMAS_DIR=/elsewhere bash scripts/ci/crd-schemas.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
OUT="${CRD_SCHEMAS_DIR:-$ROOT/.tools/schemas/crds}"
export PATH="$PATH:/usr/local/go/bin"

# The operator release the manifests are written for (external-secrets.io/v1 is served from v0.16 on).
ESO_MODULE=github.com/external-secrets/external-secrets
ESO_VERSION=v1.3.2
ESO_CRDS=(external-secrets.io_externalsecrets.yaml external-secrets.io_secretstores.yaml)

# The KEDA release the ScaledObject is written for.
KEDA_MODULE=github.com/kedacore/keda/v2
KEDA_VERSION=v2.17.2
KEDA_CRDS=(keda.sh_scaledobjects.yaml)

generate() { # name module version crd-folder crd...
  local name=$1 module=$2 version=$3 folder=$4 stamp dir crd files=()
  shift 4
  stamp="$OUT/.$name-$version"
  [ -f "$stamp" ] && return 0
  command -v go >/dev/null || { echo "crd-schemas.sh: Go is required" >&2; exit 1; }
  echo "$name $version: generating the schemas of $*" >&2
  dir=$(cd "$ROOT" && go mod download -json "$module@$version" | node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => console.log(JSON.parse(s).Dir))')
  for crd in "$@"; do files+=("$dir/$folder/$crd"); done
  (cd "$ROOT" && node scripts/ci/crd-schemas.js "$OUT" "${files[@]}")
  touch "$stamp"
}

generate external-secrets "$ESO_MODULE" "$ESO_VERSION" config/crds/bases "${ESO_CRDS[@]}"
generate keda "$KEDA_MODULE" "$KEDA_VERSION" config/crd/bases "${KEDA_CRDS[@]}"
echo "$OUT"
