#!/usr/bin/env bash
# Runs the fuzz targets of a SYMPHONY_FUZZ build one after the other, each for a bounded time, and
# fails when one finds a crash.
# Usage: fuzz/run_fuzzers.sh BUILD_DIR [SECONDS_PER_TARGET [TARGET...]]
#   (targets by name: run_config, safetensors, ...; default: all of fuzz/*_fuzz.cc, 20 s each)
# Inputs that reach new code collect in BUILD_DIR/fuzz-corpus/<target>, and later runs start from
# them as well as from fuzz/corpus/<target> and fuzz/regressions/<target>. A crashing input is
# left in BUILD_DIR/fuzz-artifacts/<target>/; once the bug is fixed it goes into
# fuzz/regressions/<target>/, which ctest runs (fuzz_<target>_regressions).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
seconds=${2:-20}
shift $(($# < 2 ? $# : 2))
targets=("$@")
if ((${#targets[@]} == 0)); then
  for source in "$root"/fuzz/*_fuzz.cc; do
    name=$(basename "$source" _fuzz.cc)
    targets+=("$name")
  done
fi
# shellcheck source=/dev/null
source "$build/sanitizer_env.sh"

status=0
for name in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$name"
  artifacts="$build/fuzz-artifacts/$name"
  log="$build/fuzz-artifacts/$name.log"
  mkdir -p "$corpus" "$artifacts"
  inputs=("$corpus" "$root/fuzz/corpus/$name")
  [[ -d "$root/fuzz/regressions/$name" ]] && inputs+=("$root/fuzz/regressions/$name")
  start=$SECONDS
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: so is memory beyond 2 GiB, and a
  # single allocation beyond it (libFuzzer's malloc limit defaults to the RSS limit).
  if "$build/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -dict="$root/fuzz/numbers.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
      "${inputs[@]}" >"$log" 2>&1; then
    echo "fuzz_$name: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
      grep -o '[0-9]*$') inputs in $((SECONDS - start)) s, corpus $(ls "$corpus" | wc -l) files"
  else
    echo "fuzz_$name: FAILED after $((SECONDS - start)) s; log $log, input in $artifacts/:"
    tail -n 60 "$log"
    status=1
  fi
done
exit $status
