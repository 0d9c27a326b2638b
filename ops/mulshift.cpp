// mulshift: accumulators, multipliers, shifts → codes. Attributes: flavour, rounding, multiplier_bits,
// clamp_lo, clamp_hi, [axis], [channel_axes]: the channels are the positions of `channel_axes` (default 1)
// consecutive axes from `axis` (2 for one multiplier per position of a plane: an average pool's divisor
// that varies at the edges); the output format and zero point come from the output value.
#include "ops/mulshift.hpp"

#include "ops/common.hpp"

namespace chipref::ops {

MulShiftParams read_mulshift(const IntGraph& g, const Node& op) {
  const IntValue& out = value(g, op.outputs.at(0), op);
  const Tensor& m = constant(g, op, 1);
  const Tensor& s = constant(g, op, 2);
  check_same_length(g, op, {1, 2});
  std::vector<RequantChannel> channels;
  for (int64_t c = 0; c < m.numel(); ++c) channels.push_back(channel(op, m.ints[c], s.ints[c]));
  return MulShiftParams{
      kernels::MulShift{requantizer_of(op, out), std::move(channels), op.get_int("clamp_lo"), op.get_int("clamp_hi")},
      int_attribute(op, "multiplier_bits"), op.get_int("axis", 1)};
}

ChannelLayout channel_layout(const Node& op, const Shape& shape, int64_t axis, size_t count) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (axis < 0 || axis >= std::max<int64_t>(rank, 2))
    throw InputError(op.describe() + ": channel axis " + std::to_string(axis) + " is outside " +
                     shape_to_string(shape));
  const int64_t span = op.get_int("channel_axes", 1);
  if (span < 1 || (axis < rank && axis + span > rank))
    throw InputError(op.describe() + ": channel_axes " + std::to_string(span) + " from axis " + std::to_string(axis) +
                     " do not fit " + shape_to_string(shape));
  ChannelLayout l;
  for (int64_t d = 0; d < axis; ++d) l.outer *= shape[d];
  for (int64_t d = axis + span; d < rank; ++d) l.inner *= shape[d];
  for (int64_t d = axis; d < std::min(axis + span, rank); ++d) l.channels *= shape[d];
  if (count != 1 && static_cast<int64_t>(count) != l.channels)
    throw InputError(op.describe() + ": " + std::to_string(count) + " multipliers for " + std::to_string(l.channels) +
                     " channels");
  return l;
}

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const auto params = std::make_shared<const MulShiftParams>(read_mulshift(g, op));
  p.run = [params, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    const ChannelLayout l = channel_layout(op, x.shape, params->axis, params->kernel.channels.size());
    shape_output(y, x.shape);
    kernels::mulshift(params->kernel, x.data.data(), l.outer, l.channels, l.inner, y.data.data());
    y.known_range = clamped_range(params->kernel);
  };
  if (params->axis == 1 && op.get_int("channel_axes", 1) == 1)
    p.fusable_stage = std::shared_ptr<const kernels::MulShift>(params, &params->kernel);
  return p;
}
}  // namespace

const OpDef& mulshift_op_def() {
  return define_op([](OpDef& d) {
    d.name = "mulshift";
    d.least_inputs = 3, d.most_inputs = 3;
    d.requantizes_accumulators = true;
    d.systemc_module = "MulShift";
    d.qdq = QdqForm::with_producer;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
