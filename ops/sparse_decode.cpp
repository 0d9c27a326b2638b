// sparse_decode: kept values, packed index words → dense weight codes. Attributes: n, m, shape.
#include "ops/sparse_decode.hpp"

#include "ops/common.hpp"

namespace chipref {

kernels::NmWeights nm_weights_of(const IntGraph& g, const Node& op) {
  const Tensor& values = ops::constant(g, op, 0);
  const Tensor& words = ops::constant(g, op, 1);
  const Shape shape = op.get_ints("shape");
  kernels::NmWeights w;
  w.pattern = kernels::NmPattern{ops::int_attribute(op, "n"), ops::int_attribute(op, "m")};
  if (shape.empty() || shape[0] < 1 || element_count(shape) % shape[0] != 0)
    throw InputError(op.describe() + ": invalid dense shape " + shape_to_string(shape));
  w.rows = shape[0], w.k = element_count(shape) / shape[0];
  w.values = ops::as_int32(values);
  for (int64_t v : words.ints) {
    if (v < 0 || v > 0xFFFFFFFFLL)
      throw InputError(op.describe() + ": index word " + std::to_string(v) + " is not a 32-bit word");
    w.index_words.push_back(static_cast<uint32_t>(v));
  }
  kernels::validate_nm(w, op.describe());
  return w;
}

Tensor decoded_weights(const IntGraph& g, const Node& op) {
  const std::vector<int32_t> dense = kernels::decode_nm(nm_weights_of(g, op), op.describe());
  return Tensor::of_ints(ops::constant(g, op, 0).dtype, op.get_ints("shape"),
                         std::vector<int64_t>(dense.begin(), dense.end()));
}

const Node* sparse_decoder_of(const IntGraph& g, const std::string& weights) {
  for (const Node& op : g.ops)
    if (&ops::op_def(op) == &ops::sparse_decode_op_def() && op.outputs.at(0) == weights) return &op;
  return nullptr;
}

Tensor mac_weight_codes(const IntGraph& g, const std::string& name) {
  if (const auto it = g.constants.find(name); it != g.constants.end()) return it->second;
  if (const Node* decoder = sparse_decoder_of(g, name)) return decoded_weights(g, *decoder);
  throw InputError("weights '" + name + "' are neither a constant nor decoded by a sparse_decode op");
}

namespace ops {
const OpDef& sparse_decode_op_def() {
  return define_op([](OpDef& d) {
    d.name = "sparse_decode";
    d.least_inputs = 2, d.most_inputs = 2;
    d.role = OpRole::constant;
    d.systemc_module = "SparseDecoder";
    d.vector_role = VectorRole::weight_dense;
  });
}
}  // namespace ops

}  // namespace chipref
