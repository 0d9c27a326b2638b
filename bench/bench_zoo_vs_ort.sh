#!/usr/bin/env bash
# chipref's DirectEngine against ONNX Runtime 1.20.1 (CPU, 1 thread, all graph optimizations), run
# alternately in one script so that both see the same machine load: for each model, ROUNDS rounds of
# {chipref, ORT int8 on chipref's QDQ export of the same IntGraph, ORT FP32 on the float model}, each the
# best of three passes over the same random inputs; medians over the rounds. Prints images/s, the ratios,
# chipref's GMAC/s per MAC layer kind and the time share of every other op kind of 1 % or more (from its
# last round, in a pass that runs each op on its own) and the peak RSS of `chipref run` on 16 inputs
# against ORT FP32's over the same inputs. Column j2/j1: chipref on two threads over one (bench_model
# alternates its passes of the two), the median of the rounds' ratios.
#   bench/bench_zoo_vs_ort.sh [BUILD_DIR=build/default] [ROUNDS=3]
# Models: the shipped Fashion-MNIST CNN at batch 100, and ResNet-18, MobileNetV2 and the ViT of the zoo at
# 224x224, batch 1 (as torch.onnx.export wrote them; build/…/zoo, written by the zoo test's export step).
# Needs node and npm (scripts/setup-ort) and /usr/bin/python3 with numpy for the random inputs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/default}"
rounds="${2:-3}"
"$root/scripts/setup-ort" >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
config="$root/configs/w8a8.yaml"

/usr/bin/python3 - "$work" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
np.save(sys.argv[1] + "/cnn.npy", rng.standard_normal((1000, 1, 28, 28), dtype=np.float32))
np.save(sys.argv[1] + "/imagenet.npy", rng.standard_normal((16, 3, 224, 224), dtype=np.float32))
PY

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rss_kb() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }

printf '%-14s %6s %12s %12s %12s %10s %10s %12s %12s %6s\n' model batch chipref_img/s ort_int8 ort_fp32 \
  vs_int8 vs_fp32 chipref_MB ort_fp32_MB j2/j1
for entry in "fmnist_cnn:$root/examples/fmnist_cnn.onnx:cnn.npy:100" \
             "resnet18:$build/zoo/resnet18_opset13.onnx:imagenet.npy:1" \
             "mobilenet_v2:$build/zoo/mobilenet_v2_opset13.onnx:imagenet.npy:1" \
             "vit:$build/zoo/vit_opset13.onnx:imagenet.npy:1"; do
  IFS=: read -r name model inputs batch <<<"$entry"
  [ -f "$model" ] || { echo "$name: $model missing (run the zoo test's export step first)"; continue; }
  : >"$work/c" ; : >"$work/i" ; : >"$work/f" ; : >"$work/j"
  for ((r = 0; r < rounds; ++r)); do
    rm -f "$work/$name.qdq.onnx"
    "$build/bin/bench_model" "$model" "$config" "$work/$inputs" "$batch" "$work/$name.qdq.onnx" >"$work/$name.txt" 2>"$work/$name.err"
    awk '$1 == "images_per_second" { print $2 }' "$work/$name.txt" >>"$work/c"
    awk '$1 == "images_per_second" { one = $2 } $1 == "images_per_second_2_threads" { print $2 / one }' \
      "$work/$name.txt" >>"$work/j"
    if [ -s "$work/$name.qdq.onnx" ]; then
      node "$root/scripts/ort-run.js" bench "$work/$name.qdq.onnx" "$work/$inputs" "$batch" | awk '{ print $2 }' >>"$work/i"
    fi
    node "$root/scripts/ort-run.js" bench "$model" "$work/$inputs" "$batch" | awk '{ print $2 }' >>"$work/f"
  done
  c=$(median <"$work/c"); f=$(median <"$work/f"); j=$(median <"$work/j")
  i=$([ -s "$work/i" ] && median <"$work/i" || echo "n/a")
  "$build/bin/chipref" quantize "$model" --config "$config" --calib "$work/$inputs" --calib-count 8 -o "$work/$name.q" >/dev/null
  crss=$(rss_kb "$build/bin/chipref" run "$work/$name.q" --input "$work/$inputs" -o "$work/$name.out.npy")
  frss=$(rss_kb node "$root/scripts/ort-run.js" bench "$model" "$work/$inputs" "$batch")
  ratio() { [ "$2" = "n/a" ] && echo "n/a" || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
  printf '%-14s %6s %12.1f %12s %12.1f %10s %10s %12.0f %12.0f %6.2f\n' "$name" "$batch" "$c" "$i" "$f" \
    "$(ratio "$c" "$i")" "$(ratio "$c" "$f")" "$((crss / 1024))" "$((frss / 1024))" "$j"
  awk '$1 == "gmacs" { $1 = ""; print "    GMAC/s" $0 }' "$work/$name.txt"
  awk '$1 == "share" && $3 >= 0.01 { printf "    share %s %s\n", $2, $3 }' "$work/$name.txt"
  [ -s "$work/$name.err" ] && sed 's/^/    note: /' "$work/$name.err" | sort -u
done
echo "(ratios: chipref / ORT at the same batch; MB: peak RSS of a run over the inputs file; the CPU's best vector" \
  "extension: $(grep -m1 -o 'amx_int8' /proc/cpuinfo || grep -m1 -o 'avx512_vnni' /proc/cpuinfo || grep -m1 -o 'avx2' /proc/cpuinfo || echo none);" \
  "chipref's kernel level: ${CHIPREF_SIMD:-the best the CPU has})"
