#!/usr/bin/env bash
# npm run test:asan [-- vitest args or test files]
#
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into its
# own directory (the shared build/ is never touched), then runs the
# native-facing tests against that build with libasan preloaded into every
# node process they start (vitest forks, child processes, workers).
#
# Exit status 0 only when the tests pass AND no sanitizer report was written.
# Leak detection is off: Node itself leaks on purpose at exit.
#
# Environment:
#   ASAN_BUILD_DIR  where to build (default node_modules/.cache/inotify-native-asan)
#   ASAN_SKIP_BUILD=1  reuse the last sanitized build
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage=${ASAN_BUILD_DIR:-$repo/node_modules/.cache/inotify-native-asan}
reports=$stage/reports
started=$(date +%s)

default_tests=(
  test/decode.test.ts test/events.test.ts test/errors.test.ts test/lifetime.test.ts
  test/fuzz.test.ts test/workers.test.ts test/reliability-native.test.ts test/writers.test.ts test/core-autoadd.test.ts
  test/readdir.test.ts test/core-watch-manager.test.ts
)
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  for t in "${default_tests[@]}"; do [ -e "$repo/$t" ] && tests+=("$t"); done
fi

# ---- build -----------------------------------------------------------------
if [ "${ASAN_SKIP_BUILD:-0}" != 1 ]; then
  echo "test:asan: building the addon with -fsanitize=address,undefined in $stage"
  rm -rf "$stage/native" "$stage/build" "$stage/binding.gyp"
  mkdir -p "$stage"
  cp -r "$repo/native" "$repo/binding.gyp" "$stage/"
  # node-addon-api is found from $stage by walking up to $repo/node_modules.
  build_started=$(date +%s)
  # npm passes its `nodedir` setting to node-gyp as npm_config_nodedir; when
  # this script is run directly, ask npm for it (empty means: download headers).
  gyp_args=(rebuild)
  nodedir=${npm_config_nodedir:-$(cd "$repo" && npm config get nodedir 2>/dev/null || true)}
  case "$nodedir" in ''|undefined|null) ;; *) gyp_args+=("--nodedir=$nodedir") ;; esac
  gyp_args+=(-- -Dsanitize=1)
  if ! (cd "$stage" && node "$repo/node_modules/node-gyp/bin/node-gyp.js" "${gyp_args[@]}" >"$stage/build.log" 2>&1); then
    tail -40 "$stage/build.log"
    echo "test:asan: FAILED to build the sanitized addon (log: $stage/build.log)"
    exit 1
  fi
  echo "test:asan: built in $(( $(date +%s) - build_started )) s"
fi
addon=$stage/build/Release/inotify_native.node
if ! grep -q -- '-fsanitize=address,undefined' "$stage/build/inotify_native.target.mk"; then
  echo "test:asan: the build did not pick up -Dsanitize=1 (binding.gyp 'sanitize' variable)"; exit 1
fi

libasan=$(gcc -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
  echo "test:asan: libasan.so not found (gcc -print-file-name=libasan.so printed '$libasan')"; exit 1
fi

# ---- run -------------------------------------------------------------------
# Children load the package entry from lib/ (tests rebuild it when stale).
[ -e "$repo/lib/index.js" ] || (cd "$repo" && node node_modules/typescript/bin/tsc -p tsconfig.build.json)
rm -rf "$reports"
mkdir -p "$reports"
# node-gyp-build honours <PACKAGE_NAME>_PREBUILD: every process loads $addon.
export INOTIFY_NATIVE_PREBUILD=$stage
export LD_PRELOAD=$libasan
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0:log_path=$reports/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan

# Sanitizer output: ASan writes reports to $reports; libubsan (gcc) ignores
# log_path and prints to stderr, so the run's output is searched as well.
signatures='ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer'

# Preflight: the sanitized addon is the one that loads, and it runs.
if ! loaded=$(cd "$repo" && node -e "
  const { Inotify } = require('./lib/index.js');
  const ino = new Inotify(); ino.addWatch('.', 0x100); ino.close();
  const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
  console.log(maps.split('\n').filter((l) => l.endsWith('inotify_native.node'))[0]?.split(/\s+/).pop() ?? 'none');
  console.log(maps.includes('libasan') ? 'libasan' : 'no-libasan');
" 2>&1); then
  echo "$loaded"
  for f in $(find "$reports" -type f | sort); do echo "==== $f"; cat "$f"; done
  echo "test:asan: the sanitized addon failed its preflight (load, addWatch, close)"; exit 1
fi
echo "test:asan: loaded $(echo "$loaded" | head -1) with $(echo "$loaded" | tail -1)"
if [ "$(echo "$loaded" | head -1)" != "$addon" ] || [ "$(echo "$loaded" | tail -1)" != libasan ]; then
  echo "test:asan: the sanitized addon was not the one loaded"; exit 1
fi

echo "test:asan: running ${tests[*]}"
tests_started=$(date +%s)
set +e
(cd "$repo" && node node_modules/vitest/vitest.mjs run "${tests[@]}") 2>&1 | tee "$stage/vitest.log"
status=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - tests_started ))

# ---- verdict -----------------------------------------------------------------
found=$(find "$reports" -type f | sort)
if [ -n "$found" ] || grep -Eq "$signatures" "$stage/vitest.log"; then
  for f in $found; do echo "==== $f"; cat "$f"; done
  grep -En -A12 "$signatures" "$stage/vitest.log" | head -200
  echo "test:asan: SANITIZER REPORTS above ($(echo "$found" | grep -c . || true) report file(s), $(grep -Ec "$signatures" "$stage/vitest.log") line(s) in the output); tests took ${elapsed} s"
  exit 1
fi
if [ $status -ne 0 ]; then
  echo "test:asan: tests FAILED (exit $status) with no sanitizer report; tests took ${elapsed} s"
  exit $status
fi
echo "test:asan: clean — no ASan/UBSan report, tests passed in ${elapsed} s (total $(( $(date +%s) - started )) s)"
