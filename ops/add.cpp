// add: codes a, codes b of one shape → codes, each operand rescaled by its own multiplier
// (docs/numerics.md §6); with `subtract` 1, a − b. Attributes: multiplier_a, shift_a, multiplier_b,
// shift_b, flavour, rounding, multiplier_bits, clamp_lo, clamp_hi, subtract (optional, 0).
#include "kernels/requant.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0), op.inputs.at(1)};
  const IntValue& out = value(g, op.outputs.at(0), op);
  const auto params = std::make_shared<const kernels::AddRequant>(kernels::AddRequant{
      requantizer_of(op, out), channel(op, op.get_int("multiplier_a"), op.get_int("shift_a")),
      channel(op, op.get_int("multiplier_b"), op.get_int("shift_b")), input_zero_point(g, op, 0),
      input_zero_point(g, op, 1), op.get_int("clamp_lo"), op.get_int("clamp_hi"), op.get_int("subtract", 0) != 0});
  p.run = [params, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& a = *in[0];
    const CodeTensor& b = *in[1];
    if (a.shape != b.shape)
      throw InputError(op.describe() + ": operand shapes differ: " + shape_to_string(a.shape) + " and " +
                       shape_to_string(b.shape));
    shape_output(y, a.shape);
    kernels::add_requant(*params, a.data.data(), b.data.data(), static_cast<int64_t>(a.data.size()), y.data.data());
  };
  return p;
}
}  // namespace

const OpDef& add_op_def() {
  return define_op([](OpDef& d) {
    d.name = "add";
    d.least_inputs = 2, d.most_inputs = 2;
    d.systemc_module = "Add";
    d.qdq = QdqForm::add;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
