#!/usr/bin/env bash
# chipref quantize on the shipped CNN with each weight-rounding algorithm (docs/numerics.md §16):
# configs/w4a8.yaml (nearest), w4a8 with bias correction, configs/w4a8-gptq.yaml, configs/w4a8-adaround.yaml,
# 1000 Fashion-MNIST calibration images, one after the other per round. Prints the median wall seconds and
# peak RSS of each, the ratio against nearest rounding measured in the same rounds, and the integer top-1
# on the 10 000 test images (the issue's target: AdaRound <= 60 s here).
# Usage: bench/bench_quantize_algorithms.sh [BUILD_DIR=build/default] [ROUNDS=3]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build/default}
rounds=${2:-3}
chipref=$build/bin/chipref
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$src/examples/fmnist_cnn.onnx
sed 's/calibrator: minmax}/calibrator: minmax, bias_correction: true}/' "$src/configs/w4a8.yaml" |
  sed '/activations:/s/, bias_correction: true//' > "$work/w4a8-bias.yaml"
names=(nearest bias_correction gptq adaround)
configs=("$src/configs/w4a8.yaml" "$work/w4a8-bias.yaml" "$src/configs/w4a8-gptq.yaml" "$src/configs/w4a8-adaround.yaml")
declare -A seconds rss
for ((r = 0; r < rounds; ++r)); do
  for i in "${!names[@]}"; do
    /usr/bin/time -f '%e %M' -o "$work/time" "$chipref" quantize "$model" --config "${configs[$i]}" \
      --calib fashion-mnist -o "$work/q_${names[$i]}" > /dev/null 2>&1
    read -r s m < "$work/time"
    seconds[${names[$i]}]+="$s "
    rss[${names[$i]}]=$m
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
base=$(echo "${seconds[nearest]}" | median)
printf '%-16s %10s %10s %12s %8s\n' algorithm seconds 'x nearest' 'peak RSS MB' top1
for name in "${names[@]}"; do
  s=$(echo "${seconds[$name]}" | median)
  top1=$("$chipref" eval "$work/q_$name" --data fashion-mnist --json 2> /dev/null | grep -o '"top1":[0-9.]*' | cut -d: -f2)
  printf '%-16s %10.2f %10.1f %12d %8s\n' "$name" "$s" "$(awk -v a="$s" -v b="$base" 'BEGIN {print a / b}')" $((rss[$name] / 1024)) "$top1"
done
