// dequantize: codes → the float output: scale · (code − zero_point) in float32 (attribute scale); or
// a float tail's accumulators → fl(acc · scales[c]) along `axis` (attributes scales, axis). The single
// last op of every IntGraph.
#include "ops/boundaries.hpp"
#include "ops/common.hpp"

namespace chipref {

Tensor dequantize_output(const IntGraph& graph, const CodeTensor& codes) {
  const Node& dq = graph.ops.back();
  if (dq.has("scales")) {
    // Accumulators of a float tail: fl(acc · S_c) per channel, the product in double, rounded once.
    const std::vector<float> scales = dq.get_floats("scales");
    const int64_t axis = dq.get_int("axis"), rank = static_cast<int64_t>(codes.shape.size());
    if (axis < 0 || axis >= rank || codes.shape[axis] != static_cast<int64_t>(scales.size()))
      throw InputError(dq.describe() + ": " + std::to_string(scales.size()) + " scales for axis " +
                       std::to_string(axis) + " of " + shape_to_string(codes.shape));
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < rank; ++d) inner *= codes.shape[d];
    Tensor y = Tensor::zeros(DType::float32, codes.shape);
    for (size_t i = 0; i < codes.data.size(); ++i)
      y.floats[i] = static_cast<float>(static_cast<double>(codes.data[i]) *
                                       scales[(static_cast<int64_t>(i) / inner) % static_cast<int64_t>(scales.size())]);
    return y;
  }
  const IntValue& out_value = graph.values.at(dq.inputs.at(0));
  const float out_scale = dq.get_float("scale");
  Tensor y = Tensor::zeros(DType::float32, codes.shape);
  for (size_t i = 0; i < codes.data.size(); ++i)
    y.floats[i] = static_cast<float>(codes.data[i] - out_value.quant.zero_point) * out_scale;
  return y;
}

namespace ops {
const OpDef& dequantize_op_def() {
  return define_op([](OpDef& d) {
    d.name = "dequantize";
    d.role = OpRole::output_boundary;
  });
}
}  // namespace ops

}  // namespace chipref
