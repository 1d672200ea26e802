#!/usr/bin/env bash
# Starts and ensembles side by side on the shared benchmark corpus cut to V words: for each seed and each
# configuration INIT:MEMBERS:EPOCHS (e.g. spectral:4:2, random:3:20), trains with the default cutoff and d 300,
# scores the model with swivel eval (WS353 and its splits, its rare and frequent halves, Google analogy 3CosAdd
# over covered questions among the 30,000 most frequent words) and prints a TSV table with the wall time of
# swivel train (loading, starts and epochs).
# Usage: Scripts/bench-start.sh [V=32768] [OUT=bench-out/start] [CONFIGS="spectral:4:2 random:3:20"] [SEEDS="1"]
# Needs ../shared (skips without it).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpora/main.txt.gz
[ -f "$corpus" ] || { echo "bench-start: $corpus not found; skipping"; exit 0; }
V=${1:-32768}
out=${2:-bench-out/start}
configs=${3:-spectral:4:2 random:3:20}
seeds=${4:-1}
mkdir -p "$out"
swift build -c release >/dev/null
bin=$(pwd)/.build/release/swivel
[ -f "$out/prep/manifest.json" ] || "$bin" prep "$corpus" --output "$out/prep" --max-vocab "$V" --quiet
table="$out/start.tsv"
printf "init\tmembers\tepochs\tseed\ttrain_s\tws353\tws353_sim\tws353_rel\tws353_rare_half\tws353_frequent_half\tanalogy_covered\n" > "$table"
for seed in $seeds; do
  for config in $configs; do
    IFS=: read -r init members epochs <<<"$config"
    name="$init-$members-$epochs-$seed"
    start=$(date +%s.%N)
    "$bin" train "$out/prep" --output "$out/model-$name" --seed "$seed" --init "$init" --ensemble "$members" \
      --epochs "$epochs" --force > "$out/train-$name.log" 2>&1
    seconds=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
    "$bin" eval "$out/model-$name" --similarity ../shared/eval/ws353.tsv ../shared/eval/ws353-sim.tsv \
      ../shared/eval/ws353-rel.tsv --analogy ../shared/eval/google-analogy.tsv --restrict 30000 \
      --frequencies "$out/prep/row_vocab.txt" --json --keep-blas-kernel > "$out/eval-$name.json"
    python3 - "$out/eval-$name.json" "$init" "$members" "$epochs" "$seed" "$seconds" >> "$table" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["file"].split("/")[-1]: x for x in r["similarity"]}
a = list(r["analogy"].values())[0][0]
w = s["ws353.tsv"]
f = lambda v: "undefined" if v is None else f"{v:.4f}"
print("\t".join(sys.argv[2:7] + [f(s[k]["spearman"]) for k in ("ws353.tsv", "ws353-sim.tsv", "ws353-rel.tsv")]
                + [f(w["rare"]["spearman"]), f(w["frequent"]["spearman"]), f(a["add"]["accuracyCovered"])]))
PY
    tail -1 "$table"
  done
done
grep -ho 'OpenBLAS [A-Za-z0-9]*' "$out"/train-*.log | head -1
column -t -s $'\t' "$table"
