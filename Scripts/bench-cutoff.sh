#!/usr/bin/env bash
# Quality guard of --unobserved-cutoff against the exact computation, on the shared benchmark corpus cut to V
# words: for each seed, trains the exact model and one per cutoff (one member each, the default 20 epochs,
# d 300), scores each with swivel eval (WS353 and its splits, its rare and frequent halves, Google analogy
# 3CosAdd over covered questions among the 30,000 most frequent words) and prints a TSV table with the training
# time. The spread between seeds of the exact runs is the yardstick.
# Usage: Scripts/bench-cutoff.sh [V=32768] [OUT=bench-out/cutoff] [SEEDS="1 2 3"] [CUTOFFS="8 6"] [ENSEMBLE=1]
# Needs ../shared (skips without it).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpora/main.txt.gz
[ -f "$corpus" ] || { echo "bench-cutoff: $corpus not found; skipping"; exit 0; }
V=${1:-32768}
out=${2:-bench-out/cutoff}
seeds=${3:-1 2 3}
cutoffs=${4:-8 6}
ensemble=${5:-1}
mkdir -p "$out"
swift build -c release >/dev/null
bin=$(pwd)/.build/release/swivel
[ -f "$out/prep/manifest.json" ] || "$bin" prep "$corpus" --output "$out/prep" --max-vocab "$V" --quiet
eval_sets=(--similarity ../shared/eval/ws353.tsv ../shared/eval/ws353-sim.tsv ../shared/eval/ws353-rel.tsv
           --analogy ../shared/eval/google-analogy.tsv --restrict 30000 --frequencies "$out/prep/row_vocab.txt")
table="$out/cutoff.tsv"
printf "cutoff\tseed\ttrain_s\tcomputed_cells\tws353\tws353_sim\tws353_rel\tws353_rare_half\tws353_frequent_half\tanalogy_covered\n" > "$table"
for seed in $seeds; do
  for cutoff in exact $cutoffs; do
    model="$out/model-$cutoff-$seed"
    log="$out/train-$cutoff-$seed.log"
    start=$(date +%s.%N)
    "$bin" train "$out/prep" --output "$model" --seed "$seed" --ensemble "$ensemble" --unobserved-cutoff "$cutoff" --force \
      2> "$log" > "$log.out"
    seconds=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
    computed=$(grep -o '[0-9]*% of them outside' "$log" | cut -d% -f1 || true)
    "$bin" eval "$model" "${eval_sets[@]}" --json --keep-blas-kernel > "$out/eval-$cutoff-$seed.json"
    python3 - "$out/eval-$cutoff-$seed.json" "$cutoff" "$seed" "$seconds" "${computed:-100}" >> "$table" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["file"].split("/")[-1]: x for x in r["similarity"]}
a = list(r["analogy"].values())[0][0]
w = s["ws353.tsv"]
f = lambda v: "undefined" if v is None else f"{v:.4f}"
print("\t".join(sys.argv[2:5] + [sys.argv[5] + "%"] + [f(s[k]["spearman"]) for k in ("ws353.tsv", "ws353-sim.tsv", "ws353-rel.tsv")]
                + [f(w["rare"]["spearman"]), f(w["frequent"]["spearman"]), f(a["add"]["accuracyCovered"])]))
PY
    tail -1 "$table"
  done
done
grep -h "kernel\|OpenBLAS" "$out"/train-exact-*.log.out | head -1
column -t -s $'\t' "$table"
