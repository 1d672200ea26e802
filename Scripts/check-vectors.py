#!/usr/bin/env python3
"""Loads exported word2vec text with gensim and reports WordSim-353 Spearman (covered pairs).

Usage: Scripts/check-vectors.py VECTORS.txt [SIMILARITY.tsv ...]
Needs gensim (pip install gensim); not part of `swift test`.
"""
import sys

try:
    from gensim.models import KeyedVectors
except ImportError:
    print("check-vectors: gensim is not installed (pip install gensim); skipping")
    sys.exit(0)

vectors = KeyedVectors.load_word2vec_format(sys.argv[1], binary=False)
print(f"gensim loaded {len(vectors.index_to_key)} vectors of dimension {vectors.vector_size}")
for path in sys.argv[2:]:
    pearson, spearman, oov = vectors.evaluate_word_pairs(path, delimiter="\t", restrict_vocab=len(vectors.index_to_key))
    print(f"{path}: spearman {spearman.statistic:.4f} pearson {pearson.statistic:.4f} (pairs with an unknown word: {oov:.1f}%)")
