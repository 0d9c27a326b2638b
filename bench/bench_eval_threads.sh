#!/usr/bin/env bash
# chipref eval on one thread against two, alternately in one script (the same machine load for both), on
# two workloads: the shipped CNN's IntGraph over the 10 000 Fashion-MNIST test images (the engine's
# threads over the chunks of a batch), and the shapes CNN's IntGraph over its image folder (PNG/JPEG
# decoding and preprocessing on the threads too). Prints the median wall times of ROUNDS rounds, the
# ratio j1/j2, and whether the two JSON outputs are byte-identical (they must be).
#   bench/bench_eval_threads.sh [BUILD_DIR=build/default] [ROUNDS=3]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/default}"
rounds="${2:-3}"
chipref="$build/bin/chipref"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$chipref" quantize "$root/examples/fmnist_cnn.onnx" --config "$root/configs/w8a8.yaml" -o "$work/cnn" >/dev/null
/usr/bin/python3 "$root/examples/train_shapes.py" data "$work/shapes" >/dev/null 2>&1
"$chipref" quantize "$root/examples/shapes_cnn.onnx" --config "$root/configs/w8a8.yaml" \
  --calib "imagefolder:$work/shapes/train" --calib-count 200 -o "$work/shapes_q" >/dev/null 2>&1

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
seconds() {  # seconds JOBS OUT ARGS...: wall time of one eval
  local jobs=$1 out=$2; shift 2
  local start end
  start=$(date +%s.%N)
  "$chipref" eval "$@" --json -j "$jobs" >"$out"
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
printf '%-34s %10s %10s %8s %s\n' workload "j1 s" "j2 s" "j1/j2" identical
for workload in cnn shapes; do
  case $workload in
    cnn) args=("$work/cnn" --data fashion-mnist) ;;
    shapes) args=("$work/shapes_q" --data "imagefolder:$work/shapes/test") ;;
  esac
  : >"$work/t1" && : >"$work/t2"
  for _ in $(seq "$rounds"); do
    seconds 1 "$work/j1.json" "${args[@]}" >>"$work/t1"
    seconds 2 "$work/j2.json" "${args[@]}" >>"$work/t2"
  done
  t1=$(median <"$work/t1") t2=$(median <"$work/t2")
  same=$(cmp -s "$work/j1.json" "$work/j2.json" && echo yes || echo NO)
  label=$([ $workload = cnn ] && echo "fmnist_cnn, 10000 IDX images" || echo "shapes_cnn, 240 PNG/JPEG files")
  printf '%-34s %10.3f %10.3f %8.2f %s\n' "$label" "$t1" "$t2" "$(echo "$t1 / $t2" | bc -l)" "$same"
done
