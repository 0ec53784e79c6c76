#!/usr/bin/env bash
# `npm run demo`: the service's main job on local services with sample data. Installs what a fresh
# clone lacks, starts the local services, and runs scripts/demo.ts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/node24.sh
source scripts/lib/node24.sh && ensure_node24
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent services:up
exec node_modules/.bin/ts-node --transpile-only -P tsconfig.json scripts/demo.ts "$@"
