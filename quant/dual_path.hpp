#pragma once
// The dual-path check (the Torch2Chip idea, made exact): the quantized network simulated in float
// ("fake quantization": the BN-folded float graph with dequantized weights and biases, every quantized
// tensor rounded to its codes and back) against the integer network the DirectEngine runs, layer by
// layer, in output LSBs, each layer in isolation (its fake-quant computation starts from the integer
// path's input codes); each integer tensor also against FP32 (SQNR, propagated); accumulator ranges
// against their configured widths; and top-1 accuracy of all three paths.

#include <cstdint>
#include <string>
#include <vector>

#include "model/evaluate.hpp"
#include "model/graph.hpp"
#include "model/int_graph.hpp"

namespace chipref {

struct LayerComparison {
  std::string value, producer, format;
  int64_t elements = 0;
  int64_t differing = 0;     // integer code != fake-quant code
  int64_t within_one = 0;    // |difference| <= 1 LSB
  int64_t max_abs_lsb = 0;
  double signal = 0, noise = 0;  // Σ fp32², Σ (fp32 − dequantized integer)²
  double sqnr_db() const;
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

struct DualPathReport {
  std::string model, config;
  std::vector<LayerComparison> layers;
  std::vector<NonLinearError> nonlinears;
  std::vector<AccumulatorUse> accumulators;
  Top1Result fp32, fake_quant, integer;
};

// `float_graph` is the imported model the IntGraph was built from.
DualPathReport compare_paths(const Graph& float_graph, const IntGraph& q, const LabelledImages& data, int64_t batch_size = 100);

std::string report_markdown(const DualPathReport& r);
std::string report_json(const DualPathReport& r);

}  // namespace chipref
