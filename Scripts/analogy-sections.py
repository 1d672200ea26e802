#!/usr/bin/env python3
"""Google analogy accuracy (3CosAdd over covered questions) per section, for one or more vector files side by side.

The shared google-analogy.tsv keeps the original file's question order without its section headers; the sections
are recovered from their sizes (capital-common-countries 506, capital-world 4524, ..., gram9-plural-verbs 870).
Vectors: word2vec text format, most frequent words first (what `swivel export` and gensim write); like
`swivel eval --restrict 30000`, only the first 30,000 words are candidates (0: all) and covered questions have
all four words among them, matched exactly as `swivel eval` matches them (no case folding); the totals match its
"analogy, covered" figure.

Usage: Scripts/analogy-sections.py VECTORS.txt [VECTORS.txt ...] [--analogy FILE] [--restrict N]
Needs numpy. Skips (exit 0, saying so) when the analogy file is absent (a fresh clone has no ../shared).
"""
import argparse, os, sys

SECTIONS = [("capital-common", 506), ("capital-world", 4524), ("currency", 866), ("city-in-state", 2467),
            ("family", 506), ("adjective-to-adverb", 992), ("opposite", 812), ("comparative", 1332),
            ("superlative", 1122), ("present-participle", 1056), ("nationality-adjective", 1599),
            ("past-tense", 1560), ("plural", 1332), ("plural-verbs", 870)]
SEMANTIC = 5  # the first five sections are semantic, the rest syntactic

parser = argparse.ArgumentParser()
parser.add_argument("vectors", nargs="+")
parser.add_argument("--analogy", default=os.path.join(os.path.dirname(__file__), "../../shared/eval/google-analogy.tsv"))
parser.add_argument("--restrict", type=int, default=30000)
args = parser.parse_args()
if not os.path.exists(args.analogy):
    print(f"analogy-sections: {args.analogy} not found; skipping")
    sys.exit(0)
import numpy as np

questions = [line.split() for line in open(args.analogy, encoding="utf-8") if line.strip()]
if any(len(q) != 4 for q in questions):
    sys.exit(f"analogy-sections: {args.analogy}: every line must hold four words")
if len(questions) != sum(n for _, n in SECTIONS):
    sys.exit(f"analogy-sections: {args.analogy}: {len(questions)} questions, expected the Google set's 19,544")


def load(path):
    with open(path, encoding="utf-8") as f:
        f.readline()
        words, rows = [], []
        for i, line in enumerate(f):
            if args.restrict and i >= args.restrict:
                break
            parts = line.rstrip().split(" ")
            words.append(parts[0])
            rows.append(np.array(parts[1:], dtype=np.float32))
    m = np.array(rows)
    m /= np.linalg.norm(m, axis=1, keepdims=True) + 1e-12
    index = {}
    for i, w in enumerate(words):
        index.setdefault(w, i)
    return index, m


def score(path):
    index, m = load(path)
    results, start = [], 0
    for _, size in SECTIONS:
        section = questions[start:start + size]
        start += size
        ids = np.array([[index[w] for w in q] for q in section if all(w in index for w in q)],
                       dtype=np.int64).reshape(-1, 4)
        correct = 0
        for b in range(0, len(ids), 512):
            q = ids[b:b + 512]
            s = (m[q[:, 1]] - m[q[:, 0]] + m[q[:, 2]]) @ m.T
            rows = np.arange(len(q))
            for k in range(3):
                s[rows, q[:, k]] = -np.inf
            correct += int((s.argmax(1) == q[:, 3]).sum())
        results.append((correct, len(ids)))
    return results


scores = {path: score(path) for path in args.vectors}
names = [p[-20:] for p in args.vectors]
print("section".ljust(22) + "".join(n.rjust(22) for n in names))
for i, (name, _) in enumerate(SECTIONS):
    cells = [f"{c / max(t, 1) * 100:6.1f}% of {t:5d}" for c, t in (scores[p][i] for p in args.vectors)]
    print(name.ljust(22) + "".join(c.rjust(22) for c in cells))
for label, part in (("semantic", slice(0, SEMANTIC)), ("syntactic", slice(SEMANTIC, None)), ("all", slice(None))):
    cells = []
    for p in args.vectors:
        c = sum(x[0] for x in scores[p][part])
        t = sum(x[1] for x in scores[p][part])
        cells.append(f"{c / max(t, 1) * 100:6.2f}% of {t:5d}")
    print(label.ljust(22) + "".join(c.rjust(22) for c in cells))
