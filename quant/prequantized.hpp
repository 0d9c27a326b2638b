#pragma once
// Already-quantized models: ONNX QDQ (QuantizeLinear / DequantizeLinear, as ONNX Runtime's quantizer and
// chipref's own QDQ export write them) and QONNX (`Quant` nodes, as Brevitas / FINN write them). Their
// quantization parameters are taken as given, without calibration: extract_prequantized() removes the
// quantizer nodes from the float graph and returns what they said, per tensor; quantize() then lowers
// the remaining float graph with those parameters (docs/numerics.md §7).

#include <map>
#include <string>
#include <vector>

#include "model/graph.hpp"
#include "model/int_graph.hpp"

namespace chipref {

// Integer codes of a constant (a weight or bias) as the model stores them, with their scales: one per
// tensor or one per slice along `axis`.
struct QuantizedConstant {
  Tensor codes;
  IntFormat format = IntFormat::int_bits(8);  // the quantizer's (QONNX: its bit width; QDQ: the codes' type)
  std::vector<double> scales;                 // float32 values, held exactly
  std::vector<int64_t> zero_points;
  int64_t axis = 0;
  std::string producer;  // the quantizer node, for messages
};

struct PrequantizedModel {
  std::map<std::string, QuantParams> activations;  // float tensor → the (format, zero point, scale) its quantizer gave
  std::map<std::string, std::string> activation_producers;  // float tensor → its quantizer node, for messages
  std::map<std::string, QuantizedConstant> constants;       // dequantized constant tensor → its codes
};

// True when the graph holds QuantizeLinear, DequantizeLinear or QONNX Quant nodes.
bool is_prequantized(const Graph& graph);

// True for the nodes constant folding must keep in a pre-quantized graph (their integer side matters).
bool is_quantizer_node(const Node& node);

// Removes every quantizer from `graph`: a constant's dequantized values become a float initializer (so the
// float graph still runs, for the dual-path report) and its codes are returned; an activation's
// quantize → dequantize pair is bypassed and its parameters are returned for the tensor it quantized.
// Throws InputError naming the node for anything it cannot take exactly: a DequantizeLinear of a
// non-constant that no QuantizeLinear feeds, per-axis activation quantization, a Q/DQ pair whose
// parameters differ, a tensor quantized twice with different parameters, narrow-range QONNX activations.
PrequantizedModel extract_prequantized(Graph& graph);

}  // namespace chipref
