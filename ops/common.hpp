#pragma once
// What the op files share: reading constants, values and attributes of an op with errors that name it,
// and the output-shaping and per-channel helpers. Only ops/ includes this.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/mac.hpp"
#include "numerics/requant.hpp"
#include "ops/op_def.hpp"

namespace chipref::ops {

using Inputs = std::vector<const CodeTensor*>;

// An op's definition, built once by `fill` on first use (each op file's NAME_op_def calls this with its
// own lambda, so each op has its own definition).
template <class Fill>
const OpDef& define_op(Fill fill) {
  static const OpDef def = [&] {
    OpDef d;
    fill(d);
    return d;
  }();
  return def;
}

std::vector<int32_t> as_int32(const Tensor& t);
const Tensor& constant(const IntGraph& g, const Node& op, size_t input);
const IntValue& value(const IntGraph& g, const std::string& name, const Node& op);
// The zero point of the value `op` reads as input `input`, as the kernels hold it.
int32_t input_zero_point(const IntGraph& g, const Node& op, size_t input);
// Per-channel constants read side by side (multipliers and shifts, γ and β): a graph.json edited by
// hand may give them different lengths.
void check_same_length(const IntGraph& g, const Node& op, std::initializer_list<size_t> inputs);
// A list attribute of a fixed length (strides, pads, a window's kernel).
std::vector<int64_t> ints_of_length(const Node& op, const std::string& attr, size_t length,
                                    std::optional<std::vector<int64_t>> fallback = std::nullopt);
void shape_output(CodeTensor& y, Shape shape);
// The same for an output stored in bytes (CodeTensor::in_bytes), code = byte + byte_base.
void shape_byte_output(CodeTensor& y, Shape shape, int32_t byte_base);
// The codes a requantizing op leaves: its clamp [lo, hi] inside its output format (CodeTensor::known_range).
kernels::CodeRange clamped_range(const IntFormat& format, int64_t clamp_lo, int64_t clamp_hi);
kernels::CodeRange clamped_range(const kernels::MulShift& stage);
// The range of a MAC input for the kernels: its known range, or null (they scan).
inline const kernels::CodeRange* range_of(const CodeTensor& x) { return x.known_range ? &*x.known_range : nullptr; }
// A product of two activations a [.., m, k] by b [.., k, n] (the same leading axes): its sizes and output
// shape [.., m, n]; InputError naming the op if the shapes do not multiply.
struct MatmulShape {
  int64_t batch = 0, m = 0, k = 0, n = 0;
  Shape output;
};
MatmulShape matmul_shape(const Node& op, const Shape& a, const Shape& b);
// graph.json stores integers in 64 bits; the kernels hold widths, shifts and multipliers in 32, and a
// value past int32 must not narrow into a plausible one (2^32 + 8 into 8).
int32_t narrow_to_int32(const Node& op, const std::string& what, int64_t v);
int int_attribute(const Node& op, const std::string& attr);

// The window geometry of a conv_mac, window_sum or window_max on input `x` (NCHW): strides, dilations,
// pads and group from the op's attributes; InputError naming the op if they do not fit `x`.
kernels::ConvGeometry geometry(const Node& op, const Shape& x, int64_t out_channels, int64_t kernel_h,
                               int64_t kernel_w);
// A pooling window: the `kernel` attribute [KH, KW], or empty when `global` = 1 (every position).
std::vector<int64_t> window_of(const Node& op);
// The geometry of window `kernel` (empty: the whole plane) on input `x` (NCHW), channels kept.
kernels::ConvGeometry window_geometry(const Node& op, const Shape& x, const std::vector<int64_t>& kernel);

// The output requantizer of an op with `flavour` and `rounding` attributes, writing value `out`.
Requantizer requantizer_of(const Node& op, const IntValue& out);
// A (multiplier, shift) pair as graph.json stores it: 64-bit integers, checked before they narrow.
RequantChannel channel_of(const Node& op, int64_t multiplier, int64_t shift, int64_t bits, RequantFlavour flavour);
// The same with the op's own `multiplier_bits` and `flavour`.
RequantChannel channel(const Node& op, int64_t multiplier, int64_t shift);
AccumulatorSpec accumulator_of(const Node& op);
// A table constant (a LUT's, softmax's exponentials) as the kernel holds it, every entry in [lo, hi].
std::vector<int32_t> table_of(const Node& op, const Tensor& t, int64_t lo, int64_t hi);

// Runs `f`, adding the op's name to an InputError (the movement kernels report shapes without it).
template <class F>
void naming(const Node& op, F f) {
  try {
    f();
  } catch (const InputError& e) {
    throw InputError(op.describe() + ": " + e.what());
  }
}

// kernel(x, rows, cols, y) over the rows of x's last axis (softmax, LayerNorm).
template <class Kernel>
auto over_last_axis(Kernel kernel) {
  return [kernel](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    const int64_t cols = x.shape.empty() ? 1 : x.shape.back();
    shape_output(y, x.shape);
    kernel(x.data.data(), static_cast<int64_t>(x.data.size()) / std::max<int64_t>(cols, 1), cols, y.data.data());
  };
}

// A MAC's weight codes with their per-layer preparation (the MacWeights point into `codes`), and its
// bias (empty: none).
struct PreparedWeights {
  std::vector<int32_t> codes;
  kernels::MacWeights mac;
};
// `codes` are the weights minus their zero points (offset_weights). `compressed`: the op runs the N:M kernels,
// which skip code 0, so a nonzero zero point is refused. `layout`: the kernel the weights feed.
std::shared_ptr<const PreparedWeights> prepare_weights(const IntGraph& g, const Node& op, const Tensor& w,
                                                       int64_t out_channels, bool compressed,
                                                       kernels::MacLayout layout);
std::shared_ptr<const std::vector<int32_t>> bias_of(const IntGraph& g, const Node& op);
const Tensor& dense_weights(const IntGraph& g, const Node& op, const MacWeightSource& source);

}  // namespace chipref::ops
