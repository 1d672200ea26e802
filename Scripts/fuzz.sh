#!/usr/bin/env bash
# Seeded mutation fuzzing of the shard, manifest, vector-file and embedding-matrix readers, for a bounded time.
# Usage: Scripts/fuzz.sh [SECONDS=300] [ITERATIONS_PER_ROUND=20000]
# Each round reruns the Fuzz tests with a new SWIVEL_FUZZ_SEED. A crash keeps the input that caused it in
# Fixtures/fuzz/ (add a reader-specific regression test for it) and stops with the seed to reproduce it.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
iterations=${2:-20000}
swift build --build-tests >/dev/null || exit 1
save=$(mktemp -d)
trap 'rm -rf "$save"' EXIT
end=$((SECONDS + seconds))
round=0
while [ $SECONDS -lt $end ]; do
  round=$((round + 1))
  SWIVEL_FUZZ_SEED=$round SWIVEL_FUZZ_ITERATIONS=$iterations SWIVEL_FUZZ_SAVE="$save" \
       timeout $((end - SECONDS + 30)) swift test --skip-build --filter Fuzz > "$save/log" 2>&1
  status=$?
  if [ $status -ne 0 ]; then
    if [ $status -eq 124 ]; then break; fi   # the time bound ended the round: not a crash
    if grep -q "Test run with .* passed" "$save/log"; then continue; fi
    mkdir -p Fixtures/fuzz/crashers
    for input in "$save"/*.input; do cp "$input" "Fixtures/fuzz/crashers/seed-$round-$(basename "$input")"; done
    tail -20 "$save/log"
    echo "fuzz: crash in round $round (reproduce: SWIVEL_FUZZ_SEED=$round SWIVEL_FUZZ_ITERATIONS=$iterations swift test --filter Fuzz); the last input of each reader is kept in Fixtures/fuzz/crashers/"
    exit 1
  fi
done
echo "fuzz: $round rounds of $iterations mutations per reader, no crash, in ${seconds}s"
