#!/usr/bin/env bash
# npm run test:package [-- 20 22 24 26]
#
# The package as users get it: `npm pack` (whose prepack step compiles lib/
# and builds the linux-x64 and linux-arm64 prebuilds), then for each Node.js
# major, from the npm registry (scripts/node-bin.sh):
#   x64    install the tarball into an empty project with no compiler, make or
#          python3 on PATH, so only a prebuild that loads can make it work, then
#          run test/package-smoke/smoke.mjs in it;
#   arm64  run the same smoke suite in that project with the arm64 Node under
#          qemu-user, which loads prebuilds/linux-arm64.
# Needs: g++-aarch64-linux-gnu and qemu-user-static (apt).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
versions=("$@")
((${#versions[@]} > 0)) || versions=(20 22 24 26)

qemu=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
command -v "${qemu[0]}" >/dev/null || { echo "test:package: ${qemu[0]} not found (apt-get install qemu-user-static)" >&2; exit 1; }
npm_cli=$(node -p 'require("path").join(require("path").dirname(require.resolve("npm/package.json", { paths: [require("path").dirname(process.execPath) + "/../lib/node_modules"] })), "bin", "npm-cli.js")')

work=$(mktemp -d /tmp/inotify-package-XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
echo "test:package: npm pack (prepack: tsc and the prebuilds)"
npm pack --silent --pack-destination "$work" >"$work/pack.log" 2>&1 || { cat "$work/pack.log"; exit 1; }
tarball=$(ls "$work"/inotify-native-*.tgz)
listing=$(tar -tzf "$tarball")
for want in linux-x64 linux-arm64; do
  grep -qx "package/prebuilds/$want/inotify-native.glibc.node" <<<"$listing" ||
    { echo "test:package: the tarball has no $want prebuild" >&2; exit 1; }
done
echo "test:package: $(basename "$tarball") ($(stat -c %s "$tarball") bytes) in $(( $(date +%s) - started )) s"

# A PATH like a machine without build tools: the usual commands (npm runs
# scripts with sh), but no compiler, make or python3, and no other Node.
nothing=$work/no-build-tools
mkdir -p "$nothing"
for dir in /usr/local/bin /usr/bin /bin; do
  for tool in "$dir"/*; do
    name=${tool##*/}
    case "$name" in
      cc | c++ | c89 | c99 | cpp | gcc* | g++* | clang* | *-linux-gnu-* | make | gmake | python* | node | nodejs | npm | npx | node-gyp) continue ;;
    esac
    [[ -x $tool && ! -e $nothing/$name ]] && ln -s "$tool" "$nothing/$name"
  done
done

failed=()
# smoke LABEL DIR LOG NODE-COMMAND...: the smoke suite in DIR, with the bare PATH.
smoke() {
  local label=$1 dir=$2 log=$3 began
  shift 3
  began=$(date +%s)
  if (cd "$dir" && SMOKE_LAUNCHER="${*:1:$#-1}" SMOKE_WAIT_MS=120000 PATH=$bare_path "$@" --test-reporter=tap smoke.mjs) >"$dir/$log" 2>&1; then
    echo "test:package: node $label: $(grep -E '^# (pass|fail) ' "$dir/$log" | tr '\n' ' ')($(( $(date +%s) - began )) s)"
  else
    cat "$dir/$log"
    echo "test:package: node $label: smoke suite FAILED"
    failed+=("$label")
  fi
}

for major in "${versions[@]}"; do
  x64_bin=$(bash scripts/node-bin.sh "$major" x64)
  arm_bin=$(bash scripts/node-bin.sh "$major" arm64)
  bare_path=$x64_bin:$nothing
  for tool in cc c++ gcc g++ make python3; do
    if PATH=$bare_path command -v "$tool" >/dev/null; then echo "test:package: $tool is on the bare PATH" >&2; exit 1; fi
  done
  consumer=$work/node-$major
  mkdir -p "$consumer"
  printf '{ "name": "consumer-%s", "version": "1.0.0", "private": true }\n' "$major" >"$consumer/package.json"
  cp test/package-smoke/smoke.mjs "$consumer/"

  version=$("$x64_bin/node" --version)
  echo "test:package: node $version x64: npm install the tarball with no compiler"
  if ! (cd "$consumer" && PATH=$bare_path "$x64_bin/node" "$npm_cli" install --no-audit --no-fund --prefer-offline "$tarball" >install.log 2>&1); then
    cat "$consumer/install.log"
    failed+=("$version x64 install")
    continue
  fi
  smoke "$version x64" "$consumer" x64.log "$x64_bin/node"
  smoke "$version arm64 (qemu-user)" "$consumer" arm64.log "${qemu[@]}" "$arm_bin/node"
done

if ((${#failed[@]} > 0)); then
  echo "test:package: FAILED: ${failed[*]}"
  exit 1
fi
echo "test:package: the tarball installs without a compiler and passes on Node ${versions[*]}, x64 and arm64 ($(( $(date +%s) - started )) s)"
