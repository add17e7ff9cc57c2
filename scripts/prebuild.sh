#!/usr/bin/env bash
# npm run prebuild [-- x64 arm64]    (or PREBUILD_ARCHES="x64 arm64")
#
# Builds the prebuilt addons that ship in the package (`npm pack` runs this as
# its prepack step): prebuilds/linux-<arch>/inotify-native.glibc.node, one
# N-API build per architecture that loads on every Node.js >= 20.
#
#   x64    the host compiler
#   arm64  Debian's cross compiler (apt-get install g++-aarch64-linux-gnu)
#
# Each architecture is built in its own staging folder, so the build/ of the
# checkout (the addon the tests load) is never touched. Warnings fail these
# builds: they are ours, made with the compilers we test with.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

arches=("$@")
# shellcheck disable=SC2206 # a space-separated list on purpose
((${#arches[@]} > 0)) || arches=(${PREBUILD_ARCHES:-x64 arm64})

# npm passes its `nodedir` setting as npm_config_nodedir; run directly, ask npm
# (empty: node-gyp downloads the headers).
nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
case "$nodedir" in '' | undefined | null) unset npm_config_nodedir ;; *) export npm_config_nodedir=$nodedir ;; esac

mkdir -p prebuilds
for arch in "${arches[@]}"; do
  case "$arch" in
    x64) cross= ;;
    arm64) cross=aarch64-linux-gnu- ;;
    *) echo "prebuild: unknown architecture '$arch' (x64 or arm64)" >&2; exit 2 ;;
  esac
  if ! command -v "${cross}g++" >/dev/null 2>&1; then
    echo "prebuild: ${cross}g++ not found (for $arch: apt-get install ${cross:+g++-aarch64-linux-gnu}${cross:-g++})" >&2
    exit 1
  fi
  # Under node_modules/ so that binding.gyp's require('node-addon-api') finds
  # this checkout's copy by walking up.
  stage=$repo/node_modules/.cache/inotify-native-prebuild-$arch
  rm -rf "$stage"
  mkdir -p "$stage"
  cp -r native binding.gyp package.json "$stage/"
  echo "prebuild: linux-$arch"
  (
    cd "$stage"
    export CC=${cross}gcc CXX=${cross}g++ LINK=${cross}g++ AR=${cross}ar
    export INOTIFY_NATIVE_WERROR=1
    export PREBUILD_STRIP_BIN=${cross}strip
    node "$repo/node_modules/prebuildify/bin.js" --napi --strip --tag-libc --arch "$arch" >"$stage/build.log" 2>&1
  ) || { tail -30 "$stage/build.log"; echo "prebuild: the linux-$arch build FAILED (log: $stage/build.log)" >&2; exit 1; }
  built=$stage/prebuilds/linux-$arch/inotify-native.glibc.node
  [[ -f $built ]] || { echo "prebuild: $built was not made" >&2; exit 1; }
  # The right machine code, or node-gyp-build would load a file that cannot run.
  want=$([[ $arch == x64 ]] && echo 'x86-64' || echo 'aarch64')
  file -b "$built" | grep -q "$want" || { echo "prebuild: $built is not $want: $(file -b "$built")" >&2; exit 1; }
  # The floor README promises: glibc 2.28 (Node 20's own) and the C++ runtime
  # of GCC 11. A newer symbol version would make the prebuild fail to load
  # there (and the install fall back to compiling).
  newest() { "${cross}objdump" -T "$built" | grep -o "$1_[0-9.]*" | sed "s/^$1_//" | sort -V | tail -1; }
  for floor in GLIBC:2.28 GLIBCXX:3.4.29; do
    have=$(newest "${floor%%:*}")
    if [[ $(printf '%s\n%s\n' "$have" "${floor#*:}" | sort -V | tail -1) != "${floor#*:}" ]]; then
      echo "prebuild: linux-$arch needs ${floor%%:*}_$have, newer than the promised ${floor#*:}" >&2
      exit 1
    fi
  done
  rm -rf "prebuilds/linux-$arch"
  mkdir -p "prebuilds/linux-$arch"
  cp "$built" "prebuilds/linux-$arch/"
  echo "prebuild: prebuilds/linux-$arch/inotify-native.glibc.node ($(stat -c %s "$built") bytes, $want)"
done
