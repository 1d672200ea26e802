#!/usr/bin/env bash
# The whole pipeline on a default corpus: prep -> train -> export -> nearest neighbours.
# Usage: Scripts/demo.sh [CORPUS...]   (default: the King James Bible from Debian's bible-kjv package)
# Output goes to demo-output/ in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh bible-kjv
swift build -c release
bin=.build/release/swivel
out=demo-output
mkdir -p "$out"
if [ $# -gt 0 ]; then
  corpus=("$@")
else
  # One verse per line, verse numbers and chapter headings dropped, lower-cased, punctuation removed
  # (apostrophes kept inside words), in the style of the shared benchmark corpus.
  bible -l100000 gen1:1-rev22:21 \
    | grep -E '^ +[0-9]+ ' \
    | sed -e 's/^ *[0-9]* //' \
    | tr 'A-Z' 'a-z' \
    | sed -e "s/[^a-z0-9']/ /g" -e "s/ '*/ /g" -e "s/'* / /g" -e 's/  */ /g' -e 's/^ //' -e 's/ $//' \
    > "$out/kjv.txt"
  corpus=("$out/kjv.txt")
fi
"$bin" prep "${corpus[@]}" --output "$out/prep" --shard-size 1024 --force
"$bin" train "$out/prep" --output "$out/model" --dim 100 --epochs 40 --force
"$bin" export "$out/model" --output "$out/vectors.txt"
words=(god king water jesus love)
[ $# -gt 0 ] && words=($(sed -n '1,5p' "$out/prep/row_vocab.txt" | cut -f1))
"$bin" nearest "$out/model" "${words[@]}" --k 8
"$bin" plot "$out/model" --output "$out/map.svg" --top 80
"$bin" plot --training-log "$out/model" --output "$out/training.svg"
