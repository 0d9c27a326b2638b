// lut: codes, table → codes. Attributes: function (what the table approximates), in_min, shift,
// interpolate; the output format comes from the output value. A table [C, E] holds one row per channel
// of axis `axis` (default 1), every row with the same in_min, shift and interpolation.
#include "ops/lut.hpp"

#include "ops/common.hpp"

namespace chipref::ops {

int64_t lut_channels(const IntGraph& g, const Node& op) {
  const Tensor& t = constant(g, op, 1);
  if (t.rank() == 1) return 1;
  if (t.rank() != 2 || t.shape[0] < 1)
    throw InputError(op.describe() + ": its table must be [E] or one row per channel [C, E], got " +
                     shape_to_string(t.shape));
  return t.shape[0];
}

kernels::Lut read_lut(const IntGraph& g, const Node& op, int64_t channel) {
  kernels::Lut p;
  const Tensor& t = constant(g, op, 1);
  const int64_t channels = lut_channels(g, op);
  if (channel < 0 && t.rank() != 1)
    throw InputError(op.describe() + ": it has one table per channel " + shape_to_string(t.shape) +
                     "; a single LUT unit takes one table");
  if (channel >= channels)
    throw InputError(op.describe() + ": channel " + std::to_string(channel) + " of " + std::to_string(channels));
  const int64_t entries = t.shape.back(), first = channel < 0 ? 0 : channel * entries;
  p.table = table_of(op,
                     Tensor::of_ints(t.dtype, {entries},
                                     std::vector<int64_t>(t.ints.begin() + first, t.ints.begin() + first + entries)),
                     INT32_MIN, INT32_MAX);
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
  const int64_t channels = lut_channels(g, op);
  if (constant(g, op, 1).rank() == 1) {
    const auto params = std::make_shared<const kernels::Lut>(read_lut(g, op));
    p.run = [params](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      const CodeTensor& x = *in[0];
      shape_output(y, x.shape);
      kernels::lut(*params, x.data.data(), static_cast<int64_t>(x.data.size()), y.data.data());
    };
    return p;
  }
  // One table per channel along `axis` (a per-channel PRelu): each channel's elements through its row.
  auto tables = std::make_shared<std::vector<kernels::Lut>>();
  for (int64_t c = 0; c < channels; ++c) tables->push_back(read_lut(g, op, c));
  const int64_t axis = op.get_int("axis", 1);
  p.run = [tables, axis, channels, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    if (axis < 0 || axis >= rank || x.shape[axis] != channels)
      throw InputError(op.describe() + ": " + std::to_string(channels) + " tables for axis " + std::to_string(axis) +
                       " of " + shape_to_string(x.shape));
    shape_output(y, x.shape);
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < rank; ++d) inner *= x.shape[d];
    const int64_t blocks = static_cast<int64_t>(x.data.size()) / std::max<int64_t>(inner, 1);
    for (int64_t b = 0; b < blocks; ++b)
      kernels::lut((*tables)[b % channels], x.data.data() + b * inner, inner, y.data.data() + b * inner);
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
