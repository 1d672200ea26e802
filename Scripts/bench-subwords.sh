#!/usr/bin/env bash
# Subword swivel against word-level swivel and fastText with subwords, on the shared corpus, in one run.
#
# (1) V most frequent words (default 32,768): swivel prep, then swivel train with its defaults (word level) and with
#     --subwords (plus the options in SUBWORD_OPTIONS), each timed; fastText 0.9.2 skipgram with its defaults for
#     everything but -dim 300 -thread 2 (subwords of 3-6 characters, 2M buckets, window 5, 5 epochs), its .vec cut to
#     the same V words. Every model is scored by swivel eval: WS353, its similarity and relatedness splits, Google
#     analogy 3CosAdd over covered questions among the 30,000 most frequent words.
# (2) Unseen words: swivel prep --max-vocab OOV_V (default 16,384), swivel train --subwords, and fastText with
#     -minCount set to the count of the OOV_V-th word (the same vocabulary, plus fastText's </s>); each scored on the
#     WS353 pairs that have a word outside that vocabulary (swivel eval composes it from its n-grams, for a fastText
#     .bin as for swivel's model). (1)'s fastText model is scored on the same pairs too, with --known-words: its vector
#     of such a word is then the mean of its n-grams, but those n-grams learned from the word's contexts. Swivel's
#     model is also exported as a fastText .bin and checked with Scripts/check-fasttext-bin.py (gensim and the
#     fasttext command give swivel's vectors).
# Writes OUT/subwords.tsv (one row per run) and OUT/unseen.tsv. fastText's models are kept in OUT and reused by later
# runs of the script (delete OUT/fasttext-sub*.bin to retrain them; each takes about an hour on 2 cores); swivel is
# always retrained.
# Usage: Scripts/bench-subwords.sh [V=32768] [OUT=bench-out/subwords] [OOV_V=16384] [SUBWORD_OPTIONS=""]
# Needs ../shared (skips without it); installs fasttext (Debian) and gensim (pip) when missing. Prints the BLAS kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpora/main.txt.gz
[ -f "$corpus" ] || { echo "bench-subwords: $corpus not found; skipping"; exit 0; }
V=${1:-32768}
out=${2:-bench-out/subwords}
oov_v=${3:-16384}
subword_options=${4:-}
mkdir -p "$out"
command -v fasttext >/dev/null || Scripts/setup.sh fasttext
python3 -c "import gensim" 2>/dev/null || pip install -q gensim
swift build -c release >/dev/null
bin=$(pwd)/.build/release/swivel
eval_dir=../shared/eval
[ -f "$out/main.txt" ] || gzip -dc "$corpus" > "$out/main.txt"
# Wall seconds and peak resident KiB of a command, its output (swivel train's summary names the BLAS kernel) kept in LOG.
measure() { local log=$1; shift; /usr/bin/time -o "$log.time" -f "%e %M" "$@" > "$log" 2>&1; cat "$log.time"; }

"$bin" prep "$out/main.txt" --output "$out/prep-$V" --max-vocab "$V" --force --quiet
"$bin" prep "$out/main.txt" --output "$out/prep-$oov_v" --max-vocab "$oov_v" --force --quiet

table="$out/subwords.tsv"
printf "run\ttrain_s\tpeak_rss_mib\tws353\tws353_sim\tws353_rel\tanalogy_covered\tws353_pairs\n" > "$table"
score() {   # name, vectors, seconds, peak KiB
  "$bin" eval "$2" --similarity "$eval_dir/ws353.tsv" "$eval_dir/ws353-sim.tsv" "$eval_dir/ws353-rel.tsv" \
    --analogy "$eval_dir/google-analogy.tsv" --restrict 30000 --json --keep-blas-kernel > "$out/$1-eval.json"
  python3 - "$out/$1-eval.json" "$1" "$3" "$4" >> "$table" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["file"].split("/")[-1]: x for x in r["similarity"]}
a = list(r["analogy"].values())[0][0]
num = lambda v: "undefined" if v is None else f"{v:.4f}"
print("\t".join([sys.argv[2], sys.argv[3], str(int(sys.argv[4]) // 1024)]
                + [num(s[k]["spearman"]) for k in ("ws353.tsv", "ws353-sim.tsv", "ws353-rel.tsv")]
                + [num(a["add"]["accuracyCovered"]), str(s["ws353.tsv"]["covered"])]))
PY
}

# (1) Word level and subwords, one after the other on the same prep.
read -r t m < <(measure "$out/word.log" "$bin" train "$out/prep-$V" --output "$out/word-$V" --force)
grep -h "OpenBLAS" "$out/word.log" | tail -1
score word "$out/word-$V" "$t" "$m"
read -r t m < <(measure "$out/subword.log" "$bin" train "$out/prep-$V" --output "$out/subword-$V" --force --subwords $subword_options)
score subwords "$out/subword-$V" "$t" "$m"
if [ ! -f "$out/fasttext-sub.bin" ]; then
  measure "$out/fasttext.log" fasttext skipgram -input "$out/main.txt" -output "$out/fasttext-sub" -dim 300 -thread 2 -verbose 0 > "$out/fasttext.time"
fi
read -r t m < "$out/fasttext.time"
# fastText's .vec lists its words most frequent first: keep the same V for the same vocabulary cut.
head -n $((V + 1)) "$out/fasttext-sub.vec" | awk -v v="$V" 'NR == 1 {print v, $2; next} {print}' > "$out/fasttext-sub-cut.txt"
score fasttext "$out/fasttext-sub-cut.txt" "$t" "$m"

# (2) Unseen words at OOV_V.
"$bin" train "$out/prep-$oov_v" --output "$out/subword-$oov_v" --force --quiet --subwords $subword_options
min_count=$(awk -F'\t' 'END {print $2}' "$out/prep-$oov_v/row_vocab.txt")
if [ ! -f "$out/fasttext-sub-$oov_v.bin" ]; then
  fasttext skipgram -input "$out/main.txt" -output "$out/fasttext-sub-$oov_v" -dim 300 -minCount "$min_count" -thread 2 -verbose 0
fi
unseen="$out/unseen.tsv"
printf "run\tws353_unseen_pairs\tunseen_pairs\tws353_every_pair\tpairs\tws353_seen_pairs\tseen_pairs\n" > "$unseen"
for entry in "swivel:$out/subword-$oov_v" "fasttext-$oov_v:$out/fasttext-sub-$oov_v.bin" \
             "fasttext-whole-vocabulary:$out/fasttext-sub.bin"; do
  name=${entry%%:*}; vectors=${entry#*:}
  "$bin" eval "$vectors" --similarity "$eval_dir/ws353.tsv" --known-words "$out/prep-$oov_v/row_vocab.txt" \
    --json --keep-blas-kernel > "$out/$name-unseen-eval.json"
  python3 - "$out/$name-unseen-eval.json" "$name" >> "$unseen" <<'PY'
import json, sys
w = json.load(open(sys.argv[1]))["similarity"][0]
num = lambda v: "undefined" if v is None else f"{v:.4f}"
print("\t".join([sys.argv[2], num(w["unseenPairs"]["spearman"]), str(w["unseenPairs"]["covered"]),
                 num(w["everyPair"]["spearman"]), str(w["everyPair"]["covered"]), num(w["spearman"]), str(w["covered"])]))
PY
done
# The same model as a fastText .bin: gensim and the fasttext command must give swivel's vectors, seen and unseen.
"$bin" export "$out/subword-$oov_v" --output "$out/subword-$oov_v.bin" --format fasttext
cut -f1,2 "$eval_dir/ws353.tsv" | tr '\t' '\n' | sort -u > "$out/ws353-words.txt"
"$bin" export "$out/subword-$oov_v" --words "$out/ws353-words.txt" --output "$out/ws353-words.vec"
python3 Scripts/check-fasttext-bin.py "$out/subword-$oov_v.bin" "$out/ws353-words.vec"
column -t -s $'\t' "$table"
column -t -s $'\t' "$unseen"
echo "bench-subwords: tables in $table and $unseen"
