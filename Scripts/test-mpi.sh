#!/usr/bin/env bash
# Issue #7's main test: `mpirun -np P swivel prep` must write byte for byte the prep directory of one
# process, and `mpirun -np P swivel train` (P ranks on this machine, loopback only) must give bitwise the
# vectors of one process with `swivel train --strata P`, for P = 2 and 3, also across a checkpoint and
# `--resume` under MPI.
# Installs Open MPI (Debian: libopenmpi-dev, openmpi-bin) when missing and builds swivel with the MPI trait
# into .build-mpi (the default build needs no MPI). Usage: Scripts/test-mpi.sh
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh libopenmpi-dev openmpi-bin
swift build >/dev/null
swift build --traits MPI --build-path .build-mpi >/dev/null
bin=.build-mpi/debug/swivel
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Nothing but loopback: TCP between ranks on lo, the runtime's own channel on lo too.
mpi=(mpirun --allow-run-as-root --oversubscribe --mca btl self,tcp --mca btl_tcp_if_include lo
     --mca oob_tcp_if_include lo)
status=0
# The planted corpus cut into files of 150 lines (each file is at least one chunk, dealt round-robin to ranks).
mkdir -p "$out/corpus"
split -l 150 -d Fixtures/planted-corpus.txt "$out/corpus/part-"
"$bin" prep "$out/corpus" --output "$out/prep" --min-count 1 --shard-size 16 --quiet
for p in 2 3; do
  "${mpi[@]}" -np "$p" "$bin" prep "$out/corpus" --output "$out/prep-mpi-$p" --min-count 1 --shard-size 16 --threads 1 --quiet
  if diff -r "$out/prep" "$out/prep-mpi-$p" >/dev/null; then
    echo "test-mpi: prep with $p ranks: every file identical to the single-process prep ($(ls "$out/corpus" | wc -l) input files)"
  else
    echo "test-mpi: prep with $p ranks DIFFERS from the single-process prep"; diff -r "$out/prep" "$out/prep-mpi-$p" | head -5; status=1
  fi
done
# A larger pseudo-random corpus (awk, fixed seed; Zipf-like over 5,000 words, 4 files of 40,000 lines) whose
# partial blocks are far above MPI's eager limit, so the exchange runs on rendezvous sends.
mkdir -p "$out/zipf"
for f in 0 1 2 3; do
  awk -v seed="$f" 'BEGIN { srand(seed + 1); for (l = 0; l < 40000; l++) { n = 3 + int(rand() * 20); line = "";
    for (t = 0; t < n; t++) line = line " w" int(exp(rand() * log(5000))); print line } }' > "$out/zipf/part-$f.txt"
done
"$bin" prep "$out/zipf" --output "$out/zipf-prep" --shard-size 512 --quiet
"${mpi[@]}" -np 2 "$bin" prep "$out/zipf" --output "$out/zipf-prep-mpi" --shard-size 512 --threads 1 --quiet
largest=$(ls -S "$out/zipf-prep/shards" | head -1)
if diff -r "$out/zipf-prep" "$out/zipf-prep-mpi" >/dev/null; then
  echo "test-mpi: prep with 2 ranks of $(awk '{n += NF} END {print n}' "$out"/zipf/*) tokens: identical to one process (largest shard $(stat -c %s "$out/zipf-prep/shards/$largest") bytes)"
else
  echo "test-mpi: prep with 2 ranks of the larger corpus DIFFERS from one process"; status=1
fi
for p in 2 3; do
  "${mpi[@]}" -np "$p" "$bin" train "$out/prep-mpi-$p" --output "$out/mpi-$p" --dim 16 --epochs 5 --quiet
  # Ranks train one member (an ensemble is averaged in one process only): compare with --ensemble 1.
  "$bin" train "$out/prep" --output "$out/single-$p" --dim 16 --epochs 5 --strata "$p" --threads 2 --ensemble 1 --quiet
  if cmp -s "$out/mpi-$p/row_embeddings.bin" "$out/single-$p/row_embeddings.bin" \
     && cmp -s "$out/mpi-$p/col_embeddings.bin" "$out/single-$p/col_embeddings.bin"; then
    echo "test-mpi: $p ranks: row and column vectors identical to --strata $p in one process"
  else
    echo "test-mpi: $p ranks: vectors DIFFER from --strata $p in one process"; status=1
  fi
done
# Checkpoint and resume under MPI: 3 epochs, then --resume to 5, equals 5 epochs of --strata 2 in one process.
"${mpi[@]}" -np 2 "$bin" train "$out/prep" --output "$out/resumed" --dim 16 --epochs 3 --quiet
"${mpi[@]}" -np 2 "$bin" train --resume "$out/resumed" --epochs 5 --quiet
if cmp -s "$out/resumed/row_embeddings.bin" "$out/single-2/row_embeddings.bin" \
   && cmp -s "$out/resumed/col_embeddings.bin" "$out/single-2/col_embeddings.bin"; then
  echo "test-mpi: 2 ranks, 3 epochs then --resume to 5: identical to 5 epochs of --strata 2"
else
  echo "test-mpi: resumed MPI run DIFFERS from an uninterrupted one"; status=1
fi
# An ensemble asked for under mpirun is refused with a clear message.
if "${mpi[@]}" -np 2 "$bin" train "$out/prep" --output "$out/ensemble" --ensemble 2 --quiet 2>"$out/err"; then
  echo "test-mpi: --ensemble 2 ran under mpirun"; status=1
elif grep -q "ranks of a distributed run train one member" "$out/err"; then
  echo "test-mpi: --ensemble 2 under mpirun is refused with a clear message"
else
  echo "test-mpi: unexpected error for --ensemble under mpirun:"; cat "$out/err"; status=1
fi
# Without the MPI trait, an mpirun launch is refused with a clear message.
if "${mpi[@]}" -np 2 .build/debug/swivel train "$out/prep" --output "$out/refused" --quiet 2>"$out/err"; then
  echo "test-mpi: a build without MPI ran under mpirun"; status=1
elif grep -q "built without MPI" "$out/err"; then
  echo "test-mpi: a build without MPI refuses mpirun with a clear message"
else
  echo "test-mpi: unexpected error from a build without MPI:"; cat "$out/err"; status=1
fi
exit $status
