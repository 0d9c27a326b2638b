// clamp: codes → the same codes limited to [clamp_lo, clamp_hi] (a ReLU, ReLU6 or Clip that no
// requantization before it could absorb), docs/numerics.md §14. Input and output share one quantization,
// so clamping the codes is clamping the reals exactly: y = min(max(x, lo), hi).
#include "ops/common.hpp"

namespace chipref::ops {

namespace {

// The spec kernel: one comparison pair per element; no rounding, no saturation beyond [lo, hi].
void clamp_codes(const int32_t* x, int64_t n, int32_t lo, int32_t hi, int32_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const QuantParams& in = value(g, op.inputs.at(0), op).quant;
  const QuantParams& out = value(g, op.outputs.at(0), op).quant;
  if (in.format != out.format || in.zero_point != out.zero_point || in.scale != out.scale)
    throw InputError(
        op.describe() +
        ": its input and output are quantized differently; a clamp keeps the codes and so needs one quantization");
  const int64_t lo = op.get_int("clamp_lo"), hi = op.get_int("clamp_hi");
  if (lo > hi || !out.format.contains(lo) || !out.format.contains(hi))
    throw InputError(op.describe() + ": clamp [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "] is not an interval of its " + out.format.name() + " codes [" +
                     std::to_string(out.format.min()) + ", " + std::to_string(out.format.max()) + "]");
  p.run = [lo, hi](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    shape_output(y, x.shape);
    clamp_codes(x.data.data(), static_cast<int64_t>(x.data.size()), static_cast<int32_t>(lo), static_cast<int32_t>(hi),
                y.data.data());
  };
  return p;
}

}  // namespace

const OpDef& clamp_op_def() {
  return define_op([](OpDef& d) {
    d.name = "clamp";
    d.systemc_module = "Clamp";
    d.qdq = QdqForm::clamp;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
