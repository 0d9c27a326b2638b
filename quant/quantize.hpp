#pragma once
// Quantization: a float Graph + a QuantConfig + calibration inputs → an IntGraph (integer-only).
// Passes: BN folding, identity removal, constant folding; min-max calibration with the float executor;
// then each fusable pattern is lowered to integer ops (docs/numerics.md §6):
//   Conv [+ Relu | Clip]          → conv_mac + mulshift (the clamp absorbs the activation)
//   Gemm (transB, constant B) [+ Relu | Clip] → linear_mac + mulshift
//   MatMul (constant B) [+ Add bias] [+ Relu | Clip] → linear_mac + mulshift (channels on the last axis)
//   MatMul of two activations [+ Relu | Clip] → matmul_mac + mulshift (per tensor)
//   Add [+ Relu]                  → add (each input rescaled by its own multiplier)
//   AveragePool / GlobalAveragePool → window_sum + mulshift (1/count folded into the scale)
//   MaxPool                       → window_max;   Flatten / Reshape → reshape
//   Transpose → transpose;  Concat (inputs sharing one quantization) → concat
//   Relu / Clip that nothing absorbed → clamp;  Sigmoid, Tanh, Exp, Reciprocal → lut (quant/lut.hpp);
//   Softmax (last axis) → softmax;
//   LayerNormalization (last axis; the decomposed form fused first) → layernorm
// Each pattern is a rule of quant/lowering/ registered for its ONNX op type. Anything else is an
// InputError naming the node that cannot be lowered. A pre-quantized model (QDQ or
// QONNX, quant/prequantized.hpp) is lowered the same way with its own parameters, without calibration.

#include <cstdint>
#include <memory>
#include <string>

#include "model/graph.hpp"
#include "model/int_graph.hpp"
#include "model/io/samples.hpp"
#include "quant/config.hpp"
#include "quant/lowering/lowering.hpp"  // LoweringOutcome
#include "quant/quantizer.hpp"          // code_of

namespace chipref {

// Calibration results shared by several quantize() calls on one model and one calibration tensor (the
// points of a sweep): a call reuses the ranges (and histograms) of an earlier one whenever its float
// graph after pruning — every weight bit for bit — and its need for histograms are the same, because then
// calibration would compute exactly the same numbers. Thread-safe; concurrent calls with the same key
// wait for the one computing it.
class CalibrationCache {
 public:
  CalibrationCache();
  ~CalibrationCache();
  CalibrationCache(const CalibrationCache&) = delete;
  CalibrationCache& operator=(const CalibrationCache&) = delete;
  int64_t computed() const;  // calibrations run (the rest were shared)

  struct Impl;
  std::unique_ptr<Impl> impl;
};

struct QuantizeInputs {
  const Graph* graph = nullptr;  // imported with a dynamic or fixed batch; not modified
  const QuantConfig* config = nullptr;
  const Tensor* calibration = nullptr;  // float inputs, already normalised as the model expects; unused (may be
                                        // null) for a pre-quantized model, whose quantizers give every parameter
  std::string model_name;
  Preprocess preprocess;         // recorded in the IntGraph so that eval/run need no flags
  bool ignore_sparsity = false;  // quantize every layer dense (the sparse network's baseline in reports)
  CalibrationCache* calibration_cache = nullptr;  // shared with other calls on the same model and images
  int calibration_threads = 1;                    // batches of calibration images run concurrently (identical results)
  const SampleSource* calibration_samples = nullptr;  // the same read batch by batch (a file); wins over
                                                      // `calibration` when both are given
};

IntGraph quantize(const QuantizeInputs& in);

// What every node of the prepared float graph lowers to, or why it does not, without stopping at the
// first refusal (`chipref inspect --lowering`).
std::vector<LoweringOutcome> survey_lowering(const QuantizeInputs& in);

// The float passes quantize() runs first (constant folding, identity removal, BN folding): the float
// graph the IntGraph's value names refer to.
Graph prepare_for_quantization(const Graph& graph);

// real range [lo, hi] → quantization parameters of an activation (the range is widened to include 0 so
// that zero is exact; a degenerate range gets scale 1).
QuantParams activation_params(double lo, double hi, int bits, bool is_signed, bool symmetric);

}  // namespace chipref
