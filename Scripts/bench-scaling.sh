#!/usr/bin/env bash
# Scaling of training with the vocabulary: for V in 16k, 32k, 64k and 128k words of the shared benchmark corpus
# (min-count 1, cut to V), the default training run (d 300, every default: spectral start, 4 members x 2 epochs,
# --unobserved-cutoff 8); prints its total time, the time of one epoch (the second epoch of each member, mean), of
# one spectral start (the first, as train prints it), the peak RSS, and the exponents of least-squares fits of
# epoch and total time against V (log-log). With EXACT=1 also one epoch of one member with the exact computation
# from random vectors (the yardstick of the paper's cost). Not part of CI: about 20 minutes on 2 cores.
# Usage: Scripts/bench-scaling.sh [OUT=bench-out/scaling] [SIZES="16384 32768 65536 131072"] [EXACT=0]
# Needs ../shared (skips without it).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpora/main.txt.gz
[ -f "$corpus" ] || { echo "bench-scaling: $corpus not found; skipping"; exit 0; }
out=${1:-bench-out/scaling}
sizes=${2:-16384 32768 65536 131072}
exact=${3:-0}
mkdir -p "$out"
swift build -c release >/dev/null
bin=$(pwd)/.build/release/swivel
table="$out/scaling.tsv"
printf "mode\tV\tepoch_s\tstart_s\ttotal_s\tpeak_rss_mib\tsummary\n" > "$table"
for V in $sizes; do
  [ -f "$out/prep-$V/manifest.json" ] || "$bin" prep "$corpus" --output "$out/prep-$V" --min-count 1 --max-vocab "$V" --quiet
  modes=default
  [ "$exact" = 1 ] && modes="default exact"
  for mode in $modes; do
    log="$out/train-$mode-$V.log"
    options=()
    [ "$mode" = exact ] && options=(--epochs 1 --ensemble 1 --init random --unobserved-cutoff exact)
    /usr/bin/time -v "$bin" train "$out/prep-$V" --output "$out/model-$mode-$V" "${options[@]}" --force > "$log" 2> "$log.err"
    summary=$(grep "^train:" "$log")
    total=$(sed -E 's/.* in ([0-9.]+) s.*/\1/' <<<"$summary")
    start=$(grep -o 'spectral start in [0-9.]*' "$log.err" | awk '{print $NF}' || true)
    # Epoch time: the second epoch of each member (cumulative seconds in training_log.tsv), or the only one.
    epoch=$(awk -F'\t' 'NR > 1 {if ($1 == 1) first[$4] = $3; else if ($1 == 2) {sum += $3 - first[$4]; n++}}
                        END {if (n) printf "%.1f", sum / n}' "$out/model-$mode-$V/training_log.tsv")
    [ -n "$epoch" ] || epoch=$total
    rss=$(awk '/Maximum resident set size/ {printf "%.0f", $NF / 1024}' "$log.err")
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$mode" "$V" "$epoch" "${start:--}" "$total" "$rss" "$summary" >> "$table"
    tail -1 "$table" | cut -f1-6
  done
done
echo "kernel: $(grep -o 'OpenBLAS [A-Za-z0-9]*' "$out"/train-default-*.log | head -1)"
python3 - "$table" <<'PY'
import math, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
def slope(pts):
    n = len(pts); mx = sum(p[0] for p in pts) / n; my = sum(p[1] for p in pts) / n
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
for mode in sorted({r[0] for r in rows}):
    sel = [r for r in rows if r[0] == mode]
    if len(sel) < 2: continue
    for name, col in (("epoch", 2), ("total", 4)):
        print(f"{mode}: {name} time ~ V^{slope([(math.log(float(r[1])), math.log(float(r[col]))) for r in sel]):.2f}")
PY
column -t -s $'\t' "$table" | cut -c1-140
