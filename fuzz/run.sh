#!/usr/bin/env bash
# Runs each libFuzzer harness of fuzz/ for a bounded time from its seeds, and fails on the first crash
# (an ASan/UBSan report, an escaped exception, a timeout or an out-of-memory), leaving the reproducer.
#   fuzz/run.sh FUZZ_BIN_DIR CHIPREF SECONDS [NAME...]
# FUZZ_BIN_DIR holds fuzz_<name> (cmake --preset fuzz && cmake --build --preset fuzz: build/fuzz/bin);
# CHIPREF is a chipref binary (any build) used to make seeds from the shipped models: a quantized graph,
# golden vectors. Seeds: fuzz/corpus/<name>/ (committed, small, with every crash's reproducer) plus the
# shipped files of that kind; libFuzzer grows a scratch copy, the committed corpus is not touched.
# Prints per harness: runs, runs/s, coverage (edges, "cov") and features ("ft") at the end.
# Env: FUZZ_WORK (default: a fresh temporary directory, removed unless a harness crashed);
#      FUZZ_RUNS: also stop a harness after this many runs (whichever of the two limits comes first);
#      FUZZ_JOBS: harnesses run side by side (default: the CPUs, nproc).
set -euo pipefail
bin=$(cd "$1" && pwd) chipref=$(realpath "$2") seconds=$3; shift 3
src=$(cd "$(dirname "$0")/.." && pwd)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(onnx quant_config sweep dut_adapter int_graph manifest vector_files idx image)
work=${FUZZ_WORK:-$(mktemp -d /tmp/chipref-fuzz.XXXXXX)}
mkdir -p "$work"
crashed=0
cleanup() { if [ $crashed = 0 ] && [ -z "${FUZZ_WORK:-}" ]; then rm -rf "$work"; fi; }
trap cleanup EXIT

# Seeds made from the shipped models and configs.
seeds=$work/seeds
mkdir -p "$seeds"/{onnx,quant_config,sweep,dut_adapter,int_graph,manifest,vector_files,idx,image}
cp "$src"/examples/*.onnx "$seeds/onnx/"
for d in /usr/share/libonnx-testdata/data/node/test_{relu,conv_with_strides_padding,gemm_default_single_elem_vector_bias,matmul_2d,maxpool_2d_default,averagepool_2d_default,softmax_axis_1,reshape_reordered_all_dims,transpose_default,add,gelu_default_1,layer_normalization_2d_axis0,quantizelinear,dequantizelinear,qlinearmatmul_2D_uint8_float32}; do
  [ -f "$d/model.onnx" ] && cp "$d/model.onnx" "$seeds/onnx/$(basename "$d").onnx"
done
cp "$src"/configs/*.yaml "$seeds/quant_config/"
rm -f "$seeds/quant_config/sweep_cnn.yaml"
sed -e 's|^model: .*|model: model.onnx|' -e 's|^base: .*|base: base.yaml|' "$src/configs/sweep_cnn.yaml" >"$seeds/sweep/sweep_cnn.yaml"
cp "$src"/rtl_bridge/adapters/*.yaml "$src"/examples/cosim/*.yaml "$seeds/dut_adapter/" 2>/dev/null || true
"$chipref" quantize "$src/examples/fmnist_cnn.onnx" --config "$src/configs/w8a8-2of4.yaml" --calib-count 20 -o "$work/graph" >/dev/null
cp "$work/graph/graph.json" "$seeds/int_graph/cnn_2of4.json"
"$chipref" vectors "$work/graph" --data fashion-mnist --count 1 -o "$work/vectors" --format mem,bin,npy >/dev/null
# The manifest seed is kept small (the whole CNN's is 135 kB, which slows libFuzzer to ~150 runs/s):
# the 2:4 layer's ops only, packed into 32-bit words in 4x4 tiles, in two formats.
"$chipref" vectors "$work/graph" --data fashion-mnist --count 1 --layers '/pw/*' --format mem,npy --layout tiled:4x4 --word-bits 32 \
  -o "$work/vectors_pw" >/dev/null
cp "$work/vectors_pw/manifest.json" "$seeds/manifest/cnn_pw_tiled.json"
i=0
for f in $(find "$work/vectors" -name '*.mem' | sort | head -3) $(find "$work/vectors" -name '*.npy' | sort | head -3); do
  # the harness's 4-byte prefix: format (0 mem, 1 bin, 2 npy), bits, signed, count
  case $f in *.mem) fmt='\x00' ;; *.npy) fmt='\x02' ;; esac
  { printf "$fmt"'\x08\x01\x40'; head -c 4096 "$f"; } >"$seeds/vector_files/seed$i"; i=$((i + 1))
done
fm=/usr/share/datasets/fashion-mnist
{ zcat "$fm/t10k-images-idx3-ubyte.gz" || true; } 2>/dev/null | head -c $((16 + 3 * 784)) >"$seeds/idx/images_prefix"
{ zcat "$fm/t10k-labels-idx1-ubyte.gz" || true; } 2>/dev/null | head -c 64 >"$seeds/idx/labels_prefix"

export CHIPREF_FUZZ_INTGRAPH=$work/graph
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}  # a UBSan report names the call site
# One harness: its table line (and, on a crash, the report's first lines) into $work/NAME.result.
run_harness() {
  local name=$1 corpus=$work/corpus/$1 log=$work/$1.log code runs rate cov ft result
  mkdir -p "$corpus" "$work/artifacts"
  [ -d "$src/fuzz/corpus/$name" ] && cp -r "$src/fuzz/corpus/$name/." "$corpus/"
  set +e
  (cd "$work" && "$bin/fuzz_$name" "$corpus" "$seeds/$name" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -print_final_stats=1 -timeout=20 -rss_limit_mb=2560 \
    -artifact_prefix="$work/artifacts/$name-" -close_fd_mask=1) >"$log" 2>&1
  code=$?
  set -e
  # (a harness that died before its first status line has none of these: "?")
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
  if [ $code = 0 ]; then result=ok; else result="CRASH (exit $code): $(ls "$work"/artifacts/"$name"-* 2>/dev/null | head -1)"; fi
  printf '%-14s %10s %8s %7s %7s  %s\n' "$name" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result" >"$work/$name.result"
  if [ $code != 0 ]; then { grep -E "ERROR|runtime error|terminate|SUMMARY|==[0-9]+==" "$log" | head -15; echo "log: $log"; } >>"$work/$name.result"; fi
}

# Each harness is single-threaded: FUZZ_JOBS of them (default: one per CPU) run side by side, each for
# SECONDS, so every harness gets as much CPU time as it would alone.
jobs=${FUZZ_JOBS:-$(nproc)}
for name in "${names[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_harness "$name" &
done
wait
printf '%-14s %10s %8s %7s %7s  %s\n' harness runs runs/s cov ft result
for name in "${names[@]}"; do
  cat "$work/$name.result"
  if grep -q ' CRASH ' "$work/$name.result"; then crashed=1; fi
done
[ $crashed = 0 ] || { echo "fuzz: a harness crashed; reproducers in $work/artifacts (add each to fuzz/corpus/<name>/ once fixed)"; exit 1; }
