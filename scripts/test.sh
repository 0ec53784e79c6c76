#!/usr/bin/env bash
# `npm test`: start the local services (idempotent; they stay up afterwards, `npm run services:down` stops
# them), install the deployment tools into .tools/bin (Go module proxy; skipped once there), then the whole
# Jest suite in band. Extra arguments go to Jest: `npm test -- -t backfill`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# A fresh clone has no node_modules yet: install exactly the locked versions.
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent services:up
# kustomize (and kubeconform) for the deployment tests; skipped when already there at the right version.
bash scripts/ci/install-tools.sh >/dev/null
exec npx --no -- jest --runInBand "$@"
