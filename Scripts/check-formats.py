#!/usr/bin/env python3
"""Exports a model in every format and checks that other tools read identical vectors:
gensim loads word2vec text and binary, numpy loads npy and bin, all equal to each other.

Usage: Scripts/check-formats.py MODEL_DIR [--swivel BIN]   (skips with a message when gensim is absent)
"""
import argparse, os, subprocess, sys, tempfile

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("--swivel", default=".build/release/swivel")
args = parser.parse_args()
try:
    import numpy as np
    from gensim.models import KeyedVectors
except ImportError:
    print("check-formats: gensim or numpy is not installed (pip install gensim); skipping")
    sys.exit(0)

out = tempfile.mkdtemp(prefix="swivel-formats-")
def export(fmt, name):
    path = os.path.join(out, name)
    subprocess.run([args.swivel, "export", args.model, "--output", path, "--format", fmt], check=True, capture_output=True)
    return path

text = KeyedVectors.load_word2vec_format(export("word2vec", "v.txt"), binary=False)
binary = KeyedVectors.load_word2vec_format(export("word2vec-binary", "v.w2v.bin"), binary=True)
glove = KeyedVectors.load_word2vec_format(export("glove", "v.glove.txt"), binary=False, no_header=True)
npy_path = export("npy", "v.npy")
npy = np.load(npy_path)
flat = np.fromfile(export("bin", "v.bin"), dtype="<f4").reshape(npy.shape)
words = open(npy_path + ".vocab").read().split("\n")[:-1]
checks = {
    "gensim word2vec text == binary": text.index_to_key == binary.index_to_key and np.array_equal(text.vectors, binary.vectors),
    "gensim GloVe text == word2vec text": glove.index_to_key == text.index_to_key and np.array_equal(glove.vectors, text.vectors),
    "numpy npy == gensim text": words == text.index_to_key and np.array_equal(npy, text.vectors),
    "numpy bin == npy": np.array_equal(flat, npy),
}
for name, ok in checks.items():
    print(f"{'ok  ' if ok else 'FAIL'} {name} ({npy.shape[0]} x {npy.shape[1]})")
sys.exit(0 if all(checks.values()) else 1)
