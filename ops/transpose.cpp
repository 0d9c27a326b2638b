// transpose: codes → codes with the axes permuted (attribute perm).
#include "kernels/movement.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph&, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const std::vector<int64_t> perm = op.get_ints("perm");
  p.images_independent = !perm.empty() && perm[0] == 0;
  p.run = [=](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    kernels::transpose(in[0]->shape, in[0]->data.data(), perm, y.shape, y.data);
  };
  return p;
}
}  // namespace

const OpDef& transpose_op_def() {
  return define_op([](OpDef& d) {
    d.name = "transpose";
    d.systemc_module = "Movement";
    d.moves_codes = true;
    d.qdq = QdqForm::transpose;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
