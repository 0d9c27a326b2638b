// layernorm: codes, γ multipliers, γ shifts, γ signs, β codes → codes over the last axis
// (docs/numerics.md §10). Attributes: epsilon_units, extra_bits, multiplier_bits.
#include "kernels/layernorm.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const IntValue& out = value(g, op.outputs.at(0), op);
  auto params = std::make_shared<kernels::LayerNorm>();
  const QuantParams& in = value(g, op.inputs.at(0), op).quant;
  // docs/numerics.md §10's bound |c| < 2n·2^17 (c shifted left by up to 31 bits inside int64) holds for
  // input codes of at most 16 bits.
  if (in.format.bits() > 16)
    throw InputError(op.describe() + ": its input is " + in.format.name() +
                     "; the integer LayerNorm takes codes of at most 16 bits");
  params->in_zero_point = in.zero_point;
  params->extra_bits = int_attribute(op, "extra_bits");
  if (op.get_int("epsilon_units") < 0)
    throw InputError(op.describe() + ": epsilon_units " + std::to_string(op.get_int("epsilon_units")) + " is negative");
  params->epsilon = static_cast<uint64_t>(op.get_int("epsilon_units"));
  params->requantizer =
      Requantizer::make(RequantFlavour::single, RoundingMode::half_even, out.quant.format, out.quant.zero_point);
  const Tensor &m = constant(g, op, 1), &sh = constant(g, op, 2), &neg = constant(g, op, 3), &b = constant(g, op, 4);
  const int64_t bits = op.get_int("multiplier_bits");
  check_same_length(g, op, {1, 2, 3, 4});
  for (int64_t j = 0; j < m.numel(); ++j) {
    params->gamma.push_back(channel_of(op, m.ints[j], sh.ints[j], bits, RequantFlavour::single));
    params->gamma_negative.push_back(neg.ints[j] != 0);
    params->beta.push_back(narrow_to_int32(op, "β code", b.ints[j]));
  }
  if (params->extra_bits < 0 || params->extra_bits > 16) throw InputError(op.describe() + ": extra_bits must be 0..16");
  p.run = over_last_axis([params](const int32_t* x, int64_t rows, int64_t cols, int32_t* y) {
    kernels::layernorm(*params, x, rows, cols, y);
  });
  return p;
}
}  // namespace

const OpDef& layernorm_op_def() {
  return define_op([](OpDef& d) {
    d.name = "layernorm";
    d.least_inputs = 5, d.most_inputs = 5;
    d.systemc_module = "LayerNorm";
    d.qdq = QdqForm::layernorm;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
