// batch_broadcast: constant codes [1, ...], like → the codes repeated to like's batch (axis 0).
#include "kernels/movement.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(1)};
  const Tensor& c = constant(g, op, 0);
  const auto codes = std::make_shared<const std::vector<int32_t>>(as_int32(c));
  const Shape c_shape = c.shape;
  if (c_shape.empty() || c_shape[0] != 1)
    throw InputError(op.describe() + ": its constant must be [1, ...], got " + shape_to_string(c_shape));
  p.run = [=](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& like = *in[0];
    kernels::batch_broadcast(c_shape, codes->data(), like.shape.empty() ? 1 : like.shape[0], y.shape, y.data);
  };
  return p;
}
}  // namespace

const OpDef& batch_broadcast_op_def() {
  return define_op([](OpDef& d) {
    d.name = "batch_broadcast";
    d.least_inputs = 2, d.most_inputs = 2;
    d.constant_codes_input = 0;
    d.systemc_module = "Movement";
    d.moves_codes = true;
    d.qdq = QdqForm::batch_broadcast;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
