// rescale: codes in one quantization → the same reals' codes in another (a Concat whose inputs arrive
// with different scales), docs/numerics.md §6: y = clamp(sat_out(zp_y + R((x − zp_x)·S)), lo, hi), the
// Add's rounding of one operand. Attributes: multiplier, shift, flavour, rounding, multiplier_bits,
// clamp_lo, clamp_hi.
#include "kernels/requant.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const IntValue& out = value(g, op.outputs.at(0), op);
  const int64_t lo = op.get_int("clamp_lo"), hi = op.get_int("clamp_hi");
  if (lo > hi || !out.quant.format.contains(lo) || !out.quant.format.contains(hi))
    throw InputError(op.describe() + ": clamp [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "] is not an interval of its " + out.quant.format.name() + " codes");
  const auto params = std::make_shared<const kernels::Rescale>(
      kernels::Rescale{requantizer_of(op, out), channel(op, op.get_int("multiplier"), op.get_int("shift")),
                       input_zero_point(g, op, 0), lo, hi});
  p.run = [params](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    shape_output(y, x.shape);
    kernels::rescale(*params, x.data.data(), static_cast<int64_t>(x.data.size()), y.data.data());
  };
  return p;
}
}  // namespace

const OpDef& rescale_op_def() {
  return define_op([](OpDef& d) {
    d.name = "rescale";
    d.systemc_module = "Rescale";
    d.qdq = QdqForm::clamp;  // DequantizeLinear then QuantizeLinear at the new scale (and its clamp)
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
