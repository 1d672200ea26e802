#!/usr/bin/env bash
# Prep benchmark on the shared corpus: `swivel prep` (window 10, min-count 5, default vocabulary) with
# --threads 1 and --threads 2, and with --memory 1; per phase (vocabulary, counting, merging and writing):
# wall time, tokens/s and peak RSS; the whole run timed by /usr/bin/time. Checks that every run wrote
# byte-identical shards. Usage: Scripts/bench-prep.sh. Needs ../shared/corpora/main.txt.gz (skips without it).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpora/main.txt.gz
if [ ! -f "$corpus" ]; then echo "bench-prep: $corpus not found; skipping"; exit 0; fi
swift build -c release >/dev/null
bin=.build/release/swivel
out=${BENCH_OUT:-bench-out/prep}
mkdir -p "$out"
echo "bench-prep: $(nproc) cores, $(grep MemTotal /proc/meminfo | tr -s ' ')"
run() {
  local name=$1; shift
  rm -rf "${out:?}/$name"
  /usr/bin/time -f "bench-prep: $name: wall %e s, peak RSS %M KiB" \
    "$bin" prep "$corpus" --output "$out/$name" --window 10 --min-count 5 --phases --quiet "$@" 2>&1 \
    | sed "s/^prep/bench-prep: $name: prep/"
}
run threads-1 --threads 1
run threads-2 --threads 2
run threads-2-memory-1 --threads 2 --memory 1
run threads-2-memory-0.25 --threads 2 --memory 0.25
for name in threads-2 threads-2-memory-1 threads-2-memory-0.25; do
  if diff -rq "$out/threads-1/shards" "$out/$name/shards" >/dev/null \
     && cmp -s "$out/threads-1/row_sums.txt" "$out/$name/row_sums.txt"; then
    echo "bench-prep: $name: shards and marginals identical to threads-1"
  else
    echo "bench-prep: $name: DIFFERENT from threads-1"; exit 1
  fi
done
echo "bench-prep: anchor (docs/benchmarks.md, same corpus and window, 2-core AMD EPYC): GloVe vocab_count + cooccur 17.9 s, 1.5 GiB"
