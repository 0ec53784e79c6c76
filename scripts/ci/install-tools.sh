#!/usr/bin/env bash
# Installs the deployment tools into <repo>/.tools/bin (git-ignored) from the Go module proxy, at the
# versions ../shared/schemas/README.md names, skipping each one already there at that version:
#   kubeconform (manifests against offline JSON schemas), actionlint (workflows), kustomize (overlays).
# Prints the bin folder on its last line. Needs Go (PATH or /usr/local/go/bin); no other network.
#
#   bash scripts/ci/install-tools.sh            install what is missing, print the folder
#   TOOLS_BIN=/elsewhere bash scripts/...       another folder
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
TOOLS_BIN="${TOOLS_BIN:-$ROOT/.tools/bin}"
export PATH="$PATH:/usr/local/go/bin"

# name  module (as `go version -m` reports it)  package to install  version
TOOLS=(
  "kubeconform github.com/yannh/kubeconform github.com/yannh/kubeconform/cmd/kubeconform v0.8.0"
  "actionlint github.com/rhysd/actionlint github.com/rhysd/actionlint/cmd/actionlint v1.7.12"
  "kustomize sigs.k8s.io/kustomize/kustomize/v5 sigs.k8s.io/kustomize/kustomize/v5 v5.8.2"
)

command -v go >/dev/null || { echo "install-tools.sh: Go is required (https://go.dev/dl, or /usr/local/go/bin)" >&2; exit 1; }
mkdir -p "$TOOLS_BIN"

# The module version compiled into a binary (go install records it), or nothing.
installed_version() { # binary module
  [ -x "$1" ] || return 0
  go version -m "$1" 2>/dev/null | awk -v mod="$2" '$1 == "mod" && $2 == mod { print $3 }'
}

for line in "${TOOLS[@]}"; do
  read -r name module package version <<<"$line"
  have=$(installed_version "$TOOLS_BIN/$name" "$module")
  if [ "$have" = "$version" ]; then
    echo "$name $version: present" >&2
    continue
  fi
  echo "$name $version: installing${have:+ (found $have)}" >&2
  GOBIN="$TOOLS_BIN" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "$package@$version" >&2
  have=$(installed_version "$TOOLS_BIN/$name" "$module")
  [ "$have" = "$version" ] || { echo "install-tools.sh: $name reports version '${have:-none}' after installing $version" >&2; exit 1; }
done
echo "$TOOLS_BIN"
