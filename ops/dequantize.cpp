// dequantize: codes → the float output: scale · (code − zero_point) in float32 (attribute scale). The
// single last op of every IntGraph.
#include "ops/boundaries.hpp"
#include "ops/common.hpp"

namespace chipref {

Tensor dequantize_output(const IntGraph& graph, const CodeTensor& codes) {
  const Node& dq = graph.ops.back();
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
