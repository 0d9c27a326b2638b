#pragma once
// The dual-path check (the Torch2Chip idea, made exact): the quantized network simulated in float
// ("fake quantization": the BN-folded float graph with dequantized weights and biases, every quantized
// tensor rounded to its codes and back) against the integer network the DirectEngine runs, layer by
// layer, in output LSBs, each layer in isolation (its fake-quant computation starts from the integer
// path's input codes); each integer tensor also against FP32 (SQNR, propagated); accumulator ranges
// against their configured widths; and top-1 accuracy of all three paths.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analysis/metrics.hpp"
#include "model/evaluate.hpp"
#include "model/graph.hpp"
#include "model/int_graph.hpp"
#include "ops/op_def.hpp"

namespace chipref {

struct LayerComparison {
  std::string value, producer, format;
  int64_t elements = 0;
  int64_t differing = 0;   // integer code != fake-quant code
  int64_t within_one = 0;  // |difference| <= 1 LSB
  int64_t max_abs_lsb = 0;
  SqnrSum sqnr = {};  // of the dequantized integer values against fp32
  double sqnr_db() const { return sqnr.db(); }
};

struct AccumulatorUse {
  std::string value, producer;
  int configured_bits = 0;
  int64_t min = 0, max = 0;
  uint64_t overflow_events = 0;
  int bits_used() const;  // signed bits needed for [min, max]
};

// A non-linear's table against its float function over every input code, as quantize measured it
// (docs/numerics.md §8, §12): the lut and softmax ops' error attributes.
struct NonLinearError {
  std::string op, function, method;  // softmax: function "exp" (its exp table, in units of 2^-15)
  double max_lsb = 0, mean_lsb = 0;
  int64_t codes = 0, saturated = 0;
  bool within_bound = true;
};

// A MAC layer with N:M-compressed weights (docs/numerics.md §13).
struct SparseLayer {
  std::string layer, pattern, stage;            // the MAC op; "2:4"; pruned on the float weights or the codes
  int64_t weights = 0, nonzero = 0;             // dense weight count, non-zero kept values
  int64_t dense_bits = 0, compressed_bits = 0;  // weights × width; kept values × width + indices × ⌈log2 M⌉
  double density() const { return weights > 0 ? static_cast<double>(nonzero) / static_cast<double>(weights) : 0.0; }
};

struct DualPathReport {
  std::string model, config;
  std::vector<LayerComparison> layers;
  std::vector<NonLinearError> nonlinears;
  std::vector<SparseLayer> sparse_layers;
  std::optional<Top1Result> dense_integer;  // the same config without sparsity (when given)
  std::vector<AccumulatorUse> accumulators;
  Top1Result fp32, fake_quant, integer;
};

// `float_graph` is the imported model the IntGraph was built from.
// `dense`: the same network quantized without sparsity, whose integer top-1 the report sets beside.
DualPathReport compare_paths(const Graph& float_graph, const IntGraph& q, const LabelledImages& data,
                             int64_t batch_size = 100, const IntGraph* dense = nullptr);

std::string report_markdown(const DualPathReport& r);

// The integer network's codes against a fake-quant computation made elsewhere (a PyTorch model with its own
// quantizers, exported as QONNX or QDQ and lowered by chipref: docs/python.md). For each tensor of
// `reference` (fake-quantized float values y, by IntGraph value name), its codes round_half_even(y / s) + z
// at the value's own (s, z) against the integer codes of `codes` (a traced run on the same inputs), in LSBs;
// the SQNR is the dequantized integer tensor's against y. Layers in the IntGraph's op order. InputError
// naming a tensor that is not an integer value of `q`, or whose shape differs from the run's.
std::vector<LayerComparison> compare_with_reference(const IntGraph& q, const std::map<std::string, CodeTensor>& codes,
                                                    const std::map<std::string, Tensor>& reference);
// The per-layer table of report_markdown: value, producer, format, elements, differing, within 1 LSB, max
// |diff|, SQNR.
std::string layer_table_markdown(const std::vector<LayerComparison>& layers);
std::string report_json(const DualPathReport& r);

}  // namespace chipref
