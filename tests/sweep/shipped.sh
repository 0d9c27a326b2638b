#!/usr/bin/env bash
# The shipped configs/sweep_cnn.yaml, as docs/sweep.md runs it: every output written, and the knee it
# documents: 8-bit weights keep the CNN's accuracy, 2-bit weights destroy it, 4-bit lose little.
# Usage: shipped.sh SOURCE_DIR BIN_DIR
set -euo pipefail
src=$1 bin=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bin/chipref" sweep "$src/configs/sweep_cnn.yaml" -o "$out" -j 2
for f in results.csv results.json report.md report.html accuracy_vs_cost.png accuracy_vs_cost.svg accuracy_vs_weight_bits.png layer_sqnr.svg; do
  [ -s "$out/$f" ] || { echo "FAIL: $f missing"; exit 1; }
done
top1() { awk -F, -v w="$1" -v a="$2" 'NR > 1 && $3 == w && $4 == a { print $5 }' "$out/results.csv"; }
awk -v w8="$(top1 8 8)" -v w4="$(top1 4 8)" -v w2="$(top1 2 8)" 'BEGIN {
  printf "top-1 at weight bits 8, 4, 2 (8-bit activations): %s %s %s\n", w8, w4, w2
  if (w8 < 0.85 || w2 > 0.3 || w4 < w8 - 0.08 || w4 > w8 + 0.02) { print "FAIL: not the knee docs/sweep.md describes"; exit 1 }
  print "ok   the knee between 2 and 4 weight bits" }'
# Names are printed literally (gnuplot's enhanced text would set "weight_bits" as "weight" with a
# subscript b), and bar charts start at 0 (the SQNR bars here are all 8 dB or more).
grep -qF '<text>weight_bits (weights.bits)</text>' "$out/accuracy_vs_weight_bits.svg" || { echo "FAIL: the axis label is not printed literally"; exit 1; }
grep -qF '<text> 0</text>' "$out/layer_sqnr.svg" || { echo "FAIL: the per-layer SQNR bars do not start at 0"; exit 1; }
echo "ok   labels literal, bars from 0"
