// lut: codes, table → codes. Attributes: function (what the table approximates), in_min, shift,
// interpolate; the output format comes from the output value.
#include "ops/lut.hpp"

#include "ops/common.hpp"

namespace chipref::ops {

kernels::Lut read_lut(const IntGraph& g, const Node& op) {
  kernels::Lut p;
  p.table = table_of(op, constant(g, op, 1), INT32_MIN, INT32_MAX);
  p.in_min = op.get_int("in_min");
  p.shift = int_attribute(op, "shift");
  p.interpolate = op.get_int("interpolate") != 0;
  p.out = value(g, op.outputs.at(0), op).quant.format;
  const IntFormat in_format = value(g, op.inputs.at(0), op).quant.format;
  if (!in_format.contains(p.in_min))  // quantize writes the input format's minimum
    throw InputError(op.describe() + ": in_min " + std::to_string(p.in_min) + " is outside the input's " +
                     in_format.name() + " [" + std::to_string(in_format.min()) + ", " +
                     std::to_string(in_format.max()) + "]");
  const int64_t needed = (in_format.max() - p.in_min) >> std::clamp(p.shift, 0, 16);
  if (p.shift < 0 || p.shift > 16 || static_cast<int64_t>(p.table.size()) < needed + 1)
    throw InputError(op.describe() + ": the table has " + std::to_string(p.table.size()) +
                     " entries; its input format needs " + std::to_string(needed + 1));
  return p;
}

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const auto params = std::make_shared<const kernels::Lut>(read_lut(g, op));
  p.run = [params](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    shape_output(y, x.shape);
    kernels::lut(*params, x.data.data(), static_cast<int64_t>(x.data.size()), y.data.data());
  };
  return p;
}
}  // namespace

const OpDef& lut_op_def() {
  return define_op([](OpDef& d) {
    d.name = "lut";
    d.least_inputs = 2, d.most_inputs = 2;
    d.systemc_module = "Lut";
    d.qdq = QdqForm::lookup_table;
    d.prepare = prepare;
    d.approximates = [](const Node& op) { return op.get_string("function"); };
  });
}

}  // namespace chipref::ops
