#!/usr/bin/env bash
# Whole-vocabulary wall clock and quality on the shared corpus, in one run: swivel prep + train with their defaults
# (no --max-vocab; --min-count MIN) against gensim Word2Vec with the same settings as Scripts/bench-quality.sh
# (skip-gram, negative 5, window 10, 300 d, 2 workers, 5 epochs) and the same min-count, no vocabulary cap.
# With REFERENCE (a list of swivel train options, e.g. "--init random --epochs 20"), also trains the same prep with
# those options (first seed only), as the yardstick of an earlier default. Scores every model with swivel eval (WS353 and its splits,
# its rare and frequent halves by the corpus count of each pair's rarer word, Google analogy 3CosAdd among the
# 30,000 most frequent words); with BASE (the vocabulary file of a smaller run), the similarity scores are also
# given on the pairs whose words are all in BASE ("_base" columns), for comparing runs of different vocabularies.
# With WORD2VEC=0 word2vec is left out (to compare with the word2vec time of an earlier run).
# Usage: Scripts/bench-full-vocab.sh [MIN=5] [OUT=bench-out/full-vocab] [REFERENCE=""] [BASE=""] [SEEDS="1"] [WORD2VEC=1]
# Needs ../shared (skips without it); installs gensim (pip) when missing. Prints the BLAS kernel in use.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpora/main.txt.gz
[ -f "$corpus" ] || { echo "bench-full-vocab: $corpus not found; skipping"; exit 0; }
min=${1:-5}
out=${2:-bench-out/full-vocab}
reference=${3:-}
base=${4:-}
seeds=${5:-1}
word2vec=${6:-1}
mkdir -p "$out"
python3 -c "import gensim" 2>/dev/null || pip install -q gensim
swift build -c release >/dev/null
bin=$(pwd)/.build/release/swivel
[ -f "$out/main.txt" ] || gzip -dc "$corpus" > "$out/main.txt"
seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
# Like seconds, keeping the command's standard output in $log (swivel train's summary names the BLAS kernel).
logged_seconds() { local log=$1; shift; /usr/bin/time -o "$log.time" -f %e "$@" > "$log" 2>/dev/null; tail -1 "$log.time"; }
table="$out/full-vocab.tsv"
printf "run\tV\twall_s\tws353\tws353_sim\tws353_rel\tws353_rare_half\tws353_frequent_half\tanalogy_covered\tpairs\tws353_base\tws353_sim_base\tws353_rel_base\tpairs_base\n" > "$table"

score() {   # name, vectors (model directory or text file), wall seconds
  local name=$1 vectors=$2 wall=$3
  "$bin" eval "$vectors" --similarity ../shared/eval/ws353.tsv ../shared/eval/ws353-sim.tsv ../shared/eval/ws353-rel.tsv \
    --analogy ../shared/eval/google-analogy.tsv --restrict 30000 --frequencies "$out/prep/row_vocab.txt" \
    --json --keep-blas-kernel > "$out/$name-eval.json"
  local base_json=""
  if [ -n "$base" ]; then
    # The pairs both vocabularies cover: the similarity sets cut to pairs whose words are all in BASE.
    for set in ws353 ws353-sim ws353-rel; do
      awk -F'\t' 'NR == FNR {keep[$1] = 1; next} ($1 in keep) && ($2 in keep)' \
        "$base" "../shared/eval/$set.tsv" > "$out/$set-base.tsv"
    done
    "$bin" eval "$vectors" --similarity "$out/ws353-base.tsv" "$out/ws353-sim-base.tsv" "$out/ws353-rel-base.tsv" \
      --json --keep-blas-kernel > "$out/$name-eval-base.json"
    base_json="$out/$name-eval-base.json"
  fi
  python3 - "$out/$name-eval.json" "$name" "$wall" "$(wc -l < "$out/prep/row_vocab.txt")" "$base_json" >> "$table" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["file"].split("/")[-1]: x for x in r["similarity"]}
a = list(r["analogy"].values())[0][0]
w = s["ws353.tsv"]
num = lambda v: "undefined" if v is None else f"{v:.4f}"
row = [sys.argv[2], sys.argv[4], sys.argv[3]] + [num(s[k]["spearman"]) for k in ("ws353.tsv", "ws353-sim.tsv", "ws353-rel.tsv")]
row += [num(w["rare"]["spearman"]), num(w["frequent"]["spearman"]), num(a["add"]["accuracyCovered"]), str(w["covered"])]
if sys.argv[5]:
    b = {x["file"].split("/")[-1]: x for x in json.load(open(sys.argv[5]))["similarity"]}
    row += [num(b[k]["spearman"]) for k in ("ws353-base.tsv", "ws353-sim-base.tsv", "ws353-rel-base.tsv")] + [str(b["ws353-base.tsv"]["covered"])]
else:
    row += ["-"] * 4
print("\t".join(row))
PY
  tail -1 "$table"
}

t_prep=$(seconds "$bin" prep "$out/main.txt" --output "$out/prep" --min-count "$min" --force --quiet)
for seed in $seeds; do
  t_train=$(logged_seconds "$out/train-$seed.log" "$bin" train "$out/prep" --output "$out/swivel-$seed" --seed "$seed" --force --quiet)
  score "swivel-seed$seed" "$out/swivel-$seed" "$(awk -v a="$t_prep" -v b="$t_train" 'BEGIN {print a + b}')"
done
if [ "$word2vec" = 1 ]; then
t_w2v=$(seconds python3 - "$out/main.txt" "$out/word2vec.txt" "$min" <<'PY'
import sys
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
model = Word2Vec(LineSentence(sys.argv[1]), vector_size=300, window=10, sg=1, negative=5, min_count=int(sys.argv[3]),
                 workers=2, seed=1)
model.wv.save_word2vec_format(sys.argv[2])
PY
)
score word2vec "$out/word2vec.txt" "$t_w2v"
fi
if [ -n "$reference" ]; then
  for seed in ${seeds%% *}; do   # the first seed only: the reference is the long run
    # shellcheck disable=SC2086
    t_ref=$(logged_seconds "$out/reference-$seed.log" "$bin" train "$out/prep" --output "$out/reference-$seed" --seed "$seed" $reference --force --quiet)
    score "reference-seed$seed" "$out/reference-$seed" "$(awk -v a="$t_prep" -v b="$t_ref" 'BEGIN {print a + b}')"
  done
fi
cat "$out"/train-*.log
column -t -s $'\t' "$table"
echo "bench-full-vocab: table in $table (swivel wall = prep + train; prep $t_prep s)"
