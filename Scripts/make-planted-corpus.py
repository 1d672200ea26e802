#!/usr/bin/env python3
"""Writes Fixtures/planted-corpus.txt: a synthetic corpus with planted structure for the CLI tests.

8 groups of 6 words (g0w0 ... g7w5). Each line draws 10 words from one group, so words co-occur only
with their group mates; a trained model must put each word's group mates among its nearest neighbours.
Deterministic: a fixed linear congruential generator, no external randomness.
"""
import sys

state = 20161231
def rand(n):
    global state
    state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    return (state >> 33) % n

lines = []
for i in range(480):
    g = i % 8
    lines.append(" ".join(f"g{g}w{rand(6)}" for _ in range(10)))
out = sys.argv[1] if len(sys.argv) > 1 else "Fixtures/planted-corpus.txt"
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
