#!/usr/bin/env bash
# The release's last look at an overlay before it is deployed (.github/workflows/deploy.yml: staging before
# the rollout, production before its commit to the `production` branch). Renders the overlay, with the
# release image when one is given (as scripts/deploy/apply-overlay.sh does), and refuses it when:
#   - it does not render (a parameter of components/environment is missing from environment.yaml);
#   - it holds a documentation placeholder: the word "example" (EXAMPLE, example.com, example-org, ...),
#     the AWS accounts 123456789012 or 000000000000, a .invalid host, a TEST-NET address (192.0.2.0/24,
#     198.51.100.0/24, 203.0.113.0/24), a "set-...-in-the-overlay" marker;
#   - an image of this service is not pinned by digest, or a container is not pulled IfNotPresent;
#   - the ServiceMonitor or the PrometheusRule carries no `release` label for Prometheus to select it by.
# --application FILE checks that Argo CD Application for placeholders too (its repository URL).
#
#   scripts/deploy/check-render.sh OVERLAY_DIR [IMAGE] [--application FILE]
#
# Exit status: 0 accepted, 1 refused (one line per reason on stderr), 2 usage.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
IMAGE_NAME=legacy-migration-service
PLACEHOLDERS='[Ee][Xx][Aa][Mm][Pp][Ll][Ee]|123456789012|000000000000|\.invalid\b|(^|[^0-9])(192\.0\.2|198\.51\.100|203\.0\.113)\.[0-9]|set-[a-z-]*-in-the-overlay'

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

overlay="" image="" application=""
while [ $# -gt 0 ]; do
  case "$1" in
    --application) application="${2:-}"; [ -n "$application" ] || usage; shift ;;
    -h | --help) usage ;;
    -*) echo "check-render.sh: unknown option '$1'" >&2; usage ;;
    *)
      if [ -z "$overlay" ]; then overlay=$1
      elif [ -z "$image" ]; then image=$1
      else usage
      fi
      ;;
  esac
  shift
done
[ -n "$overlay" ] || usage
[ -f "$overlay/kustomization.yaml" ] || { echo "check-render.sh: $overlay has no kustomization.yaml" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
render="$work/rendered.yaml"
if [ -n "$image" ]; then
  bash "$ROOT/scripts/deploy/apply-overlay.sh" "$overlay" "$image" --print >"$render" 2>"$work/render.err" || true
else
  KUSTOMIZE="${KUSTOMIZE:-$(command -v kustomize || echo "$ROOT/.tools/bin/kustomize")}"
  "$KUSTOMIZE" build "$overlay" >"$render" 2>"$work/render.err" || true
fi

reasons=()
refuse() { reasons+=("$1"); }
# "LINE:TEXT" from grep -n as "line LINE: TEXT" without the indentation.
located() { local text=${1#*:}; echo "line ${1%%:*}: ${text#"${text%%[![:space:]]*}"}"; }

if [ ! -s "$render" ]; then
  refuse "the overlay does not render: $(tr '\n' ' ' <"$work/render.err" | head -c 400)"
else
  # Placeholders, with the line that holds each (at most five).
  if grep -nE "$PLACEHOLDERS" "$render" >"$work/placeholders"; then
    while IFS= read -r line; do refuse "placeholder in the render, $(located "$line")"; done < <(head -n 5 "$work/placeholders")
    n=$(wc -l <"$work/placeholders")
    ((n <= 5)) || refuse "... and $((n - 5)) more placeholder lines"
  fi
  # This service's images by digest; every container pulled IfNotPresent (a digest never changes).
  while IFS= read -r ref; do
    [[ $ref =~ @sha256:[0-9a-f]{64}$ ]] || refuse "image not pinned by digest: $ref"
  done < <(sed -n "s/^ *image: \(.*$IMAGE_NAME.*\)$/\1/p" "$render" | sort -u)
  grep -q "^ *image: .*$IMAGE_NAME" "$render" || refuse "no container runs $IMAGE_NAME"
  while IFS= read -r policy; do
    [ "$policy" = IfNotPresent ] || refuse "imagePullPolicy $policy (by digest it is IfNotPresent)"
  done < <(sed -n 's/^ *imagePullPolicy: *//p' "$render" | sort -u)
  # The objects Prometheus must select.
  for kind in ServiceMonitor PrometheusRule; do
    awk -v kind="$kind" 'BEGIN { RS = "\n---\n" } $0 ~ "(^|\n)kind: " kind "\n" { found = 1; if ($0 !~ /\n  labels:\n([^\n]*\n)*    release: [^\n]+/) bad = 1 } END { exit !(found && !bad) }' "$render" ||
      refuse "$kind without a release label (PROMETHEUS_RELEASE)"
  done
fi
if [ -n "$application" ]; then
  if grep -nE "$PLACEHOLDERS" "$application" >"$work/app-placeholders"; then
    while IFS= read -r line; do refuse "placeholder in $application, $(located "$line")"; done < <(head -n 5 "$work/app-placeholders")
  fi
fi

if ((${#reasons[@]} > 0)); then
  echo "check-render.sh: $overlay refused:" >&2
  printf '  - %s\n' "${reasons[@]}" >&2
  exit 1
fi
echo "check-render.sh: $overlay accepted${image:+ with $image}"
