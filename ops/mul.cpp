// mul: codes a, codes b → codes of their product (docs/numerics.md §6), b broadcast to a's shape where
// its size is 1 (a squeeze-excitation gate [N, C, 1, 1] over [N, C, H, W]), or the other way round:
// y = clamp(sat_out(zp_y + R((a − zp_a)·(b − zp_b)·S)), lo, hi) with S = s_a·s_b/s_y. Attributes:
// multiplier, shift, flavour, rounding, multiplier_bits, clamp_lo, clamp_hi.
#include "kernels/requant.hpp"
#include "model/ops/ops.hpp"  // the float executor's broadcasting walk
#include "ops/common.hpp"

namespace chipref::ops {

namespace {

// The output shape and, per output element, the elements of a and b it multiplies (numpy broadcasting
// of two tensors of one rank).
Shape broadcast(const Node& op, const Shape& a, const Shape& b) {
  if (a.size() != b.size())
    throw InputError(op.describe() + ": operands of ranks " + std::to_string(a.size()) + " and " +
                     std::to_string(b.size()) + "; a product broadcasts operands of one rank");
  Shape out(a.size());
  for (size_t d = 0; d < a.size(); ++d) {
    if (a[d] != b[d] && a[d] != 1 && b[d] != 1)
      throw InputError(op.describe() + ": operand shapes " + shape_to_string(a) + " and " + shape_to_string(b) +
                       " do not broadcast");
    out[d] = std::max(a[d], b[d]);
  }
  return out;
}

PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0), op.inputs.at(1)};
  const IntValue& out = value(g, op.outputs.at(0), op);
  const int bits = value(g, op.inputs[0], op).quant.format.bits() + value(g, op.inputs[1], op).quant.format.bits();
  if (bits > 30)
    throw InputError(op.describe() + ": its operands have " + std::to_string(bits) +
                     " bits together; their product must fit the 32-bit requantizer input (at most 30)");
  const auto params = std::make_shared<const kernels::MulRequant>(kernels::MulRequant{
      requantizer_of(op, out), channel(op, op.get_int("multiplier"), op.get_int("shift")), input_zero_point(g, op, 0),
      input_zero_point(g, op, 1), op.get_int("clamp_lo"), op.get_int("clamp_hi")});
  p.run = [params, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& a = *in[0];
    const CodeTensor& b = *in[1];
    const Shape shape = broadcast(op, a.shape, b.shape);
    shape_output(y, shape);
    if (a.shape == b.shape) {
      for (size_t i = 0; i < a.data.size(); ++i) y.data[i] = kernels::mul_requant(*params, a.data[i], b.data[i]);
      return;
    }
    for_each_broadcast(shape, {broadcast_strides(a.shape, shape), broadcast_strides(b.shape, shape)},
                       [&](int64_t i, const int64_t* at) {
                         y.data[static_cast<size_t>(i)] = kernels::mul_requant(
                             *params, a.data[static_cast<size_t>(at[0])], b.data[static_cast<size_t>(at[1])]);
                       });
  };
  return p;
}

}  // namespace

const OpDef& mul_op_def() {
  return define_op([](OpDef& d) {
    d.name = "mul";
    d.least_inputs = 2, d.most_inputs = 2;
    d.systemc_module = "Mul";
    d.qdq = QdqForm::mul;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
