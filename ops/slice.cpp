// slice: codes → codes of a strided window (attributes axes, starts, steps, counts: resolved, in range).
#include "kernels/movement.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph&, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const auto axes = op.get_ints("axes"), starts = op.get_ints("starts"), steps = op.get_ints("steps"),
             counts = op.get_ints("counts");
  p.images_independent = std::find(axes.begin(), axes.end(), 0) == axes.end();
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    naming(op, [&] { kernels::slice(in[0]->shape, in[0]->data.data(), axes, starts, steps, counts, y.shape, y.data); });
  };
  return p;
}
}  // namespace

const OpDef& slice_op_def() {
  return define_op([](OpDef& d) {
    d.name = "slice";
    d.systemc_module = "Movement";
    d.moves_codes = true;
    d.qdq = QdqForm::slice;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
