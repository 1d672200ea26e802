#!/usr/bin/env bash
# End-to-end benchmark on the shared corpus: prep + train + export, timed, then gensim loads the vectors and
# scores WordSim-353. Usage: Scripts/bench.sh [extra train options...]
# Needs ../shared/corpora/main.txt.gz (skips cleanly without it). Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpora/main.txt.gz
if [ ! -f "$corpus" ]; then echo "bench: $corpus not found; skipping"; exit 0; fi
swift build -c release >/dev/null
bin=.build/release/swivel
out=${BENCH_OUT:-bench-out/bench}
mkdir -p "$out"
python3 - <<'PY'
import ctypes, ctypes.util
lib = ctypes.CDLL("libopenblas.so.0")
lib.openblas_get_corename.restype = ctypes.c_char_p
print("bench: OpenBLAS kernel at load (before swivel's re-launch):", lib.openblas_get_corename().decode())
PY
echo "bench: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}"
/usr/bin/time -f "bench: prep wall %e s, peak RSS %M KiB" \
  "$bin" prep "$corpus" --output "$out/prep" --max-vocab 32768 --force --quiet
/usr/bin/time -f "bench: train wall %e s, peak RSS %M KiB" \
  "$bin" train "$out/prep" --output "$out/model" --dim 300 --force "$@"
"$bin" export "$out/model" --output "$out/vectors.txt"
python3 Scripts/check-vectors.py "$out/vectors.txt" --swivel "$bin" \
  --similarity ../shared/eval/ws353.tsv ../shared/eval/ws353-sim.tsv ../shared/eval/ws353-rel.tsv \
  --analogy ../shared/eval/google-analogy.tsv
/usr/bin/time -f "bench: eval wall %e s" \
  "$bin" eval "$out/model" --similarity ../shared/eval/ws353.tsv ../shared/eval/ws353-sim.tsv ../shared/eval/ws353-rel.tsv \
  --analogy ../shared/eval/google-analogy.tsv
