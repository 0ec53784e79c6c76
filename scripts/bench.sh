#!/usr/bin/env bash
# npm run bench [-- scenario ...]: starts the local services if needed, then runs the bench scenarios
# (bench/run.ts; default all of bench/scenarios/). One JSON line per figure on stdout, also written to
# bench/results/latest.jsonl; progress and service messages on stderr.
#   BENCH_STRICT=1   exit 1 when a figure misses its target (default: only when a scenario fails)
#   other knobs: see the header of each bench/scenarios/<name>.ts
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
# shellcheck source=scripts/lib/node24.sh
source scripts/lib/node24.sh && ensure_node24
bash scripts/services.sh up >&2
exec node node_modules/ts-node/dist/bin.js --transpile-only -P tsconfig.json bench/run.ts "$@"
