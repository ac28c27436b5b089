#!/usr/bin/env bash
# Build the fuzz targets (cargo-fuzz on libFuzzer, see docs/fuzzing.md) and run each one
# for SECONDS (default 30) from its committed corpus. A crash fails the run; libFuzzer
# prints the input and leaves it under fuzz/artifacts/TARGET/ to reproduce with
# `cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-…`.
# The build is unoptimized (`--dev`, with overflow checks and AddressSanitizer): it compiles
# the server's whole dependency tree with coverage instrumentation, which took 28 min in
# release mode (one codegen unit) on two cores and 15 min in dev mode, each with another
# build beside it; a short run replays the corpus and needs coverage, not speed.
# For long runs: FUZZ_RELEASE=1 bash .ci/fuzz.sh 3600.
set -euo pipefail
cd "$(dirname "$0")/.."
EACH="${1:-30}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
# cargo-fuzz hands rustc unstable flags (the sanitizer, coverage instrumentation); the one
# stable toolchain of these machines takes them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
cd fuzz
if [ -n "${FUZZ_RELEASE:-}" ]; then
  BUILD=(--debug-assertions)
else
  BUILD=(--dev)
fi
cargo fuzz build "${BUILD[@]}"
NEW="$(mktemp -d)"
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target" "$NEW/$target"
  echo "-- $target: ${EACH} s"
  # New inputs go to the scratch directory (first); the committed corpus is only read.
  if ! cargo fuzz run "${BUILD[@]}" "$target" "$NEW/$target" "corpus/$target" -- \
    -max_total_time="$EACH" -print_final_stats=1 >"$NEW/$target.log" 2>&1; then
    tail -n 60 "$NEW/$target.log"
    echo "fuzz target $target failed: the input is under fuzz/artifacts/$target/"
    exit 1
  fi
  grep -E "^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb)" "$NEW/$target.log"
done
rm -rf "$NEW"
