// dilate: codes → the codes with strides − 1 `fill` codes (the input's zero point) between neighbours
// along each axis (attributes strides, one per axis, and fill): a transposed convolution's input.
#include "kernels/movement.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph&, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const std::vector<int64_t> strides = op.get_ints("strides");
  const int32_t fill = narrow_to_int32(op, "fill", op.get_int("fill"));
  p.images_independent = !strides.empty() && strides[0] == 1;
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    naming(op, [&] { kernels::dilate(in[0]->shape, in[0]->data.data(), strides, fill, y.shape, y.data); });
  };
  return p;
}
}  // namespace

const OpDef& dilate_op_def() {
  return define_op([](OpDef& d) {
    d.name = "dilate";
    d.systemc_module = "Movement";
    d.moves_codes = true;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
