#!/usr/bin/env bash
# chipref's DirectEngine against ONNX Runtime (CPU, 1 thread, all graph optimizations) on the same QDQ
# model and the same inputs: the shipped CNN exported by chipref as QDQ, run by ORT directly and by the
# DirectEngine after chipref's pre-quantized import. The float reference executor is measured in the same
# run. Ratios are against ORT at the same batch size. Needs node; installs ORT with scripts/setup-ort.
#   bench/bench_vs_ort.sh [BUILD_DIR=build/default] [IMAGES=2000]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/default}"
images="${2:-2000}"
"$root/scripts/setup-ort" >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$build/bin/bench_engines" --images "$images" --qdq "$work" > "$work/chipref.txt"
value() { awk -v k="$1" '$1 == k { print $2 }' "$work/chipref.txt"; }
ort_b100=$(node "$root/scripts/ort-run.js" bench "$work/model.onnx" "$work/images.npy" 100 | awk '{print $2}')
ort_b1=$(node "$root/scripts/ort-run.js" bench "$work/model.onnx" "$work/images.npy" 1 | awk '{print $2}')
echo "fmnist_cnn as QDQ (chipref export, float requant flavour), $images test images, 1 thread"
printf '%-36s %10s %10s\n' "engine" "images/s" "vs ORT"
row() { printf '%-36s %10.0f %10.2f\n' "$1" "$2" "$(awk -v a="$2" -v b="$3" 'BEGIN { print a / b }')"; }
row "ONNX Runtime 1.20.1, batch 100" "$ort_b100" "$ort_b100"
row "ONNX Runtime 1.20.1, batch 1" "$ort_b1" "$ort_b1"
row "chipref DirectEngine, batch 100" "$(value qdq_direct_b100)" "$ort_b100"
row "chipref DirectEngine, batch 1" "$(value qdq_direct_b1)" "$ort_b1"
row "chipref float executor, batch 100" "$(value float_executor_b100)" "$ort_b100"
