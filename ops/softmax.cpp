// softmax: codes, exp table[, mask] → codes over the last axis (docs/numerics.md §9). Attribute:
// one_over_scale; with a mask (codes of the input's shape: an attention mask), masked_code: the mask code
// whose elements take no part (probability 0).
#include "kernels/softmax.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  const bool masked = op.inputs.size() > 2;
  p.inputs =
      masked ? std::vector<std::string>{op.inputs.at(0), op.inputs.at(2)} : std::vector<std::string>{op.inputs.at(0)};
  const int32_t masked_code = masked ? narrow_to_int32(op, "masked_code", op.get_int("masked_code")) : 1;
  auto params = std::make_shared<kernels::Softmax>();
  // docs/numerics.md §9: E[0] = 2^e >= 1 (so a row's sum is never 0) and no entry above it; e <= 30 and
  // M <= 2^32 keep T·M inside int64.
  params->exp_table = table_of(op, constant(g, op, 1), 0, int64_t{1} << 30);
  params->one_over_scale = op.get_int("one_over_scale");
  const IntValue& out = value(g, op.outputs.at(0), op);
  params->zero_point = out.quant.zero_point;
  params->out = out.quant.format;
  if (params->exp_table.empty() || params->exp_table[0] < 1 || params->one_over_scale < 1 ||
      params->one_over_scale > (int64_t{1} << 32))
    throw InputError(op.describe() + ": an exp table must start with a positive entry and one_over_scale be 1..2^32");
  if (!masked) {
    p.run = over_last_axis([params](const int32_t* x, int64_t rows, int64_t cols, int32_t* y) {
      kernels::softmax(*params, x, rows, cols, y);
    });
    return p;
  }
  p.run = [params, masked_code, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    if (in[1]->shape != x.shape)
      throw InputError(op.describe() + ": its mask " + shape_to_string(in[1]->shape) +
                       " must have the shape of its input " + shape_to_string(x.shape));
    const int64_t cols = x.shape.empty() ? 1 : x.shape.back();
    shape_output(y, x.shape);
    kernels::softmax(*params, x.data.data(), static_cast<int64_t>(x.data.size()) / std::max<int64_t>(cols, 1), cols,
                     y.data.data(), in[1]->data.data(), masked_code);
  };
  return p;
}
}  // namespace

const OpDef& softmax_op_def() {
  return define_op([](OpDef& d) {
    d.name = "softmax";
    d.least_inputs = 2, d.most_inputs = 3;
    d.systemc_module = "Softmax";
    d.qdq = QdqForm::softmax;
    d.prepare = prepare;
    d.approximates = [](const Node&) { return std::string("exp (softmax)"); };
  });
}

}  // namespace chipref::ops
