#!/usr/bin/env bash
# npm run test:node-versions [-- 22 24 26] [-- vitest args after a lone --]
#
# Runs the test suite under other Node.js majors, taken from the npm registry
# (scripts/node-bin.sh), with the same N-API addon and lib/ built by this
# checkout.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

versions=()
while (($# > 0)) && [[ $1 != -- ]]; do versions+=("$1"); shift; done
(($# > 0)) && shift
((${#versions[@]} > 0)) || versions=(22 24 26)

status=0
for major in "${versions[@]}"; do
  node_bin=$(bash "$repo/scripts/node-bin.sh" "$major" x64)
  echo "test:node-versions: node $("$node_bin/node" --version)"
  if ! PATH="$node_bin:$PATH" "$node_bin/node" node_modules/vitest/vitest.mjs run "$@"; then
    echo "test:node-versions: FAILED on node $major"
    status=1
  fi
done
exit "$status"
