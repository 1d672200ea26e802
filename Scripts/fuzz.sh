#!/usr/bin/env bash
# Seeded mutation fuzzing of the shard, manifest, vector-file and embedding-matrix readers, for a bounded time.
# Usage: Scripts/fuzz.sh [SECONDS=300] [ITERATIONS_PER_ROUND=20000]
# A round starts only if the last round's duration still fits in the time left, so the run ends within SECONDS
# (plus at most the first round).
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
last=0
while [ $((SECONDS + last)) -le $end ] || [ $round -eq 0 ]; do
  round=$((round + 1))
  began=$SECONDS
  SWIVEL_FUZZ_SEED=$round SWIVEL_FUZZ_ITERATIONS=$iterations SWIVEL_FUZZ_SAVE="$save" \
       swift test --skip-build --filter Fuzz > "$save/log" 2>&1
  status=$?
  last=$((SECONDS - began))
  if [ $status -ne 0 ]; then
    if grep -q "Test run with .* passed" "$save/log"; then continue; fi
    mkdir -p Fixtures/fuzz/crashers
    for input in "$save"/*.input; do cp "$input" "Fixtures/fuzz/crashers/seed-$round-$(basename "$input")"; done
    tail -20 "$save/log"
    echo "fuzz: crash in round $round (reproduce: SWIVEL_FUZZ_SEED=$round SWIVEL_FUZZ_ITERATIONS=$iterations swift test --filter Fuzz); the last input of each reader is kept in Fixtures/fuzz/crashers/"
    exit 1
  fi
done
echo "fuzz: $round rounds of $iterations mutations per reader, no crash, in ${SECONDS}s"
