#include "ops/common.hpp"

#include "ops/mac.hpp"

#include <algorithm>

namespace chipref::ops {

std::vector<int32_t> as_int32(const Tensor& t) { return std::vector<int32_t>(t.ints.begin(), t.ints.end()); }

const Tensor& constant(const IntGraph& g, const Node& op, size_t i) {
  const auto it = g.constants.find(op.inputs.at(i));
  if (it == g.constants.end()) throw InputError(op.describe() + ": constant '" + op.inputs[i] + "' is missing");
  return it->second;
}

const IntValue& value(const IntGraph& g, const std::string& name, const Node& op) {
  const auto it = g.values.find(name);
  if (it == g.values.end()) throw InputError(op.describe() + ": value '" + name + "' has no integer format");
  return it->second;
}

int32_t input_zero_point(const IntGraph& g, const Node& op, size_t input) {
  return static_cast<int32_t>(value(g, op.inputs.at(input), op).quant.zero_point);
}

void check_same_length(const IntGraph& g, const Node& op, std::initializer_list<size_t> inputs) {
  const int64_t n = constant(g, op, *inputs.begin()).numel();
  for (size_t i : inputs)
    if (constant(g, op, i).numel() != n)
      throw InputError(op.describe() + ": constants '" + op.inputs[*inputs.begin()] + "' and '" + op.inputs[i] +
                       "' are read per channel side by side but hold " + std::to_string(n) + " and " +
                       std::to_string(constant(g, op, i).numel()) + " elements");
}

std::vector<int64_t> ints_of_length(const Node& op, const std::string& attr, size_t length,
                                    std::optional<std::vector<int64_t>> fallback) {
  std::vector<int64_t> v = op.get_ints(attr, std::move(fallback));
  if (v.size() != length)
    throw InputError(op.describe() + ": attribute '" + attr + "' holds " + std::to_string(v.size()) +
                     " numbers; expected " + std::to_string(length));
  return v;
}

kernels::CodeRange clamped_range(const IntFormat& format, int64_t clamp_lo, int64_t clamp_hi) {
  // a format of 32 bits or fewer keeps the bounds inside int32; an empty clamp gives an empty range (lo > hi),
  // which the kernels ignore
  const int64_t lo = std::max({clamp_lo, format.min(), int64_t{INT32_MIN}}),
                hi = std::min({clamp_hi, format.max(), int64_t{INT32_MAX}});
  return kernels::CodeRange{static_cast<int32_t>(lo), static_cast<int32_t>(hi)};
}

kernels::CodeRange clamped_range(const kernels::MulShift& stage) {
  return clamped_range(stage.requantizer.output_format(), stage.clamp_lo, stage.clamp_hi);
}

void shape_output(CodeTensor& y, Shape shape) {
  y.data.resize(static_cast<size_t>(checked_element_count(shape, "an op's output")));
  y.in_bytes = false;
  y.shape = std::move(shape);
}

void shape_byte_output(CodeTensor& y, Shape shape, int32_t byte_base) {
  y.bytes.resize(static_cast<size_t>(checked_element_count(shape, "an op's output")));
  y.in_bytes = true, y.byte_base = byte_base;
  y.shape = std::move(shape);
}

MatmulShape matmul_shape(const Node& op, const Shape& a, const Shape& b) {
  const size_t rank = a.size();
  bool ok = rank >= 2 && b.size() == rank && a[rank - 1] == b[rank - 2];
  for (size_t d = 0; ok && d + 2 < rank; ++d) ok = a[d] == b[d];
  if (!ok) throw InputError(op.describe() + ": cannot multiply " + shape_to_string(a) + " by " + shape_to_string(b));
  MatmulShape s;
  s.m = a[rank - 2], s.k = a[rank - 1], s.n = b[rank - 1];
  s.batch = element_count(a) / std::max<int64_t>(s.m * s.k, 1);
  s.output = a;
  s.output[rank - 1] = s.n;
  return s;
}

int32_t narrow_to_int32(const Node& op, const std::string& what, int64_t v) {
  if (v < INT32_MIN || v > INT32_MAX)
    throw InputError(op.describe() + ": " + what + " " + std::to_string(v) + " is outside int32");
  return static_cast<int32_t>(v);
}

int int_attribute(const Node& op, const std::string& attr) {
  return narrow_to_int32(op, "attribute '" + attr + "'", op.get_int(attr));
}

kernels::ConvGeometry geometry(const Node& op, const Shape& x, int64_t out_channels, int64_t kh, int64_t kw) {
  if (x.size() != 4) throw InputError(op.describe() + ": expects an NCHW input, got " + shape_to_string(x));
  kernels::ConvGeometry g;
  g.batch = x[0], g.in_channels = x[1], g.in_h = x[2], g.in_w = x[3];
  g.out_channels = out_channels, g.kernel_h = kh, g.kernel_w = kw;
  const auto strides = ints_of_length(op, "strides", 2, std::vector<int64_t>{1, 1}),
             dilations = ints_of_length(op, "dilations", 2, std::vector<int64_t>{1, 1});
  const auto pads = ints_of_length(op, "pads", 4, std::vector<int64_t>{0, 0, 0, 0});
  g.stride_h = strides[0], g.stride_w = strides[1], g.dilation_h = dilations[0], g.dilation_w = dilations[1];
  g.pad_top = pads[0], g.pad_left = pads[1], g.pad_bottom = pads[2], g.pad_right = pads[3];
  g.groups = op.get_int("group", 1);
  if (!g.valid()) throw InputError(op.describe() + ": invalid geometry for input " + shape_to_string(x));
  checked_element_count({g.batch, std::max(g.in_channels, g.out_channels), g.out_h(), g.out_w()},
                        op.describe() + "'s output");
  return g;
}

std::vector<int64_t> window_of(const Node& op) {
  return op.get_int("global", 0) != 0 ? std::vector<int64_t>{} : ints_of_length(op, "kernel", 2);
}

kernels::ConvGeometry window_geometry(const Node& op, const Shape& x, const std::vector<int64_t>& kernel) {
  if (x.size() != 4) throw InputError(op.describe() + ": expects an NCHW input, got " + shape_to_string(x));
  return kernel.empty() ? geometry(op, x, x[1], x[2], x[3]) : geometry(op, x, x[1], kernel[0], kernel[1]);
}

Requantizer requantizer_of(const Node& op, const IntValue& out) {
  return Requantizer::make(parse_requant_flavour(op.get_string("flavour")),
                           parse_rounding_mode(op.get_string("rounding")), out.quant.format, out.quant.zero_point);
}

RequantChannel channel_of(const Node& op, int64_t multiplier, int64_t shift, int64_t bits, RequantFlavour flavour) {
  const FixedMultiplier fixed{narrow_to_int32(op, "multiplier", multiplier), narrow_to_int32(op, "shift", shift),
                              narrow_to_int32(op, "multiplier width", bits)};
  try {
    return requant_channel_of(fixed, flavour);
  } catch (const InputError& e) {
    throw InputError(op.describe() + ": " + e.what());
  }
}

RequantChannel channel(const Node& op, int64_t multiplier, int64_t shift) {
  return channel_of(op, multiplier, shift, op.get_int("multiplier_bits"),
                    parse_requant_flavour(op.get_string("flavour")));
}

AccumulatorSpec accumulator_of(const Node& op) {
  return AccumulatorSpec::make(int_attribute(op, "acc_bits"), parse_overflow_policy(op.get_string("overflow")));
}

std::vector<int32_t> table_of(const Node& op, const Tensor& t, int64_t lo, int64_t hi) {
  for (int64_t v : t.ints)
    if (v < lo || v > hi)
      throw InputError(op.describe() + ": table entry " + std::to_string(v) + " is outside [" + std::to_string(lo) +
                       ", " + std::to_string(hi) + "]");
  return as_int32(t);
}

std::vector<int32_t> weight_zero_points(const IntGraph& g, const Node& mac, const Tensor& codes) {
  const int64_t channels = codes.shape.empty() ? 1 : codes.shape[0];
  const auto it = g.weights.find(mac.inputs.at(1));
  if (it == g.weights.end()) return std::vector<int32_t>(static_cast<size_t>(channels), 0);
  const WeightQuant& q = it->second;
  if (q.zero_points.size() != 1 && static_cast<int64_t>(q.zero_points.size()) != channels)
    throw InputError(mac.describe() + ": its weights '" + it->first + "' have " + std::to_string(q.zero_points.size()) +
                     " zero points; expected 1 or one per output channel (" + std::to_string(channels) + ")");
  for (size_t i = 0; i < codes.ints.size(); ++i)
    if (!q.format.contains(codes.ints[i]))
      throw InputError(mac.describe() + ": weight code " + std::to_string(codes.ints[i]) + " (element " +
                       std::to_string(i) + " of '" + it->first + "') is outside its format " + q.format.name());
  std::vector<int32_t> zero_points(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) zero_points[static_cast<size_t>(c)] = static_cast<int32_t>(q.zero_point(c));
  return zero_points;
}

std::vector<int32_t> offset_weights(const IntGraph& g, const Node& mac, const Tensor& codes) {
  const std::vector<int32_t> zero_points = weight_zero_points(g, mac, codes);
  std::vector<int32_t> offset = as_int32(codes);
  const size_t per = offset.size() / std::max<size_t>(zero_points.size(), 1);
  for (size_t i = 0; i < offset.size(); ++i) offset[i] -= zero_points[i / per];
  return offset;
}

std::shared_ptr<const PreparedWeights> prepare_weights(const IntGraph& g, const Node& op, const Tensor& w,
                                                       int64_t out_channels, bool compressed,
                                                       kernels::MacLayout layout) {
  auto p = std::make_shared<PreparedWeights>();
  p->codes = offset_weights(g, op, w);
  if (compressed && !std::equal(p->codes.begin(), p->codes.end(), w.ints.begin()))
    throw InputError(op.describe() +
                     ": its N:M-compressed weights have a nonzero zero point; the sparse kernels "
                     "skip code 0, which must be the real 0 (quantize with symmetric signed weights)");
  p->mac = kernels::MacWeights::prepare(p->codes.data(), out_channels, w.numel() / std::max<int64_t>(out_channels, 1),
                                        layout);
  return p;
}

std::shared_ptr<const std::vector<int32_t>> bias_of(const IntGraph& g, const Node& op) {
  return std::make_shared<const std::vector<int32_t>>(op.inputs.size() > 2 ? as_int32(constant(g, op, 2))
                                                                           : std::vector<int32_t>{});
}

const Tensor& dense_weights(const IntGraph& g, const Node& op, const MacWeightSource& source) {
  return source.dense ? *source.dense : constant(g, op, 1);
}

}  // namespace chipref::ops
