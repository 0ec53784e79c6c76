#!/usr/bin/env bash
# Installs schemathesis (the API fuzzer, from PyPI) into a virtual environment under <repo>/.tools (git-ignored),
# at the pinned version, skipping it when that version is already there. Debian's Python refuses system-wide
# pip installs (PEP 668), hence the venv. Prints the `st` executable on its last line. Needs python3 (>= 3.9)
# with the venv module (Debian: python3-venv).
#
#   bash scripts/ci/install-fuzzer.sh            install if missing, print the path of st
#   FUZZ_VENV=/elsewhere bash scripts/...        another venv folder
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
VENV="${FUZZ_VENV:-$ROOT/.tools/schemathesis-venv}"
VERSION=4.32.5

have=$("$VENV/bin/st" --version 2>/dev/null | awk '{print $NF}' || true)
if [ "$have" != "$VERSION" ]; then
  echo "schemathesis $VERSION: installing into $VENV${have:+ (found $have)}" >&2
  python3 -m venv "$VENV" >&2 || { echo "install-fuzzer.sh: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
  have=$("$VENV/bin/st" --version | awk '{print $NF}')
  [ "$have" = "$VERSION" ] || { echo "install-fuzzer.sh: st reports version '$have' after installing $VERSION" >&2; exit 1; }
else
  echo "schemathesis $VERSION: present" >&2
fi
echo "$VENV/bin/st"
