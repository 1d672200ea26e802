#!/usr/bin/env bash
# Side-by-side quality and wall-clock on the shared corpus: swivel (its defaults: window 15, 300 d, 20 epochs, 3 members),
# gensim Word2Vec (skip-gram, negative sampling) and fastText (skipgram, -maxn 0) with window 10
# sets them; same corpus, 300 d, 2 threads, min-count 5, vocabulary capped to the same V. Scores: swivel eval on every tool's vectors (WS353 and its splits, Google
# analogy 3CosAdd over the 30,000 most frequent words; WS353 also split in halves by the corpus count of each
# pair's rarer word, the same pairs for every tool). Writes and prints a TSV table.
# Usage: Scripts/bench-quality.sh [V=32768] [OUT=bench-out/quality]
# Needs ../shared (skips without it); installs gensim (pip) and fasttext (Debian) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpora/main.txt.gz
[ -f "$corpus" ] || { echo "bench-quality: $corpus not found; skipping"; exit 0; }
V=${1:-32768}
out=${2:-bench-out/quality}
mkdir -p "$out"
python3 -c "import gensim" 2>/dev/null || pip install -q gensim
command -v fasttext >/dev/null || Scripts/setup.sh fasttext
swift build -c release >/dev/null
bin=$(pwd)/.build/release/swivel
[ -f "$out/main.txt" ] || gzip -dc "$corpus" > "$out/main.txt"
eval_sets=(--similarity ../shared/eval/ws353.tsv ../shared/eval/ws353-sim.tsv ../shared/eval/ws353-rel.tsv
           --analogy ../shared/eval/google-analogy.tsv --restrict 30000)

seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }

t_swivel_prep=$(seconds "$bin" prep "$out/main.txt" --output "$out/swivel-prep" --max-vocab "$V" --force --quiet)
t_swivel_train=$(seconds "$bin" train "$out/swivel-prep" --output "$out/swivel-model" --force --quiet)
"$bin" export "$out/swivel-model" --output "$out/swivel.txt" >/dev/null

t_w2v=$(seconds python3 - "$out/main.txt" "$out/word2vec.txt" "$V" <<'PY'
import sys
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
model = Word2Vec(LineSentence(sys.argv[1]), vector_size=300, window=10, sg=1, negative=5, min_count=5,
                 max_final_vocab=int(sys.argv[3]), workers=2, seed=1)
model.wv.save_word2vec_format(sys.argv[2])
PY
)
cut -f1 "$out/swivel-prep/row_vocab.txt" > "$out/vocab-words.txt"
t_ft=$(seconds fasttext skipgram -input "$out/main.txt" -output "$out/fasttext" -dim 300 -ws 10 -minCount 5 \
        -maxn 0 -thread 2 -verbose 0)
# fastText keeps every word above min-count: keep the same V most frequent for a fair vocabulary cut.
head -n $((V + 1)) "$out/fasttext.vec" | awk -v v="$V" 'NR==1 {print v, $2; next} {print}' > "$out/fasttext-cut.txt"

table="$out/quality.tsv"
printf "tool\twall_s\tws353\tws353_sim\tws353_rel\tws353_rare_half\tws353_frequent_half\tanalogy_covered\tanalogy_all\tws353_pairs\n" > "$table"
for entry in "swivel:$out/swivel.txt:$(awk -v a="$t_swivel_prep" -v b="$t_swivel_train" 'BEGIN {print a + b}')" \
             "word2vec:$out/word2vec.txt:$t_w2v" "fasttext:$out/fasttext-cut.txt:$t_ft"; do
  IFS=: read -r tool file wall <<<"$entry"
  "$bin" eval "$file" "${eval_sets[@]}" --frequencies "$out/swivel-prep/row_vocab.txt" --json --keep-blas-kernel \
    > "$out/$tool-eval.json"
  python3 - "$out/$tool-eval.json" "$tool" "$wall" >> "$table" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["file"].split("/")[-1]: x for x in r["similarity"]}
a = list(r["analogy"].values())[0][0]
w = s["ws353.tsv"]
# An undefined correlation is null in swivel's JSON (its undefinedReason says why): "undefined" in the table.
num = lambda v: "undefined" if v is None else f"{v:.4f}"
print("\t".join([sys.argv[2], sys.argv[3]] + [num(s[k]['spearman']) for k in ("ws353.tsv", "ws353-sim.tsv", "ws353-rel.tsv")]
                + [num(w['rare']['spearman']), num(w['frequent']['spearman'])]
                + [num(a['add']['accuracyCovered']), num(a['add']['accuracyAll']), f"{s['ws353.tsv']['covered']}"]))
PY
done
column -t -s $'\t' "$table"
echo "bench-quality: table in $table (swivel wall = prep + train)"
