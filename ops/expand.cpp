// expand: codes → the codes broadcast to a shape (ONNX Expand: numpy broadcasting both ways; an axis of
// size 1 repeats). The target is the attribute `shape`, or, with a second input, that input's run-time
// shape (a mask widened to the scores it masks, whatever their batch).
#include "kernels/movement.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph&, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  const bool like = op.inputs.size() > 1;
  p.inputs =
      like ? std::vector<std::string>{op.inputs.at(0), op.inputs.at(1)} : std::vector<std::string>{op.inputs.at(0)};
  const Shape target = like ? Shape{} : op.get_ints("shape");
  // A fixed target's axis 0 holds a batch of its own: chunks of images would not expand the same way. A
  // run-time target's batch is the input's (or the input has none), so chunks compute what the whole does.
  p.images_independent = like || target.empty() || target[0] == 1;
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    naming(op,
           [&] { kernels::expand(in[0]->shape, in[0]->data.data(), like ? in[1]->shape : target, y.shape, y.data); });
  };
  return p;
}
}  // namespace

const OpDef& expand_op_def() {
  return define_op([](OpDef& d) {
    d.name = "expand";
    d.least_inputs = 1, d.most_inputs = 2;
    d.systemc_module = "Movement";
    d.moves_codes = true;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
