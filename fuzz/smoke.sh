#!/usr/bin/env bash
# Fuzz smoke run: each target for SECONDS seconds.
#
#   bash fuzz/smoke.sh SECONDS
#
# - `schedule` (the reference) must find nothing: a finding fails the run
#   (exit 1) after printing its replay token and trace.
# - `schedule_mutant` (a mutant chosen by the first input byte) is expected
#   to find a violation: a finding is success, and the time to it is
#   reported; no finding within SECONDS fails the run (the search lost its
#   power). It is restricted to no-identity-recheck, whose violation takes
#   a real search (the unlink-lock-before-data and data-before-lock mutants
#   break on almost any input); STAGEDIR_FUZZ_VARIANT=<mutant> picks
#   another, STAGEDIR_FUZZ_VARIANT= (empty) lets the first byte choose.
#
# Installs nothing: needs cargo-fuzz (`cargo install cargo-fuzz --locked`).
# Uses nightly when it is there, else stable; both with `-s none` (no
# sanitizer: the code under test is safe Rust, and AddressSanitizer costs
# about 5x in executions per second while finding nothing more here).
# Corpora are worked on in a temporary copy, so the checkout is untouched;
# a reference finding is kept in fuzz/artifacts/schedule/.
set -euo pipefail
secs=${1:?usage: bash fuzz/smoke.sh SECONDS}
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
  exit 2
fi
toolchain=()
if cargo +nightly --version >/dev/null 2>&1; then
  toolchain=(+nightly)
fi
fuzz() { cargo "${toolchain[@]}" fuzz "$@"; }

export STAGEDIR_FUZZ_VARIANT="${STAGEDIR_FUZZ_VARIANT-no-identity-recheck}"
if [ -z "$STAGEDIR_FUZZ_VARIANT" ]; then
  unset STAGEDIR_FUZZ_VARIANT
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building the fuzz targets (cargo ${toolchain[*]} fuzz build -s none)"
fuzz build -s none

# run TARGET ARTIFACT_DIR: runs TARGET for $secs seconds on a copy of its
# seed corpus; sets rc, elapsed (seconds) and log.
run() {
  local target=$1 artifacts=$2
  mkdir -p "$work/corpus/$target" "$artifacts"
  cp fuzz/corpus/"$target"/* "$work/corpus/$target/"
  log="$work/$target.log"
  local start end
  start=$(date +%s.%N)
  set +e
  fuzz run -s none "$target" "$work/corpus/$target" -- \
    -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1
  rc=$?
  set -e
  end=$(date +%s.%N)
  elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
}

# The figures libFuzzer prints at exit.
stats() {
  local runs rate
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  echo "${runs:-?} executions, ${rate:-?} exec/s"
}

failed=0

echo
echo "=== schedule (reference): ${secs} s, must find nothing"
run schedule fuzz/artifacts/schedule
if [ "$rc" -eq 0 ]; then
  echo "schedule: no finding in ${elapsed} s ($(stats))"
else
  echo "schedule: FINDING on the reference after ${elapsed} s (exit $rc):"
  grep -E '^replay:|violated|BROKEN' "$log" | head -5 || true
  tail -n 60 "$log"
  echo "the input is in fuzz/artifacts/schedule/"
  failed=1
fi

echo
echo "=== schedule_mutant: up to ${secs} s, must find a violation${STAGEDIR_FUZZ_VARIANT:+ of $STAGEDIR_FUZZ_VARIANT}"
run schedule_mutant "$work/artifacts/schedule_mutant"
finding=$(ls "$work/artifacts/schedule_mutant" 2>/dev/null | head -1 || true)
if [ "$rc" -ne 0 ] && [ -n "$finding" ]; then
  echo "schedule_mutant: finding after ${elapsed} s (time to first finding; $(stats))"
  grep -E '^replay:' "$log" | head -1 || true
  grep -E 'violated' "$log" | head -1 || true
elif [ "$rc" -ne 0 ]; then
  echo "schedule_mutant: libFuzzer failed (exit $rc) without a finding:"
  tail -n 40 "$log"
  failed=1
else
  echo "schedule_mutant: NO finding in ${secs} s ($(stats)): the search should find a mutant"
  failed=1
fi

exit "$failed"
