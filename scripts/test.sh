#!/usr/bin/env bash
# `npm test`: start the local services (idempotent; they stay up afterwards, `npm run services:down` stops
# them), install Debian's chromium if it is missing (as root), install the deployment tools into .tools/bin (Go module proxy; skipped once there), then the whole
# Jest suite: the `unit` and `static` projects in parallel, then `integration` in band (its files share the local
# services). Extra arguments go to both Jest runs: `npm test -- -t backfill`; the exit status is non-zero when
# either failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/node24.sh
source scripts/lib/node24.sh && ensure_node24
# A fresh clone has no node_modules yet: install exactly the locked versions.
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent services:up
# Debian's chromium for the dashboard's browser tests (playwright-core drives it; nothing is downloaded).
if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium  installing Debian's chromium for the browser tests"
    { apt-get install -y -qq --no-install-recommends chromium || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }; } >/dev/null
  else
    echo "chromium  missing: the browser tests need it (sudo apt-get install chromium, or CHROMIUM_PATH=...)" >&2
  fi
fi
# kustomize (and kubeconform) for the deployment tests, and the schemas of the custom resources the offline
# set lacks; each skipped when already there at the right version.
bash scripts/ci/install-tools.sh >/dev/null
bash scripts/ci/crd-schemas.sh >/dev/null
# Each Jest run also writes its results as JSON (TEST_RESULTS_DIR, default .local/test-results/npm-test); the
# last line printed adds them up: `npm-test: N passed, N failed`.
results=${TEST_RESULTS_DIR:-.local/test-results/npm-test}
rm -rf "$results" && mkdir -p "$results"
rc=0
npx --no -- jest --selectProjects unit static --passWithNoTests --json --outputFile="$results/unit-static.json" "$@" ||
  rc=$?
# --forceExit: a suite that failed without closing what it started (a cluster whose afterAll timed out) would
# otherwise keep Jest waiting on its handles after the run, with the failure already counted.
npx --no -- jest --selectProjects integration --runInBand --passWithNoTests --forceExit --json \
  --outputFile="$results/integration.json" "$@" || rc=$?
node scripts/ci/test-totals.mjs "$results" npm-test
exit "$rc"
