#!/usr/bin/env bash
# chipref eval on one thread against two, alternately in one script (the same machine load for both), on
# three workloads: the shipped CNN's IntGraph over the 60 000 Fashion-MNIST training images (batches read,
# run and scored side by side), the shapes CNN's IntGraph over its image folder (240 small PNG/JPEG files),
# and the float shapes CNN over a folder of 600 photo-sized JPEGs (640x480, resized and center-cropped:
# decoding and resizing dominate). Prints the median wall times of ROUNDS rounds, the ratio j1/j2, and
# whether the two JSON outputs are byte-identical (they must be).
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

# photo-sized JPEGs of smooth random colour fields (what a camera's JPEG costs to decode), 3 classes
/usr/bin/python3 - "$work/photos" <<'PY'
import os, random, sys
from PIL import Image
root = sys.argv[1]
rng = random.Random(7)
for c in range(3):
    os.makedirs(f"{root}/class{c}", exist_ok=True)
    for i in range(200):
        small = Image.new("RGB", (16, 12))
        small.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(16 * 12)])
        small.resize((640, 480), Image.BILINEAR).save(f"{root}/class{c}/{i:03d}.jpg", quality=90)
PY
printf 'resize: 36\ncenter_crop: 32\nmean: [0.4964, 0.5111, 0.4999]\nstd: [0.284, 0.294, 0.2875]\n' >"$work/photos.yaml"

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
for workload in cnn shapes photos; do
  case $workload in
    cnn) args=("$work/cnn" --data fashion-mnist:train) label="fmnist_cnn, 60000 IDX images" ;;
    shapes) args=("$work/shapes_q" --data "imagefolder:$work/shapes/test") label="shapes_cnn, 240 PNG/JPEG files" ;;
    photos) args=("$root/examples/shapes_cnn.onnx" --data "imagefolder:$work/photos" --preprocess "$work/photos.yaml")
            label="float shapes_cnn, 600 640x480 JPEGs" ;;
  esac
  : >"$work/t1" && : >"$work/t2"
  for _ in $(seq "$rounds"); do
    seconds 1 "$work/j1.json" "${args[@]}" >>"$work/t1"
    seconds 2 "$work/j2.json" "${args[@]}" >>"$work/t2"
  done
  t1=$(median <"$work/t1") t2=$(median <"$work/t2")
  same=$(cmp -s "$work/j1.json" "$work/j2.json" && echo yes || echo NO)
  printf '%-34s %10.3f %10.3f %8.2f %s\n' "$label" "$t1" "$t2" "$(echo "$t1 / $t2" | bc -l)" "$same"
done
