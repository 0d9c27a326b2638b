// quantize: the float input → codes: sat(round_half_even(x / scale) + zero_point), scale in float32
// (attribute scale). The single first op of every IntGraph. An integer input (IntGraph::input_dtype: token
// ids) is not quantized: its values are its codes (scale 1), each required to fit the output format.
#include <cmath>

#include "kernels/quantize.hpp"
#include "ops/boundaries.hpp"
#include "ops/common.hpp"

namespace chipref {

void check_input(const IntGraph& graph, const Tensor& input) {
  const bool integer_graph = graph.input_dtype != DType::float32;
  bool fits = input.is_float() != integer_graph && input.rank() == static_cast<int64_t>(graph.input_shape.size());
  for (size_t i = 1; fits && i < graph.input_shape.size(); ++i)
    fits = graph.input_shape[i] <= 0 || input.shape[i] == graph.input_shape[i];
  if (!fits) {
    std::string expected = "[";
    for (size_t i = 0; i < graph.input_shape.size(); ++i)
      expected += (i ? "," : "") + (i == 0 ? "N" : std::to_string(graph.input_shape[i]));
    throw InputError("input is " + std::string(to_string(input.dtype)) + shape_to_string(input.shape) +
                     "; the IntGraph expects " + std::string(to_string(graph.input_dtype)) + expected + "]" +
                     (integer_graph ? " (integers: token ids or codes; any integer type whose values fit)" : ""));
  }
}

namespace {
// An integer input's values are its codes: each must fit the input's format, never wrapped or clamped.
CodeTensor integer_input_codes(const IntFormat& format, const Tensor& input) {
  CodeTensor codes{input.shape, std::vector<int32_t>(input.ints.size())};
  for (size_t i = 0; i < input.ints.size(); ++i) {
    if (!format.contains(input.ints[i]))
      throw InputError("input element " + std::to_string(i) + " " +
                       index_to_string(input.shape, static_cast<int64_t>(i)) + " is " + std::to_string(input.ints[i]) +
                       ", outside the input's " + format.name() + " [" + std::to_string(format.min()) + ", " +
                       std::to_string(format.max()) + "]");
    codes.data[i] = static_cast<int32_t>(input.ints[i]);
  }
  return codes;
}
}  // namespace

CodeTensor quantize_input(const IntGraph& graph, const Tensor& input) {
  CodeTensor codes;
  quantize_input(graph, input, codes);
  return codes;
}

void quantize_input(const IntGraph& graph, const Tensor& input, CodeTensor& codes) {
  const Node& q = graph.ops.front();
  check_input(graph, input);
  const IntValue& in_value = graph.values.at(q.outputs.at(0));
  if (graph.input_dtype != DType::float32) {
    codes = integer_input_codes(in_value.quant.format, input);
    return;
  }
  const kernels::FloatQuantize quantize{q.get_float("scale"), in_value.quant.zero_point, in_value.quant.format.min(),
                                        in_value.quant.format.max()};
  ops::shape_output(codes, input.shape);
  const int64_t n = static_cast<int64_t>(input.floats.size());
  if (const int64_t bad = kernels::quantize_floats(quantize, input.floats.data(), n, codes.data.data()); bad < n)
    throw InputError("input element " + std::to_string(bad) + " " + index_to_string(input.shape, bad) + " is " +
                     (std::isnan(input.floats[bad]) ? "NaN" : "infinite") + "; inputs must be finite numbers");
  codes.known_range =
      ops::clamped_range(in_value.quant.format, in_value.quant.format.min(), in_value.quant.format.max());
}

namespace ops {
const OpDef& quantize_op_def() {
  return define_op([](OpDef& d) {
    d.name = "quantize";
    d.role = OpRole::input_boundary;
  });
}
}  // namespace ops

}  // namespace chipref
