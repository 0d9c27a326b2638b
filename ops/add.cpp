// add: codes a, codes b of one shape → codes, each operand rescaled by its own multiplier
// (docs/numerics.md §6); with `subtract` 1, a − b. Attributes: multiplier_a, shift_a, multiplier_b,
// shift_b, flavour, rounding, multiplier_bits, clamp_lo, clamp_hi, subtract (optional, 0), round_once
// (optional, 0). With round_once 1 (a pre-quantized QDQ graph's Add, `float` flavour only) the pairs are
// the operands' own scales s_a and s_b, multiplier_y / shift_y is s_y, and the sum rounds once as the
// graph's float32 ops compute it (docs/numerics.md §7).
#include "kernels/requant.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
void require_same_shapes(const Node& op, const CodeTensor& a, const CodeTensor& b) {
  if (a.shape != b.shape)
    throw InputError(op.describe() + ": operand shapes differ: " + shape_to_string(a.shape) + " and " +
                     shape_to_string(b.shape));
}

PreparedOp prepare_round_once(const IntGraph& g, const Node& op, const IntValue& out) {
  if (parse_requant_flavour(op.get_string("flavour")) != RequantFlavour::float32)
    throw InputError(op.describe() + ": round_once needs the float requant flavour (its scales are float32 values)");
  const auto scale = [&](const char* multiplier, const char* shift) {
    return channel(op, op.get_int(multiplier), op.get_int(shift)).scale_f32;
  };
  const auto params = std::make_shared<const kernels::QdqAdd>(kernels::QdqAdd{
      scale("multiplier_a", "shift_a"), scale("multiplier_b", "shift_b"), scale("multiplier_y", "shift_y"),
      input_zero_point(g, op, 0), input_zero_point(g, op, 1), static_cast<int32_t>(out.quant.zero_point),
      out.quant.format, op.get_int("clamp_lo"), op.get_int("clamp_hi"), op.get_int("subtract", 0) != 0});
  PreparedOp p;
  p.inputs = {op.inputs.at(0), op.inputs.at(1)};
  p.run = [params, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    require_same_shapes(op, *in[0], *in[1]);
    shape_output(y, in[0]->shape);
    kernels::qdq_add(*params, in[0]->data.data(), in[1]->data.data(), static_cast<int64_t>(in[0]->data.size()),
                     y.data.data());
  };
  return p;
}

PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  const IntValue& out = value(g, op.outputs.at(0), op);
  if (op.get_int("round_once", 0) != 0) return prepare_round_once(g, op, out);
  PreparedOp p;
  p.inputs = {op.inputs.at(0), op.inputs.at(1)};
  const auto params = std::make_shared<const kernels::AddRequant>(kernels::AddRequant{
      requantizer_of(op, out), channel(op, op.get_int("multiplier_a"), op.get_int("shift_a")),
      channel(op, op.get_int("multiplier_b"), op.get_int("shift_b")), input_zero_point(g, op, 0),
      input_zero_point(g, op, 1), op.get_int("clamp_lo"), op.get_int("clamp_hi"), op.get_int("subtract", 0) != 0});
  const kernels::CodeRange clamp =
      clamped_range(params->requantizer.output_format(), params->clamp_lo, params->clamp_hi);
  const auto run = [params, clamp, &op](const Inputs& in, CodeTensor& y, bool bytes_out) {
    const CodeTensor& a = *in[0];
    const CodeTensor& b = *in[1];
    require_same_shapes(op, a, b);
    if (bytes_out)
      shape_byte_output(y, a.shape, clamp.lo);
    else
      shape_output(y, a.shape);
    const auto codes = [](const CodeTensor& x) {
      return x.in_bytes ? kernels::CodesIn{nullptr, x.bytes.data(), x.byte_base} : kernels::CodesIn{x.data.data()};
    };
    const kernels::CodesOut out =
        bytes_out ? kernels::CodesOut{nullptr, y.bytes.data(), y.byte_base} : kernels::CodesOut{y.data.data()};
    kernels::add_requant(*params, codes(a), codes(b), element_count(a.shape), out);
    y.known_range = clamp;
  };
  p.run = [run](const Inputs& in, CodeTensor& y, OverflowCounter&) { run(in, y, false); };
  p.run_bytes_out = [run](const Inputs& in, CodeTensor& y, OverflowCounter&) { run(in, y, true); };
  p.reads_bytes = true;
  p.bytes_out_range = clamp;
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
