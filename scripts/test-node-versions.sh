#!/usr/bin/env bash
# npm run test:node-versions [-- [--report-dir DIR] [current] 22 24 26] [-- vitest args after a lone --]
#
# Runs the test suite under other Node.js majors, taken from the npm registry
# (scripts/node-bin.sh), with the same N-API addon and lib/ built by this
# checkout. `current` means this machine's Node through `npm test`.
#
# With --report-dir, each run also writes DIR/vitest-<label>.json and its
# counts; the last line printed is "TOTAL <passed> <failed>" over all runs
# (.ci/run reads it). A run that wrote no report, or failed with no failed test
# (an error outside any test, a file that did not load), counts as one failure.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

report_dir=
versions=()
while (($# > 0)) && [[ $1 != -- ]]; do
  case $1 in
    --report-dir) report_dir=$2; shift 2 ;;
    *) versions+=("$1"); shift ;;
  esac
done
(($# > 0)) && shift
((${#versions[@]} > 0)) || versions=(22 24 26)

# counts REPORT: "<passed> <failed>" from a vitest JSON report.
counts() {
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    // A file that failed to load has no tests but counts as a failure.
    const brokenFiles = (r.testResults || []).filter((f) => f.status === "failed" && (f.assertionResults || []).length === 0).length;
    console.log(`${r.numPassedTests} ${r.numFailedTests + brokenFiles}`);
  ' "$1"
}

status=0
total_passed=0
total_failed=0
for major in "${versions[@]}"; do
  reporters=()
  if [[ -n $report_dir ]]; then
    mkdir -p "$report_dir"
    report="$report_dir/vitest-node$major.json"
    rm -f "$report"
    reporters=(--reporter=default --reporter=json --outputFile="$report")
  fi
  run_status=0
  if [[ $major == current ]]; then
    echo "test:node-versions: npm test on node $(node --version)"
    npm test -- "${reporters[@]}" "$@" || run_status=$?
  else
    node_bin=$(bash "$repo/scripts/node-bin.sh" "$major" x64)
    echo "test:node-versions: node $("$node_bin/node" --version)"
    PATH="$node_bin:$PATH" "$node_bin/node" node_modules/vitest/vitest.mjs run "${reporters[@]}" "$@" || run_status=$?
  fi
  if ((run_status != 0)); then
    echo "test:node-versions: FAILED on node $major (exit status $run_status)"
    status=1
  fi
  [[ -n $report_dir ]] || continue
  if [[ ! -s $report ]]; then
    echo "test:node-versions: vitest wrote no report on node $major"
    total_failed=$((total_failed + 1))
    continue
  fi
  read -r passed failed <<<"$(counts "$report")"
  if ((run_status != 0 && failed == 0)); then
    echo "test:node-versions: vitest failed on node $major although no test failed; counting one failure"
    failed=1
  fi
  echo "test:node-versions: node $major: $passed passed, $failed failed"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
done
[[ -z $report_dir ]] || echo "TOTAL $total_passed $total_failed"
exit "$status"
