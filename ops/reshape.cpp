// reshape: codes → the same codes in another shape (attribute shape: 0 copies the input's dimension, -1
// is inferred), as ONNX Reshape with allowzero = 0.
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph&, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const std::vector<int64_t> target = op.get_ints("shape");
  p.images_independent = !target.empty() && target[0] == 0;
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    Shape shape = target;
    int64_t known = 1, infer = -1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 0) {
        if (d >= x.shape.size())
          throw InputError(op.describe() + ": target dimension " + std::to_string(d) + " copies a dimension " +
                           shape_to_string(x.shape) + " lacks");
        shape[d] = x.shape[d];
      }
      if (shape[d] == -1)
        infer = static_cast<int64_t>(d);
      else
        known *= shape[d];
    }
    if (infer >= 0) shape[infer] = static_cast<int64_t>(x.data.size()) / std::max<int64_t>(known, 1);
    if (element_count(shape) != static_cast<int64_t>(x.data.size()))
      throw InputError(op.describe() + ": cannot reshape " + shape_to_string(x.shape) + " to " +
                       shape_to_string(shape));
    y.shape = shape;
    y.data.assign(x.data.begin(), x.data.end());
    y.known_range = x.known_range;  // the same codes
  };
  return p;
}
}  // namespace

const OpDef& reshape_op_def() {
  return define_op([](OpDef& d) {
    d.name = "reshape";
    d.systemc_module = "Movement";
    d.moves_codes = true;
    d.qdq = QdqForm::reshape;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
