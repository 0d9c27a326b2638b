// resize_linear: codes → codes resized linearly along `axes` (ONNX Resize, mode linear), one constant
// table per axis [out, 3] of (lo, hi, weight of hi in units of 2^−fraction_bits); the blended sum of
// (x − zp_x) rounds once: y = clamp(sat_out(zp_y + R(acc · S))), S = s_x / (2^(F·axes) · s_y) as
// multiplier / shift (docs/numerics.md §6). Attributes: axes, fraction_bits, multiplier, shift, flavour,
// rounding, multiplier_bits, clamp_lo, clamp_hi; for the QDQ export, coordinate_transformation_mode and
// the model's float32 scales as 24-bit pairs scale_multipliers / scale_shifts (empty when it gave sizes).
#include <algorithm>

#include "kernels/resize.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  const IntValue& out = value(g, op.outputs.at(0), op);
  const std::vector<int64_t> axes = op.get_ints("axes");
  if (axes.empty() || op.inputs.size() != axes.size() + 1)
    throw InputError(op.describe() + ": expects one plan table per resized axis (" + std::to_string(axes.size()) +
                     " axes, " + std::to_string(op.inputs.size() - 1) + " tables)");
  const int fraction_bits = narrow_to_int32(op, "fraction_bits", op.get_int("fraction_bits"));
  if (fraction_bits < 0 || fraction_bits > 16)
    throw InputError(op.describe() + ": fraction_bits " + std::to_string(fraction_bits) + " is outside 0..16");
  // |x − zp| < 2^33 for int32 codes: the blends stay inside int64 (the final sum must fit int32 anyway).
  if (static_cast<int64_t>(axes.size()) * fraction_bits > 28)
    throw InputError(op.describe() + ": " + std::to_string(axes.size()) + " axes of " + std::to_string(fraction_bits) +
                     " fraction bits exceed 28 bits of weights");
  kernels::ResizeLinear params{{},
                               fraction_bits,
                               input_zero_point(g, op, 0),
                               requantizer_of(op, out),
                               channel(op, op.get_int("multiplier"), op.get_int("shift")),
                               op.get_int("clamp_lo"),
                               op.get_int("clamp_hi")};
  for (size_t k = 0; k < axes.size(); ++k) {
    const Tensor& table = constant(g, op, k + 1);
    if (table.rank() != 2 || table.shape[1] != 3)
      throw InputError(op.describe() + ": plan table " + std::to_string(k) + " is " + shape_to_string(table.shape) +
                       "; expected [out, 3] rows of (lo, hi, weight)");
    kernels::ResizeLinearAxis a;
    a.axis = axes[k], a.out = table.shape[0];
    for (int64_t i = 0; i < a.out; ++i) {
      a.lo.push_back(table.ints[3 * i]), a.hi.push_back(table.ints[3 * i + 1]);
      a.weight_hi.push_back(table.ints[3 * i + 2]);
    }
    params.axes.push_back(std::move(a));
  }
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  p.images_independent = std::find(axes.begin(), axes.end(), 0) == axes.end();
  const auto shared = std::make_shared<const kernels::ResizeLinear>(std::move(params));
  p.run = [shared, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    naming(op, [&] { kernels::resize_linear(*shared, in[0]->shape, in[0]->data.data(), y.shape, y.data); });
  };
  return p;
}
}  // namespace

const OpDef& resize_linear_op_def() {
  return define_op([](OpDef& d) {
    d.name = "resize_linear";
    d.least_inputs = 2, d.most_inputs = OpDef::kAnyCount;
    d.systemc_module = "Resize";
    d.qdq = QdqForm::resize_linear;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
