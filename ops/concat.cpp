// concat: codes... of one quantization → codes joined along attribute axis.
#include "kernels/movement.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph&, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = op.inputs;
  const int64_t axis = op.get_int("axis");
  p.images_independent = axis > 0;  // axis 0, or a negative axis that might be it, may mix images
  p.run = [=](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    std::vector<const Shape*> shapes;
    std::vector<const int32_t*> data;
    for (const CodeTensor* x : in) shapes.push_back(&x->shape), data.push_back(x->data.data());
    kernels::concat(shapes, data, axis, y.shape, y.data);
  };
  return p;
}
}  // namespace

const OpDef& concat_op_def() {
  return define_op([](OpDef& d) {
    d.name = "concat";
    d.least_inputs = 1, d.most_inputs = OpDef::kAnyCount;
    d.systemc_module = "Movement";
    d.moves_codes = true;
    d.qdq = QdqForm::concat;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
