#!/usr/bin/env bash
# The CLI contract of docs/architecture.md, checked through the binary: --version and --help exit 0,
# usage errors exit 2 with exactly one line on stderr, `demo` exits 0 and reports PASS.
set -u
chipref=${1:?usage: test_cli_contract.sh PATH_TO_CHIPREF}
failures=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

expect() {  # expect NAME EXIT_CODE STDERR_LINES(-1 = any) STDOUT_PATTERN -- ARGS...
  local name=$1 code=$2 lines=$3 pattern=$4; shift 5
  "$chipref" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local n; n=$(wc -l <"$tmp/err")
  if [ "$rc" -ne "$code" ]; then echo "FAIL $name: exit $rc, expected $code"; cat "$tmp/err"; failures=$((failures+1)); return; fi
  if [ "$lines" -ge 0 ] && [ "$n" -ne "$lines" ]; then echo "FAIL $name: $n stderr lines, expected $lines"; cat "$tmp/err"; failures=$((failures+1)); return; fi
  if [ -n "$pattern" ] && ! grep -qE -e "$pattern" "$tmp/out" "$tmp/err"; then echo "FAIL $name: output lacks /$pattern/"; failures=$((failures+1)); return; fi
  echo "ok   $name"
}

version=$(sed -n 's/^project(chipref VERSION \([0-9.]*\).*/\1/p' "$(dirname "$0")/../../CMakeLists.txt")
expect version           0 0  "^chipref $version\$"            -- --version
expect help              0 0  "demo"                           -- --help
expect demo-help         0 0  "--multiplier-bits"              -- demo --help
expect no-subcommand     2 1  "subcommand is required"         -- 
expect unknown-option    2 1  "--frobnicate"                   -- --frobnicate
expect unknown-command   2 1  "frobnicate"                     -- frobnicate
expect bad-value         2 1  "multiplier-bits"                -- demo --multiplier-bits 40
expect demo              0 0  "mulshift /stem/stem.0/Conv.requant: PASS \(37632 values compared"  -- demo --limit 200
expect demo-narrow       0 0  "PASS"                           -- demo --multiplier-bits 8 --limit 100 --show-numerics
fmnist=/usr/share/datasets/fashion-mnist
expect demo-data         0 0  "idx:.*t10k-images.*100 images"  -- demo --model cnn --limit 100 --data "idx:$fmnist/t10k-images-idx3-ubyte.gz,labels=$fmnist/t10k-labels-idx1-ubyte.gz"
expect demo-data-unlabelled 1 1 "the demo measures accuracy; these inputs have no labels" -- demo --model cnn --limit 100 --data "idx:$fmnist/t10k-images-idx3-ubyte.gz"
model="$(dirname "$0")/../../examples/fmnist_cnn.onnx"
printf 'not a model\n' >"$tmp/text.onnx"
expect inspect-not-onnx  1 1  "text.onnx: not an ONNX model"   -- inspect "$tmp/text.onnx"
expect inspect-missing   2 1  "nonexistent.onnx"               -- inspect "$tmp/nonexistent.onnx"
expect eval-mean-no-std  2 1  "requires --std"                 -- eval "$model" --mean 0.5
expect eval-bad-data     1 1  "unknown data source .imagenet." -- eval "$model" --data imagenet
expect inspect-json      0 0  '"total_macs": 1951072'          -- inspect "$model" --json
expect eval-json         0 0  '^\{"correct":[0-9]+,"count":20,"data":"fashion-mnist",.*"top1":[0-9.]+,"top5":[0-9.]+,"top5_correct":[0-9]+\}$' -- eval "$model" --limit 20 --json
configs="$(dirname "$0")/../../configs"
printf 'defaults:\n  weights: {bits: 99}\n' >"$tmp/bad.yaml"
printf 'layers:\n  - match: "/nothing/*"\n' >"$tmp/typo.yaml"
printf 'defaults:\n  weights: {equalization: true, equalization_relu6: true}\n' >"$tmp/relu6.yaml"
expect quantize-bad-config 1 1 "bad.yaml:2:.*'bits' is 99; expected 2..16" -- quantize "$model" --config "$tmp/bad.yaml" -o "$tmp/q"
expect quantize-strict     1 1 "match no node.*/nothing/\*"  -- quantize "$model" --config "$tmp/typo.yaml" --strict --calib-count 10 -o "$tmp/q"
expect quantize-warning    0 1 "warning: layer patterns match no node" -- quantize "$model" --config "$tmp/typo.yaml" --calib-count 10 -o "$tmp/q"
expect quantize-w8a8       0 0 "integer-only check passed"     -- quantize "$model" --config "$configs/w8a8.yaml" --calib-count 100 -o "$tmp/q"
expect eval-intgraph       0 0 '"count":50'                    -- eval "$tmp/q" --limit 50 --json
expect eval-systemc        0 0 '"engine":"systemc"'            -- eval "$tmp/q" --limit 50 --json --engine systemc
expect eval-bad-engine     2 1 "--engine"                      -- eval "$tmp/q" --limit 5 --engine verilog
expect eval-onnx-systemc   1 1 "--engine chooses what runs an IntGraph" -- eval "$model" --limit 5 --engine systemc
expect eval-systemc-skip-zero 1 1 "skip-zero applies to the direct engine" -- eval "$tmp/q" --limit 5 --engine systemc --sparse-kernel skip-zero
expect inspect-systemc     0 0 "SystemC netlist: 18 modules; MAC array 16 x 16, weight_stationary" -- inspect "$tmp/q" --engine systemc
expect inspect-systemc-json 0 0 '"utilisation"'                -- inspect "$tmp/q" --engine systemc --json
expect quantize-slash      0 0 "integer-only check passed"     -- quantize "$model" --config "$configs/w8a8.yaml" --calib-count 20 -o "$tmp/q2/"
expect quantize-slash-again 0 0 "integer-only check passed"    -- quantize "$model" --config "$configs/w8a8.yaml" --calib-count 20 -o "$tmp/q2/"
expect eval-slash          0 0 '"count":10'                    -- eval "$tmp/q2" --limit 10 --json
expect quantize-smoothquant 0 0 "0 equalized layer pairs, 5 tensors smoothed" -- quantize "$(dirname "$0")/../../examples/fmnist_vit.onnx" --config "$configs/w8a6-smoothquant.yaml" --calib-count 20 -o "$tmp/q3"
expect quantize-relu6      0 0 "2 equalized layer pairs \(1 ReLU6 made ReLU\)" -- quantize "$model" --config "$tmp/relu6.yaml" --calib-count 20 -o "$tmp/q4"
expect eval-intgraph-flags 1 1 "records its input preprocessing" -- eval "$tmp/q" --limit 5 --mean 0.5 --std 0.5
expect eval-against      0 0 "SQNR [0-9.]+ dB, cosine 0\.99[0-9]+.*top-1 agreement" -- eval "$tmp/q2" --limit 30 --against float
expect eval-against-json 0 0 "\"top1_agreement\":0\.9"       -- eval "$tmp/q2" --limit 30 --against float --json
expect eval-against-float 1 1 "this is the float model"       -- eval "$model" --limit 5 --against float
# one unlabelled input: a float32 [1, 1, 28, 28] .npy of zeros (header padded to 128 bytes, as NumPy pads it)
header="{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), }"
{ printf '\x93NUMPY\x01\x00\x76\x00%s' "$header"; printf '%*s\n' $((128 - 10 - ${#header} - 1)) ''; head -c 3136 /dev/zero; } >"$tmp/x.npy"
expect eval-no-labels    1 1 "have no labels"                 -- eval "$model" --data "$tmp/x.npy"
expect inspect-intgraph    0 0 "integer tensors only; requantization: 9 × single$"  -- inspect "$tmp/q"
expect inspect-intgraph-json 0 0 '"total_macs": 1951072'       -- inspect "$tmp/q" --json
expect run-bad-input       1 1 "not a .npy file"               -- run "$tmp/q" --input "$tmp/text.onnx" -o "$tmp/y.npy"
expect run-not-intgraph    1 1 "not an IntGraph directory"     -- run "$tmp" --input "$tmp/text.onnx" -o "$tmp/y.npy"
"$chipref" quantize "$model" --config "$configs/qdq-ort.yaml" --calib-count 20 -o "$tmp/q8" >/dev/null 2>&1
expect export-qdq         0 0 "QDQ ONNX \(opset 13\)"           -- export "$tmp/q8" -o "$tmp/q.onnx"
expect eval-qdq           0 0 '"count":20'                     -- eval "$tmp/q.onnx" --limit 20 --json
expect inspect-float-flavour 0 0 "9 × float \(a float32 multiply, as ONNX Runtime: not integer-only hardware\)" -- inspect "$tmp/q8"
expect quantize-qdq       0 0 "its own QDQ/QONNX parameters"   -- quantize "$tmp/q.onnx" --config "$configs/qdq-ort.yaml" -o "$tmp/q3"
expect quantize-qdq-calib 0 1 "already quantized.*--calib is ignored" -- quantize "$tmp/q.onnx" --config "$configs/qdq-ort.yaml" --calib-count 5 -o "$tmp/q3"
expect eval-qdq-intgraph  0 0 '"count":20'                     -- eval "$tmp/q3" --limit 20 --json
expect export-not-intgraph 1 1 "not an IntGraph directory"     -- export "$tmp" -o "$tmp/x.onnx"
printf 'defaults:\n  activations: {bits: 16}\n' >"$tmp/a16.yaml"
"$chipref" quantize "$model" --config "$tmp/a16.yaml" --calib-count 10 -o "$tmp/q16" >/dev/null 2>&1
# 16-bit values export as ONNX Runtime's com.microsoft QDQ; other widths have no QDQ form.
expect export-16bit       0 0 "QDQ ONNX"                       -- export "$tmp/q16" -o "$tmp/q16.onnx"
expect eval-16bit-qdq     0 0 '"count":20'                     -- eval "$tmp/q16.onnx" --limit 20 --json
expect export-w8a8-int16-logits 0 0 "QDQ ONNX"                 -- export "$tmp/q" -o "$tmp/w8a8.onnx"
printf 'defaults:\n  activations: {bits: 12}\n' >"$tmp/a12.yaml"
"$chipref" quantize "$model" --config "$tmp/a12.yaml" --calib-count 10 -o "$tmp/q12" >/dev/null 2>&1
expect export-12bit       1 1 "is uint12; QDQ carries 8-bit codes .* and 16-bit codes .* only" -- export "$tmp/q12" -o "$tmp/x.onnx"
expect vectors-usage      2 1 "QMODEL and -o DIR are required" -- vectors
expect vectors-two-inputs 1 1 "exactly one of --input"         -- vectors "$tmp/q" -o "$tmp/vec"
expect vectors-write      0 0 "[0-9]+ manifest entries$"     -- vectors "$tmp/q" --data fashion-mnist --count 1 --format mem,bin -o "$tmp/vec"
expect vectors-verify     0 0 "files match manifest.json"      -- vectors verify "$tmp/vec"
expect cosim-mulshift     0 0 "^PASS: mulshift on layer /stem/stem.0/Conv.requant: 12544 values" -- cosim --block mulshift --vectors "$tmp/vec" --layer /stem/stem.0/Conv.requant
expect cosim-mac-array    0 0 "^PASS: mac_array on layer /head/Gemm.mac: 10 values" -- cosim --block mac_array --vectors "$tmp/vec" --layer /head/Gemm.mac
expect cosim-lut-none      1 1 "its lut layers: none"          -- cosim --block lut --vectors "$tmp/vec" --layer /Add
expect cosim-not-mulshift 1 1 "is not a mulshift op"           -- cosim --block mulshift --vectors "$tmp/vec" --layer /Add
expect cosim-bad-block    2 1 "--block"                        -- cosim --block fpu --vectors "$tmp/vec" --layer /Add
expect cosim-sparse-none   1 1 "its sparse_decode layers: none" -- cosim --block sparse --vectors "$tmp/vec" --layer /Add
expect cosim-mx-dot-none   1 1 "its block_mac layers: none"    -- cosim --block mx_dot --vectors "$tmp/vec" --layer /head/Gemm.mac
# The ViT in MXFP8 end to end (docs/numerics.md §15): quantize, eval, vectors, verify, and the MX dot-product unit
# on a block layer of the attention and on the patch embedding.
vit="$(dirname "$0")/../../examples/fmnist_vit.onnx"
expect quantize-vit-mxfp8  0 0 "10 MAC \(10 in block formats\).*integer-only check passed" -- quantize "$vit" --config "$configs/mxfp8.yaml" --calib-count 50 -o "$tmp/qvit"
expect eval-vit-mxfp8      0 0 '"count":20'                    -- eval "$tmp/qvit" --limit 20 --json
expect vectors-vit-mxfp8   0 0 "[0-9]+ manifest entries$"     -- vectors "$tmp/qvit" --data fashion-mnist --count 1 -o "$tmp/vecvit"
expect verify-vit-mxfp8    0 0 "files match manifest.json"      -- vectors verify "$tmp/vecvit"
expect cosim-mx-dot-qkv    0 0 "^PASS: mx_dot on layer /blocks.0/self_attn/MatMul.block_mac: 4896 values" -- cosim --block mx_dot --vectors "$tmp/vecvit" --layer /blocks.0/self_attn/MatMul.block_mac
expect cosim-mx-dot-patch  0 0 "^PASS: mx_dot on layer /patch/Conv.block_mac: 37632 values" -- cosim --block mx_dot --vectors "$tmp/vecvit" --layer /patch/Conv.block_mac
expect rtl-needs-systemc  1 1 "add --engine systemc"           -- eval "$tmp/q" --limit 5 --rtl mulshift
expect eval-systemc-rtl   0 0 '"rtl":\["mulshift"\]'          -- eval "$tmp/q" --limit 20 --json --engine systemc --rtl mulshift
expect rtl-unknown-block  2 1 "--rtl"                          -- eval "$tmp/q" --engine systemc --rtl fpu
expect cosim-no-design    1 1 "give either --block"            -- cosim --vectors "$tmp/vec" --layer /Add
expect cosim-dut-no-top   1 1 "needs --top"                    -- cosim --dut "$(dirname "$0")/../../examples/cosim/systolic_os.sv" --vectors "$tmp/vec" --layer /Add
expect cosim-dut-missing  2 1 "--dut"                          -- cosim --dut "$tmp/none.sv" --top t --adapter "$(dirname "$0")/../../examples/cosim/systolic_os.yaml" --vectors "$tmp/vec" --layer /Add
victim=$(ls "$tmp"/vec/input_0000/*.mem | head -1)  # its first hex digit changed: element 0 differs
if [ "$(head -c1 "$victim")" = "1" ]; then digit=2; else digit=1; fi
printf '%s' "$digit" | dd of="$victim" bs=1 seek=0 conv=notrunc 2>/dev/null
expect vectors-verify-flipped 3 1 "mismatch: .*input_0000/.*first differing element 0" -- vectors verify "$tmp/vec"
printf 'not json' >"$tmp/q/graph.json"
expect eval-broken-intgraph 1 1 "graph.json: malformed IntGraph" -- eval "$tmp/q" --limit 5
# --help lists every subcommand of docs/architecture.md's CLI surface
for sub in inspect eval quantize run vectors cosim sweep demo; do
  if "$chipref" --help | grep -qE "^\s+$sub\b"; then echo "ok   help-lists-$sub"; else echo "FAIL help-lists-$sub"; failures=$((failures+1)); fi
done
# sweep: usage and file errors; a one-point sweep runs and writes its outputs
expect sweep-no-output   2 1 "SWEEP and -o DIR are required"   -- sweep "$(dirname "$0")/../../configs/sweep_cnn.yaml"
expect sweep-bad-shard   1 1 "--shard '2': expected i/N"       -- sweep "$(dirname "$0")/../../configs/sweep_cnn.yaml" -o "$tmp/sw" --shard 2
root=$(cd "$(dirname "$0")/../.." && pwd)  # sweep files resolve paths against their own directory
printf 'model: %s\nbase: %s\naxes:\n  wb: {key: weights.bitz, values: [4]}\n' "$root/examples/fmnist_cnn.onnx" "$root/configs/w8a8.yaml" >"$tmp/bad_sweep.yaml"
expect sweep-bad-key     1 1 "bad_sweep.yaml:4:13: 'weights.bitz' is not a config key" -- sweep "$tmp/bad_sweep.yaml" -o "$tmp/sw"
printf 'model: %s\nbase: %s\ndata: {eval_images: 20, calibration_images: 20, detail_images: 5}\naxes:\n  wb: {key: weights.bits, values: [6]}\n' "$root/examples/fmnist_cnn.onnx" "$root/configs/w8a8.yaml" >"$tmp/one_point.yaml"
expect sweep-one-point   0 0 "1 grid points \(0 failed\); 1 points computed, 0 cached" -- sweep "$tmp/one_point.yaml" -o "$tmp/sw"
expect sweep-cached      0 0 "1 grid points \(0 failed\); 0 points computed, 1 cached" -- sweep "$tmp/one_point.yaml" -o "$tmp/sw"
expect sweep-merge       0 0 "1 directories: 1 points merged"    -- sweep merge "$tmp/sw" -o "$tmp/sw_merged"
expect sweep-needs-slurm 2 1 "--no-submit requires --slurm"      -- sweep "$tmp/one_point.yaml" -o "$tmp/sw" --no-submit
expect sweep-slurm-shard 1 1 "--shard and --slurm"               -- sweep "$tmp/one_point.yaml" -o "$tmp/sw" --slurm --shard 0/2
expect sweep-slurm-space 1 1 "may not contain spaces"            -- sweep "$tmp/one_point.yaml" -o "$tmp/with space" --slurm --no-submit
expect sweep-slurm-many  1 1 "--shards 5: the sweep has only 1 points" -- sweep "$tmp/one_point.yaml" -o "$tmp/sl" --slurm --no-submit --shards 5
expect sweep-no-submit   0 0 "wrote .*/sl/slurm/sweep.sbatch for 1 of 1 shards" -- sweep "$tmp/one_point.yaml" -o "$tmp/sl" --slurm --no-submit

# eval -j: the same JSON, byte for byte, on one thread and on two (an IntGraph, and an image folder decoded
# on the threads)
"$chipref" eval "$tmp/q2" --limit 300 --json -j 1 >"$tmp/j1.json" && "$chipref" eval "$tmp/q2" --limit 300 --json -j 2 >"$tmp/j2.json"
if cmp -s "$tmp/j1.json" "$tmp/j2.json" && grep -q '"count":300' "$tmp/j1.json"; then echo "ok   eval-threads-identical"
else echo "FAIL eval-threads-identical"; failures=$((failures+1)); fi
# and --against float, whose float model's batches and the agreement's sums run on the threads too
"$chipref" eval "$tmp/q2" --limit 250 --against float --json -j 1 >"$tmp/a1.json" && "$chipref" eval "$tmp/q2" --limit 250 --against float --json -j 2 >"$tmp/a2.json"
if cmp -s "$tmp/a1.json" "$tmp/a2.json" && grep -q '"count":250' "$tmp/a1.json"; then echo "ok   eval-against-threads-identical"
else echo "FAIL eval-against-threads-identical"; failures=$((failures+1)); fi

echo "$failures failed"
[ "$failures" -eq 0 ]
