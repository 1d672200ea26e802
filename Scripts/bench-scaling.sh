#!/usr/bin/env bash
# Scaling of training with the vocabulary: for V in 16k, 32k, 64k and 128k words of the shared benchmark corpus
# (min-count 1, cut to V), one epoch of one member at d 300 with the exact computation and with
# --unobserved-cutoff C; prints the epoch time, the default run's projected time (20 epochs x 3 members), the
# peak RSS, and the exponent of a least-squares fit of time against V (log-log). Not part of CI: about
# 15 minutes on 2 cores.
# Usage: Scripts/bench-scaling.sh [OUT=bench-out/scaling] [CUTOFF=8] [SIZES="16384 32768 65536 131072"]
# Needs ../shared (skips without it).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpora/main.txt.gz
[ -f "$corpus" ] || { echo "bench-scaling: $corpus not found; skipping"; exit 0; }
out=${1:-bench-out/scaling}
cutoff=${2:-8}
sizes=${3:-16384 32768 65536 131072}
mkdir -p "$out"
swift build -c release >/dev/null
bin=$(pwd)/.build/release/swivel
table="$out/scaling.tsv"
printf "mode\tV\tepoch_s\tdefault_total_s\tpeak_rss_mib\tsummary\n" > "$table"
for V in $sizes; do
  [ -f "$out/prep-$V/manifest.json" ] || "$bin" prep "$corpus" --output "$out/prep-$V" --min-count 1 --max-vocab "$V" --quiet
  for mode in exact "$cutoff"; do
    log="$out/train-$mode-$V.log"
    /usr/bin/time -v "$bin" train "$out/prep-$V" --output "$out/model-$mode-$V" --epochs 1 --ensemble 1 \
      --unobserved-cutoff "$mode" --force > "$log" 2> "$log.err"
    summary=$(grep "^train:" "$log")
    seconds=$(sed -E 's/.* in ([0-9.]+) s.*/\1/' <<<"$summary")
    rss=$(awk '/Maximum resident set size/ {printf "%.0f", $NF / 1024}' "$log.err")
    printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$mode" "$V" "$seconds" "$(awk -v s="$seconds" 'BEGIN {printf "%.0f", s * 60}')" \
      "$rss" "$summary" >> "$table"
    tail -1 "$table" | cut -f1-5
  done
done
echo "kernel: $(grep -o 'OpenBLAS [A-Za-z0-9]*' "$out"/train-exact-*.log | head -1)"
python3 - "$table" <<'PY'
import math, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
for mode in sorted({r[0] for r in rows}):
    pts = [(math.log(float(r[1])), math.log(float(r[2]))) for r in rows if r[0] == mode]
    n = len(pts); mx = sum(p[0] for p in pts) / n; my = sum(p[1] for p in pts) / n
    slope = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    print(f"{mode}: time ~ V^{slope:.2f}")
PY
column -t -s $'\t' "$table" | cut -c1-120
