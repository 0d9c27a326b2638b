// compare: exact integer codes (scale 1, zero point 0: token ids, masks) → 1 where `relation` holds
// against the constant `value`, else 0 (ONNX Equal, Less, Greater, LessOrEqual, GreaterOrEqual with a
// constant operand; Cast to bool is not_equal 0). Attributes: relation (equal, not_equal, less, greater,
// less_or_equal, greater_or_equal), value.
#include "kernels/compare.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const IntValue& in = value(g, op.inputs.at(0), op);
  if (in.quant.scale != 1.0 || in.quant.zero_point != 0)
    throw InputError(op.describe() + ": compares exact integers; its input '" + op.inputs[0] +
                     "' must have scale 1 and zero point 0");
  kernels::Relation relation{};
  naming(op, [&] { relation = kernels::parse_relation(op.get_string("relation")); });
  const int64_t v = op.get_int("value");
  p.run = [relation, v](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    shape_output(y, in[0]->shape);
    kernels::compare(relation, v, in[0]->data.data(), static_cast<int64_t>(y.data.size()), y.data.data());
  };
  return p;
}
}  // namespace

const OpDef& compare_op_def() {
  return define_op([](OpDef& d) {
    d.name = "compare";
    d.systemc_module = "Compare";
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
