#pragma once
// mulshift: int32 accumulators, multipliers, shifts → codes (docs/numerics.md §5). Its parameters, read
// and checked once, are what the engines run and what cosim drives a MulShift unit with.

#include "kernels/requant.hpp"
#include "ops/op_def.hpp"

namespace chipref::ops {

const OpDef& mulshift_op_def();

struct MulShiftParams {
  kernels::MulShift kernel;  // requantizer (flavour, rounding, output format and zero point), channels, clamp
  int multiplier_bits = 31;
  int64_t axis = 1;  // the channel axis: 1 (NCHW), or the last for a matrix product
};
// InputError naming the op for constants or attributes that do not fit together.
MulShiftParams read_mulshift(const IntGraph& graph, const Node& mulshift);

// The multiplier index of each element of a tensor of `shape` (outer × channels × inner around `axis`, the
// channels spanning the op's `channel_axes` axes):
// its channel, or 0 when there is one multiplier. InputError naming the op if `count` is neither 1 nor
// the channels, or `axis` is outside the shape.
struct ChannelLayout {
  int64_t outer = 1, channels = 1, inner = 1;
};
ChannelLayout channel_layout(const Node& mulshift, const Shape& shape, int64_t axis, size_t count);

}  // namespace chipref::ops
