#!/usr/bin/env python3
"""Checks that other tools read a fastText .bin model with the vectors swivel says its words have.

MODEL.bin is loaded with gensim's load_facebook_model and load_facebook_vectors and, when the `fasttext` command
is installed, queried with `fasttext print-word-vectors`. EXPECTED.vec (word2vec text: a "count dim" line, then
"word v1 ... vd") holds the vector swivel gives each word, for words in the model's dictionary and words outside it
(whose vectors come from their character n-grams alone). For each reader the script prints, separately for words in
the model's vocabulary and words outside it, how many were compared and the largest relative difference, where a
vector's relative difference is max|theirs - expected| / max|expected| (the absolute difference for a zero vector).

Usage: Scripts/check-fasttext-bin.py MODEL.bin EXPECTED.vec [WORDS...]
Compares WORDS (all of EXPECTED.vec's words when none are given). Installs gensim with pip when it is missing.
Exits 1 when a difference exceeds 1e-4 (1e-3 for the fasttext command, which prints 5 significant digits), or when
a word has no expected vector.
"""
import gc, shutil, subprocess, sys

if len(sys.argv) < 3:
    print(__doc__.strip(), file=sys.stderr)
    sys.exit(2)
model_path, expected_path, chosen = sys.argv[1], sys.argv[2], sys.argv[3:]

try:
    import numpy as np
    from gensim.models.fasttext import load_facebook_model, load_facebook_vectors
except ImportError:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "gensim"], check=True)
    import numpy as np
    from gensim.models.fasttext import load_facebook_model, load_facebook_vectors

expected = {}
with open(expected_path, encoding="utf-8") as f:
    count, dim = (int(x) for x in f.readline().split())
    for line in f:
        fields = line.rstrip("\n").rstrip(" ").split(" ")
        expected[fields[0]] = np.array([float(x) for x in fields[1:]], dtype=np.float64)
missing = [w for w in chosen if w not in expected]
if missing:
    print(f"check-fasttext-bin: no expected vector for {len(missing)} word(s): {' '.join(missing[:10])}")
    sys.exit(1)
words = chosen or list(expected)
bad_width = [w for w in words if expected[w].shape != (dim,)]
if bad_width:
    print(f"check-fasttext-bin: {expected_path}: {len(bad_width)} vector(s) are not of dimension {dim}, e.g. {bad_width[0]}")
    sys.exit(1)


def relative_difference(theirs, ours):
    scale = np.max(np.abs(ours))
    difference = np.max(np.abs(np.asarray(theirs, dtype=np.float64) - ours))
    return difference / scale if scale > 0 else difference


def report(reader, vectors, vocabulary, tolerance):
    """Prints the comparison of `vectors` (word -> vector) for words in and outside `vocabulary`; True when within tolerance."""
    ok = True
    parts = []
    for label, group in (("in vocabulary", [w for w in vectors if w in vocabulary]),
                         ("outside", [w for w in vectors if w not in vocabulary])):
        worst = max((relative_difference(vectors[w], expected[w]) for w in group), default=0.0)
        ok &= worst <= tolerance
        parts.append(f"{label}: {len(group)} words, largest relative difference {worst:.3g}")
    print(f"{'ok  ' if ok else 'FAIL'} {reader}: {'; '.join(parts)} (tolerance {tolerance:g})")
    return ok


model = load_facebook_model(model_path)
vocabulary = set(model.wv.key_to_index)
ok = report("gensim load_facebook_model", {w: model.wv[w] for w in words}, vocabulary, 1e-4)
del model
gc.collect()
wv = load_facebook_vectors(model_path)
ok &= report("gensim load_facebook_vectors", {w: wv[w] for w in words}, vocabulary, 1e-4)
del wv
gc.collect()

fasttext = shutil.which("fasttext")
if fasttext is None:
    print("skip fasttext print-word-vectors: the fasttext command is not installed")
else:
    # fastText reads the words it is asked about split at white space; words holding any cannot be asked about.
    askable = [w for w in words if w and not any(c in w for c in " \t\n\r\v\f\0")]
    run = subprocess.run([fasttext, "print-word-vectors", model_path], input="\n".join(askable) + "\n",
                         capture_output=True, text=True, encoding="utf-8")
    if run.returncode != 0:
        print(f"FAIL fasttext print-word-vectors exited with {run.returncode}: {run.stderr.strip()}")
        sys.exit(1)
    lines = run.stdout.split("\n")[:len(askable)]
    printed = {w: [float(x) for x in line.split(" ")[1:] if x] for w, line in zip(askable, lines)}
    if len(printed) != len(askable) or any(len(v) != dim for v in printed.values()):
        print(f"FAIL fasttext print-word-vectors printed {len(lines)} lines for {len(askable)} words")
        sys.exit(1)
    ok &= report("fasttext print-word-vectors", printed, vocabulary, 1e-3)
sys.exit(0 if ok else 1)
