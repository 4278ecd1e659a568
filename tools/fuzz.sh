#!/usr/bin/env bash
# Run every fuzz target (fuzz/fuzz_targets) for SECONDS each, starting from its committed corpus
# (fuzz/corpus/<target>). A crash, a leak past the RSS limit or a time-out fails the run and
# leaves the input in fuzz/artifacts/<target>/; reproduce it with
#   cargo +nightly fuzz run -s none <target> fuzz/artifacts/<target>/<file>
#   tools/fuzz.sh [SECONDS] [TARGET...]      (default: 20 s, all targets)
# Needs cargo-fuzz and a nightly toolchain; without nightly, the stable compiler is told to accept
# the unstable flags cargo-fuzz passes (RUSTC_BOOTSTRAP=1).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
shift || true
if cargo +nightly --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then mapfile -t targets < <("${fuzz[@]}" list); fi
# No sanitizer: the code under test forbids `unsafe`, so what is left to find is panics,
# aborts, unbounded memory and hangs, which libFuzzer reports by itself.
"${fuzz[@]}" build -s none
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  printf '\n== fuzz %s for %s s\n' "$target" "$seconds"
  # Run from a scratch copy so that a short run does not grow the committed corpus.
  scratch=$(mktemp -d)
  cp -r "corpus/$target/." "$scratch/"
  log="$scratch.log"
  status=0
  "${fuzz[@]}" run -s none "$target" "$scratch" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
  rm -rf "$scratch"
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  rm -f "$log"
done
