#pragma once
// One IntGraph op made ready to run: its parameters read from the graph and checked once, and a call
// that applies the op's kernel (kernels/) to its run-time inputs. Both engines run ops through
// this, the DirectEngine in a loop and the SystemC engine inside its modules, so the two cannot differ
// in any integer: there is one preparation and one kernel per op.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/int_graph.hpp"
#include "numerics/accumulator.hpp"
#include "kernels/sparse.hpp"

namespace chipref {

// An integer tensor at run time: codes (or accumulators) in int32.
struct CodeTensor {
  Shape shape;
  std::vector<int32_t> data;
};

// The weights a MAC op multiplies: dense codes, and, to compute from the kept values only, the N:M
// compressed form (null: dense kernels).
struct MacWeightSource {
  const Tensor* dense = nullptr;
  std::shared_ptr<const kernels::NmWeights> skip_zero;
};

struct PreparedOp {
  const Node* node = nullptr;
  // The tensors read at run time, in the order `run` takes them (constants are captured in `run`).
  std::vector<std::string> inputs;
  // False if the op may mix images of a batch (a reshape, transpose, concat, slice or gather touching
  // axis 0): then a batch cannot be split into chunks around it.
  bool images_independent = true;
  // Computes the op: sets out.shape and fills out.data (resized here; its old contents are ignored).
  // MAC ops add their accumulator overflow events to `overflow`.
  std::function<void(const std::vector<const CodeTensor*>& inputs, CodeTensor& out, OverflowCounter& overflow)> run;
};

// The compressed weights a sparse_decode op reads, checked (InputError naming the op, row and group).
kernels::NmWeights nm_weights_of(const IntGraph& graph, const Node& sparse_decode);
// A MAC's weight codes by name: the constant, or what the sparse_decode op producing it decodes.
Tensor mac_weight_codes(const IntGraph& graph, const std::string& name);

// Prepares `op` (any op but quantize, dequantize and sparse_decode, which are the boundaries and
// constant decoding). `weights` is consulted for conv_mac and linear_mac only. InputError naming the op
// for parameters that do not fit together.
PreparedOp prepare_int_op(const IntGraph& graph, const Node& op, const MacWeightSource& weights = {});

// The float boundaries. Input: sat(round_half_even(x / scale) + zp), the division in float32 as ONNX
// QuantizeLinear; `input` must be float32 of the graph's input shape (any batch size) and finite, else
// an InputError (check_input: the one check of every engine). Output: scale · (code − zp) in float32.
void check_input(const IntGraph& graph, const Tensor& input);
CodeTensor quantize_input(const IntGraph& graph, const Tensor& input);
Tensor dequantize_output(const IntGraph& graph, const CodeTensor& codes);

}  // namespace chipref
