// gather: codes → codes at constant indices along an axis (attributes axis, indices, drop_axis).
#include "kernels/movement.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph&, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const int64_t axis = op.get_int("axis");
  const auto indices = op.get_ints("indices");
  const bool drop_axis = op.get_int("drop_axis") != 0;
  p.images_independent = axis != 0;
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    naming(op, [&] { kernels::gather(in[0]->shape, in[0]->data.data(), axis, indices, drop_axis, y.shape, y.data); });
  };
  return p;
}
}  // namespace

const OpDef& gather_op_def() {
  return define_op([](OpDef& d) {
    d.name = "gather";
    d.systemc_module = "Movement";
    d.moves_codes = true;
    d.qdq = QdqForm::gather;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
