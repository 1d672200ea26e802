#!/usr/bin/env python3
"""Checks exported vectors against gensim: gensim must load them, and `swivel eval` must agree with gensim's
evaluate_word_pairs (Spearman, Pearson) and evaluate_word_analogies (3CosAdd accuracy over covered questions).

Usage: Scripts/check-vectors.py VECTORS.txt [--swivel BIN] [--restrict N] [--similarity F ...] [--analogy F ...]
Needs gensim (pip install gensim); not part of `swift test`. Exits 1 when the two disagree.
"""
import argparse, json, math, subprocess, sys

parser = argparse.ArgumentParser()
parser.add_argument("vectors")
parser.add_argument("--swivel", default=".build/release/swivel")
parser.add_argument("--restrict", type=int, default=30000)
parser.add_argument("--similarity", nargs="*", default=[])
parser.add_argument("--analogy", nargs="*", default=[])
args = parser.parse_args()

try:
    from gensim.models import KeyedVectors
except ImportError:
    print("check-vectors: gensim is not installed (pip install gensim); skipping")
    sys.exit(0)

kv = KeyedVectors.load_word2vec_format(args.vectors, binary=False)
print(f"gensim loaded {len(kv.index_to_key)} vectors of dimension {kv.vector_size}")
if not args.similarity and not args.analogy:
    sys.exit(0)

cmd = [args.swivel, "eval", args.vectors, "--restrict", str(args.restrict), "--json"]
if args.similarity: cmd += ["--similarity"] + args.similarity
if args.analogy: cmd += ["--analogy"] + args.analogy
ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)

ok = True
for result in ours["similarity"]:
    pearson, spearman, oov = kv.evaluate_word_pairs(result["file"], delimiter="\t", restrict_vocab=len(kv.index_to_key),
                                                    case_insensitive=False)
    if result["spearman"] is None:
        # Undefined in swivel (null, with undefinedReason): gensim's scipy gives NaN for the same pairs.
        agree = math.isnan(spearman.statistic) and math.isnan(pearson.statistic)
        ok &= agree
        print(f"{result['file']}: undefined in swivel ({result['undefinedReason']}); gensim spearman {spearman.statistic:.4f} "
              f"pearson {pearson.statistic:.4f} {'agree' if agree else 'DISAGREE'}")
        continue
    agree = abs(spearman.statistic - result["spearman"]) < 1e-4 and abs(pearson.statistic - result["pearson"]) < 1e-4
    ok &= agree
    print(f"{result['file']}: spearman swivel {result['spearman']:.4f} gensim {spearman.statistic:.4f}; "
          f"pearson swivel {result['pearson']:.4f} gensim {pearson.statistic:.4f} {'agree' if agree else 'DISAGREE'}")
for path, sections in ours["analogy"].items():
    # gensim wants ': section' lines; give a file without them one header.
    with open(path) as f:
        text = f.read()
    if not text.startswith(":"):
        import tempfile
        tmp = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
        tmp.write(": all\n" + text)
        tmp.close()
        path_for_gensim = tmp.name
    else:
        path_for_gensim = path
    score, _ = kv.evaluate_word_analogies(path_for_gensim, restrict_vocab=args.restrict or len(kv.index_to_key), case_insensitive=False)
    mine = sections[0]["add"]["accuracyCovered"]
    agree = abs(score - mine) < 0.002   # near-ties in float32 may break differently
    ok &= agree
    print(f"{path}: 3CosAdd (covered) swivel {mine:.4f} gensim {score:.4f} {'agree' if agree else 'DISAGREE'}")
sys.exit(0 if ok else 1)
