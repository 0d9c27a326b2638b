#include "sim/int_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>

#include "numerics/requant.hpp"
#include "numerics/rounding.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/lut.hpp"
#include "kernels/mac.hpp"
#include "kernels/movement.hpp"
#include "kernels/pool.hpp"
#include "kernels/requant.hpp"
#include "kernels/softmax.hpp"

namespace chipref {

namespace {

using Inputs = std::vector<const CodeTensor*>;

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

// Per-channel constants read side by side (multipliers and shifts, γ and β): a graph.json edited by
// hand may give them different lengths.
void check_same_length(const IntGraph& g, const Node& op, std::initializer_list<size_t> inputs) {
  const int64_t n = constant(g, op, *inputs.begin()).numel();
  for (size_t i : inputs)
    if (constant(g, op, i).numel() != n)
      throw InputError(op.describe() + ": constants '" + op.inputs[*inputs.begin()] + "' and '" + op.inputs[i] + "' are read per channel side by side but hold " +
                       std::to_string(n) + " and " + std::to_string(constant(g, op, i).numel()) + " elements");
}

// A list attribute of a fixed length (strides, pads, a window's kernel).
std::vector<int64_t> ints_of_length(const Node& op, const std::string& attr, size_t length, std::optional<std::vector<int64_t>> fallback = std::nullopt) {
  std::vector<int64_t> v = op.get_ints(attr, std::move(fallback));
  if (v.size() != length)
    throw InputError(op.describe() + ": attribute '" + attr + "' holds " + std::to_string(v.size()) + " numbers; expected " + std::to_string(length));
  return v;
}

void shape_output(CodeTensor& y, Shape shape) {
  y.data.resize(static_cast<size_t>(checked_element_count(shape, "an op's output")));
  y.shape = std::move(shape);
}

kernels::ConvGeometry geometry(const Node& op, const Shape& x, int64_t out_channels, int64_t kh, int64_t kw) {
  if (x.size() != 4) throw InputError(op.describe() + ": expects an NCHW input, got " + shape_to_string(x));
  kernels::ConvGeometry g;
  g.batch = x[0], g.in_channels = x[1], g.in_h = x[2], g.in_w = x[3];
  g.out_channels = out_channels, g.kernel_h = kh, g.kernel_w = kw;
  const auto strides = ints_of_length(op, "strides", 2, std::vector<int64_t>{1, 1}), dilations = ints_of_length(op, "dilations", 2, std::vector<int64_t>{1, 1});
  const auto pads = ints_of_length(op, "pads", 4, std::vector<int64_t>{0, 0, 0, 0});
  g.stride_h = strides[0], g.stride_w = strides[1], g.dilation_h = dilations[0], g.dilation_w = dilations[1];
  g.pad_top = pads[0], g.pad_left = pads[1], g.pad_bottom = pads[2], g.pad_right = pads[3];
  g.groups = op.get_int("group", 1);
  if (!g.valid()) throw InputError(op.describe() + ": invalid geometry for input " + shape_to_string(x));
  checked_element_count({g.batch, std::max(g.in_channels, g.out_channels), g.out_h(), g.out_w()}, op.describe() + "'s output");
  return g;
}

Requantizer requantizer_of(const Node& op, const IntValue& out) {
  return Requantizer::make(parse_requant_flavour(op.get_string("flavour")), parse_rounding_mode(op.get_string("rounding")),
                           out.quant.format, out.quant.zero_point);
}

// graph.json stores integers in 64 bits; the kernels hold widths, shifts and multipliers in 32, and a
// value past int32 must not narrow into a plausible one (2^32 + 8 into 8).
int32_t narrow_to_int32(const Node& op, const std::string& what, int64_t v) {
  if (v < INT32_MIN || v > INT32_MAX) throw InputError(op.describe() + ": " + what + " " + std::to_string(v) + " is outside int32");
  return static_cast<int32_t>(v);
}
int int_attribute(const Node& op, const std::string& attr) { return narrow_to_int32(op, "attribute '" + attr + "'", op.get_int(attr)); }

// A table constant (a LUT's, softmax's exponentials) as the kernel holds it, every entry in [lo, hi].
std::vector<int32_t> table_of(const Node& op, const Tensor& t, int64_t lo, int64_t hi) {
  for (int64_t v : t.ints)
    if (v < lo || v > hi)
      throw InputError(op.describe() + ": table entry " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return as_int32(t);
}

// A (multiplier, shift) pair as a graph.json stores it: 64-bit integers, checked before they narrow.
RequantChannel channel_of(const Node& op, int64_t multiplier, int64_t shift, int64_t bits, RequantFlavour flavour) {
  const FixedMultiplier fixed{narrow_to_int32(op, "multiplier", multiplier), narrow_to_int32(op, "shift", shift), narrow_to_int32(op, "multiplier width", bits)};
  try {
    return requant_channel_of(fixed, flavour);
  } catch (const InputError& e) {
    throw InputError(op.describe() + ": " + e.what());
  }
}

RequantChannel channel(const Node& op, int64_t multiplier, int64_t shift) {
  return channel_of(op, multiplier, shift, op.get_int("multiplier_bits"), parse_requant_flavour(op.get_string("flavour")));
}

AccumulatorSpec accumulator_of(const Node& op) {
  return AccumulatorSpec::make(int_attribute(op, "acc_bits"), parse_overflow_policy(op.get_string("overflow")));
}

// kernel(x, rows, cols, y) over the rows of x's last axis (softmax, LayerNorm).
template <class Kernel>
auto last_axis(Kernel kernel) {
  return [kernel](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    const int64_t cols = x.shape.empty() ? 1 : x.shape.back();
    shape_output(y, x.shape);
    kernel(x.data.data(), static_cast<int64_t>(x.data.size()) / std::max<int64_t>(cols, 1), cols, y.data.data());
  };
}

// Movement kernels report shape errors without the op's name; add it.
template <class F>
void naming(const Node& op, F f) {
  try {
    f();
  } catch (const InputError& e) {
    throw InputError(op.describe() + ": " + e.what());
  }
}

// The bias of a MAC op (empty: none).
std::shared_ptr<const std::vector<int32_t>> bias_of(const IntGraph& g, const Node& op) {
  return std::make_shared<const std::vector<int32_t>>(op.inputs.size() > 2 ? as_int32(constant(g, op, 2)) : std::vector<int32_t>{});
}

// Weight codes with their per-layer preparation (the MacWeights point into `codes`).
struct PreparedWeights {
  std::vector<int32_t> codes;
  kernels::MacWeights mac;
};
std::shared_ptr<const PreparedWeights> prepare_weights(const Tensor& w, int64_t out_channels) {
  auto p = std::make_shared<PreparedWeights>();
  p->codes = as_int32(w);
  p->mac = kernels::MacWeights::prepare(p->codes.data(), out_channels, w.numel() / std::max<int64_t>(out_channels, 1));
  return p;
}

const Tensor& dense_weights(const IntGraph& g, const Node& op, const MacWeightSource& source) {
  return source.dense ? *source.dense : constant(g, op, 1);
}

}  // namespace

kernels::NmWeights nm_weights_of(const IntGraph& g, const Node& op) {
  const Tensor& values = constant(g, op, 0);
  const Tensor& words = constant(g, op, 1);
  const Shape shape = op.get_ints("shape");
  kernels::NmWeights w;
  w.pattern = kernels::NmPattern{int_attribute(op, "n"), int_attribute(op, "m")};
  if (shape.empty() || shape[0] < 1 || element_count(shape) % shape[0] != 0) throw InputError(op.describe() + ": invalid dense shape " + shape_to_string(shape));
  w.rows = shape[0], w.k = element_count(shape) / shape[0];
  w.values = as_int32(values);
  for (int64_t v : words.ints) {
    if (v < 0 || v > 0xFFFFFFFFLL) throw InputError(op.describe() + ": index word " + std::to_string(v) + " is not a 32-bit word");
    w.index_words.push_back(static_cast<uint32_t>(v));
  }
  kernels::validate_nm(w, op.describe());
  return w;
}

Tensor mac_weight_codes(const IntGraph& g, const std::string& name) {
  if (const auto it = g.constants.find(name); it != g.constants.end()) return it->second;
  for (const Node& op : g.ops)
    if (op.op_type == "sparse_decode" && op.outputs.at(0) == name) {
      const kernels::NmWeights w = nm_weights_of(g, op);
      const std::vector<int32_t> dense = kernels::decode_nm(w, op.describe());
      return Tensor::of_ints(constant(g, op, 0).dtype, op.get_ints("shape"), std::vector<int64_t>(dense.begin(), dense.end()));
    }
  throw InputError("weights '" + name + "' are neither a constant nor decoded by a sparse_decode op");
}

PreparedOp prepare_int_op(const IntGraph& g, const Node& op, const MacWeightSource& source) {
  PreparedOp p;
  p.node = &op;
  const std::string& out_name = op.outputs.at(0);
  auto reads = [&](std::initializer_list<size_t> indices) {
    for (size_t i : indices) p.inputs.push_back(op.inputs.at(i));
  };
  if (op.op_type == "conv_mac") {
    reads({0});
    const Tensor& w = dense_weights(g, op, source);
    if (w.rank() != 4) throw InputError(op.describe() + ": weights must be [M, C/G, KH, KW], got " + shape_to_string(w.shape));
    const auto weights = prepare_weights(w, w.shape[0]);
    const auto nm = source.skip_zero;
    const auto bias = bias_of(g, op);
    const AccumulatorSpec acc = accumulator_of(op);
    const int32_t zp = static_cast<int32_t>(value(g, op.inputs[0], op).quant.zero_point);
    const Shape w_shape = w.shape;
    p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter& overflow) {
      const CodeTensor& x = *in[0];
      const kernels::ConvGeometry geo = geometry(op, x.shape, w_shape[0], w_shape[2], w_shape[3]);
      shape_output(y, {geo.batch, geo.out_channels, geo.out_h(), geo.out_w()});
      if (nm) kernels::conv_mac_skip_zero(geo, x.data.data(), zp, *nm, *bias, acc, overflow, y.data.data());
      else kernels::conv_mac(geo, x.data.data(), zp, weights->mac, *bias, acc, overflow, y.data.data());
    };
  } else if (op.op_type == "linear_mac") {
    reads({0});
    const Tensor& w = dense_weights(g, op, source);
    if (w.rank() != 2) throw InputError(op.describe() + ": weights must be [out, in], got " + shape_to_string(w.shape));
    const int64_t out_features = w.shape[0], in_features = w.shape[1];
    const auto weights = prepare_weights(w, out_features);
    const auto nm = source.skip_zero;
    const auto bias = bias_of(g, op);
    const AccumulatorSpec acc = accumulator_of(op);
    const int32_t zp = static_cast<int32_t>(value(g, op.inputs[0], op).quant.zero_point);
    p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter& overflow) {
      const CodeTensor& a = *in[0];
      if (a.shape.empty() || a.shape.back() != in_features)
        throw InputError(op.describe() + ": input " + shape_to_string(a.shape) + " does not end in " + std::to_string(in_features));
      const int64_t rows = static_cast<int64_t>(a.data.size()) / in_features;
      Shape shape = a.shape;
      shape.back() = out_features;
      shape_output(y, shape);
      if (nm) kernels::linear_mac_skip_zero(rows, a.data.data(), zp, *nm, *bias, acc, overflow, y.data.data());
      else kernels::linear_mac(rows, in_features, out_features, a.data.data(), zp, weights->mac, *bias, acc, overflow, y.data.data());
    };
  } else if (op.op_type == "matmul_mac") {
    reads({0, 1});
    const AccumulatorSpec acc = accumulator_of(op);
    const int32_t za = static_cast<int32_t>(value(g, op.inputs.at(0), op).quant.zero_point);
    const int32_t zb = static_cast<int32_t>(value(g, op.inputs.at(1), op).quant.zero_point);
    p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter& overflow) {
      const CodeTensor& a = *in[0];
      const CodeTensor& b = *in[1];
      const size_t rank = a.shape.size();
      bool ok = rank >= 2 && b.shape.size() == rank && a.shape[rank - 1] == b.shape[rank - 2];
      for (size_t d = 0; ok && d + 2 < rank; ++d) ok = a.shape[d] == b.shape[d];
      if (!ok) throw InputError(op.describe() + ": cannot multiply " + shape_to_string(a.shape) + " by " + shape_to_string(b.shape));
      const int64_t m = a.shape[rank - 2], k = a.shape[rank - 1], n = b.shape[rank - 1];
      const int64_t batch = static_cast<int64_t>(a.data.size()) / std::max<int64_t>(m * k, 1);
      Shape shape = a.shape;
      shape[rank - 1] = n;
      shape_output(y, shape);
      kernels::matmul_mac(batch, m, k, n, a.data.data(), za, b.data.data(), zb, acc, overflow, y.data.data());
    };
  } else if (op.op_type == "mulshift") {
    reads({0});
    const IntValue& out = value(g, out_name, op);
    const Tensor& m = constant(g, op, 1);
    const Tensor& s = constant(g, op, 2);
    check_same_length(g, op, {1, 2});
    std::vector<RequantChannel> channels;
    for (int64_t c = 0; c < m.numel(); ++c) channels.push_back(channel(op, m.ints[c], s.ints[c]));
    const auto params = std::make_shared<const kernels::MulShift>(kernels::MulShift{requantizer_of(op, out), channels, op.get_int("clamp_lo"), op.get_int("clamp_hi")});
    const int64_t axis = op.get_int("axis", 1);  // the channel axis: 1 (NCHW), or the last for a matrix product
    p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      const CodeTensor& x = *in[0];
      const int64_t rank = static_cast<int64_t>(x.shape.size());
      if (axis < 0 || axis >= std::max<int64_t>(rank, 2))
        throw InputError(op.describe() + ": channel axis " + std::to_string(axis) + " is outside " + shape_to_string(x.shape));
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
      for (int64_t d = axis + 1; d < rank; ++d) inner *= x.shape[d];
      const int64_t c = axis < rank ? x.shape[axis] : 1;
      if (params->channels.size() != 1 && static_cast<int64_t>(params->channels.size()) != c)
        throw InputError(op.describe() + ": " + std::to_string(params->channels.size()) + " multipliers for " + std::to_string(c) + " channels");
      shape_output(y, x.shape);
      kernels::mulshift(*params, x.data.data(), outer, c, inner, y.data.data());
    };
  } else if (op.op_type == "add") {
    reads({0, 1});
    const IntValue& out = value(g, out_name, op);
    const auto params = std::make_shared<const kernels::AddRequant>(kernels::AddRequant{
        requantizer_of(op, out), channel(op, op.get_int("multiplier_a"), op.get_int("shift_a")),
        channel(op, op.get_int("multiplier_b"), op.get_int("shift_b")), static_cast<int32_t>(value(g, op.inputs.at(0), op).quant.zero_point),
        static_cast<int32_t>(value(g, op.inputs.at(1), op).quant.zero_point), op.get_int("clamp_lo"), op.get_int("clamp_hi")});
    p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      const CodeTensor& a = *in[0];
      const CodeTensor& b = *in[1];
      if (a.shape != b.shape) throw InputError(op.describe() + ": operand shapes differ: " + shape_to_string(a.shape) + " and " + shape_to_string(b.shape));
      shape_output(y, a.shape);
      kernels::add_requant(*params, a.data.data(), b.data.data(), static_cast<int64_t>(a.data.size()), y.data.data());
    };
  } else if (op.op_type == "window_sum" || op.op_type == "window_max") {
    reads({0});
    const bool sum = op.op_type == "window_sum";
    const bool global = op.get_int("global", 0) != 0;
    const auto kernel = global ? std::vector<int64_t>{} : ints_of_length(op, "kernel", 2);
    const int32_t zp = static_cast<int32_t>(value(g, op.inputs.at(0), op).quant.zero_point);
    p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      const CodeTensor& x = *in[0];
      if (x.shape.size() != 4) throw InputError(op.describe() + ": expects an NCHW input, got " + shape_to_string(x.shape));
      const kernels::ConvGeometry geo = global ? geometry(op, x.shape, x.shape[1], x.shape[2], x.shape[3]) : geometry(op, x.shape, x.shape[1], kernel[0], kernel[1]);
      shape_output(y, {geo.batch, geo.in_channels, geo.out_h(), geo.out_w()});
      if (sum) kernels::window_sum(geo, x.data.data(), zp, y.data.data());
      else kernels::window_max(geo, x.data.data(), y.data.data());
    };
  } else if (op.op_type == "lut") {
    reads({0});
    const Tensor& table = constant(g, op, 1);
    auto params = std::make_shared<kernels::Lut>();
    params->table = table_of(op, table, INT32_MIN, INT32_MAX);
    params->in_min = op.get_int("in_min");
    params->shift = int_attribute(op, "shift");
    params->interpolate = op.get_int("interpolate") != 0;
    params->out = value(g, out_name, op).quant.format;
    const IntFormat in_format = value(g, op.inputs[0], op).quant.format;
    if (!in_format.contains(params->in_min))  // quantize writes the input format's minimum
      throw InputError(op.describe() + ": in_min " + std::to_string(params->in_min) + " is outside the input's " + in_format.name() + " [" +
                       std::to_string(in_format.min()) + ", " + std::to_string(in_format.max()) + "]");
    const int64_t needed = (in_format.max() - params->in_min) >> std::clamp(params->shift, 0, 16);
    if (params->shift < 0 || params->shift > 16 || static_cast<int64_t>(params->table.size()) < needed + 1)
      throw InputError(op.describe() + ": the table has " + std::to_string(params->table.size()) + " entries; its input format needs " + std::to_string(needed + 1));
    p.run = [params](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      const CodeTensor& x = *in[0];
      shape_output(y, x.shape);
      kernels::lut(*params, x.data.data(), static_cast<int64_t>(x.data.size()), y.data.data());
    };
  } else if (op.op_type == "layernorm") {
    reads({0});
    const IntValue& out = value(g, out_name, op);
    auto params = std::make_shared<kernels::LayerNorm>();
    const QuantParams& in = value(g, op.inputs.at(0), op).quant;
    // docs/numerics.md §10's bound |c| < 2n·2^17 (c shifted left by up to 31 bits inside int64) holds for
    // input codes of at most 16 bits.
    if (in.format.bits() > 16) throw InputError(op.describe() + ": its input is " + in.format.name() + "; the integer LayerNorm takes codes of at most 16 bits");
    params->in_zero_point = in.zero_point;
    params->extra_bits = int_attribute(op, "extra_bits");
    if (op.get_int("epsilon_units") < 0) throw InputError(op.describe() + ": epsilon_units " + std::to_string(op.get_int("epsilon_units")) + " is negative");
    params->epsilon = static_cast<uint64_t>(op.get_int("epsilon_units"));
    params->requantizer = Requantizer::make(RequantFlavour::single, RoundingMode::half_even, out.quant.format, out.quant.zero_point);
    const Tensor& m = constant(g, op, 1), &sh = constant(g, op, 2), &neg = constant(g, op, 3), &b = constant(g, op, 4);
    const int64_t bits = op.get_int("multiplier_bits");
    check_same_length(g, op, {1, 2, 3, 4});
    for (int64_t j = 0; j < m.numel(); ++j) {
      params->gamma.push_back(channel_of(op, m.ints[j], sh.ints[j], bits, RequantFlavour::single));
      params->gamma_negative.push_back(neg.ints[j] != 0);
      params->beta.push_back(narrow_to_int32(op, "β code", b.ints[j]));
    }
    if (params->extra_bits < 0 || params->extra_bits > 16) throw InputError(op.describe() + ": extra_bits must be 0..16");
    p.run = last_axis([params](const int32_t* x, int64_t rows, int64_t cols, int32_t* y) { kernels::layernorm(*params, x, rows, cols, y); });
  } else if (op.op_type == "softmax") {
    reads({0});
    const Tensor& table = constant(g, op, 1);
    auto params = std::make_shared<kernels::Softmax>();
    // docs/numerics.md §9: E[0] = 2^e >= 1 (so a row's sum is never 0) and no entry above it; e <= 30 and
    // M <= 2^32 keep T·M inside int64.
    params->exp_table = table_of(op, table, 0, int64_t{1} << 30);
    params->one_over_scale = op.get_int("one_over_scale");
    const IntValue& out = value(g, out_name, op);
    params->zero_point = out.quant.zero_point;
    params->out = out.quant.format;
    if (params->exp_table.empty() || params->exp_table[0] < 1 || params->one_over_scale < 1 || params->one_over_scale > (int64_t{1} << 32))
      throw InputError(op.describe() + ": an exp table must start with a positive entry and one_over_scale be 1..2^32");
    p.run = last_axis([params](const int32_t* x, int64_t rows, int64_t cols, int32_t* y) { kernels::softmax(*params, x, rows, cols, y); });
  } else if (op.op_type == "transpose") {
    reads({0});
    const std::vector<int64_t> perm = op.get_ints("perm");
    p.images_independent = !perm.empty() && perm[0] == 0;
    p.run = [=](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      kernels::transpose(in[0]->shape, in[0]->data.data(), perm, y.shape, y.data);
    };
  } else if (op.op_type == "concat") {
    for (size_t i = 0; i < op.inputs.size(); ++i) reads({i});
    const int64_t axis = op.get_int("axis");
    p.images_independent = axis > 0;  // axis 0, or a negative axis that might be it, may mix images
    p.run = [=](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      std::vector<const Shape*> shapes;
      std::vector<const int32_t*> data;
      for (const CodeTensor* x : in) shapes.push_back(&x->shape), data.push_back(x->data.data());
      kernels::concat(shapes, data, axis, y.shape, y.data);
    };
  } else if (op.op_type == "slice") {
    reads({0});
    const auto axes = op.get_ints("axes"), starts = op.get_ints("starts"), steps = op.get_ints("steps"), counts = op.get_ints("counts");
    p.images_independent = std::find(axes.begin(), axes.end(), 0) == axes.end();
    p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      naming(op, [&] { kernels::slice(in[0]->shape, in[0]->data.data(), axes, starts, steps, counts, y.shape, y.data); });
    };
  } else if (op.op_type == "gather") {
    reads({0});
    const int64_t axis = op.get_int("axis");
    const auto indices = op.get_ints("indices");
    const bool drop_axis = op.get_int("drop_axis") != 0;
    p.images_independent = axis != 0;
    p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      naming(op, [&] { kernels::gather(in[0]->shape, in[0]->data.data(), axis, indices, drop_axis, y.shape, y.data); });
    };
  } else if (op.op_type == "batch_broadcast") {
    reads({1});
    const Tensor& c = constant(g, op, 0);
    const auto codes = std::make_shared<const std::vector<int32_t>>(as_int32(c));
    const Shape c_shape = c.shape;
    if (c_shape.empty() || c_shape[0] != 1) throw InputError(op.describe() + ": its constant must be [1, ...], got " + shape_to_string(c_shape));
    p.run = [=](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      const CodeTensor& like = *in[0];
      kernels::batch_broadcast(c_shape, codes->data(), like.shape.empty() ? 1 : like.shape[0], y.shape, y.data);
    };
  } else if (op.op_type == "reshape") {
    reads({0});
    const std::vector<int64_t> target = op.get_ints("shape");
    p.images_independent = !target.empty() && target[0] == 0;
    p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      const CodeTensor& x = *in[0];
      Shape shape = target;
      int64_t known = 1, infer = -1;
      for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 0) {
          if (d >= x.shape.size()) throw InputError(op.describe() + ": target dimension " + std::to_string(d) + " copies a dimension " + shape_to_string(x.shape) + " lacks");
          shape[d] = x.shape[d];
        }
        if (shape[d] == -1) infer = static_cast<int64_t>(d);
        else known *= shape[d];
      }
      if (infer >= 0) shape[infer] = static_cast<int64_t>(x.data.size()) / std::max<int64_t>(known, 1);
      if (element_count(shape) != static_cast<int64_t>(x.data.size()))
        throw InputError(op.describe() + ": cannot reshape " + shape_to_string(x.shape) + " to " + shape_to_string(shape));
      y.shape = shape;
      y.data.assign(x.data.begin(), x.data.end());
    };
  } else {
    throw InputError(op.describe() + ": no integer kernel runs this op");
  }
  return p;
}

void check_input(const IntGraph& graph, const Tensor& input) {
  bool fits = input.is_float() && input.rank() == static_cast<int64_t>(graph.input_shape.size());
  for (size_t i = 1; fits && i < graph.input_shape.size(); ++i) fits = graph.input_shape[i] <= 0 || input.shape[i] == graph.input_shape[i];
  if (!fits) {
    std::string expected = "[";
    for (size_t i = 0; i < graph.input_shape.size(); ++i) expected += (i ? "," : "") + (i == 0 ? "N" : std::to_string(graph.input_shape[i]));
    throw InputError("input is " + std::string(to_string(input.dtype)) + shape_to_string(input.shape) + "; the IntGraph expects float32" + expected + "]");
  }
}

CodeTensor quantize_input(const IntGraph& graph, const Tensor& input) {
  const Node& q = graph.ops.front();
  check_input(graph, input);
  const IntValue& in_value = graph.values.at(q.outputs.at(0));
  const float in_scale = q.get_float("scale");
  CodeTensor codes{input.shape, std::vector<int32_t>(input.floats.size())};
  for (size_t i = 0; i < input.floats.size(); ++i) {
    if (!std::isfinite(input.floats[i]))
      throw InputError("input element " + std::to_string(i) + " " + index_to_string(input.shape, static_cast<int64_t>(i)) + " is " +
                       (std::isnan(input.floats[i]) ? "NaN" : "infinite") + "; inputs must be finite numbers");
    const float v = input.floats[i] / in_scale;
    const double r = std::clamp(round_to_integer(v, RoundingMode::half_even) + static_cast<double>(in_value.quant.zero_point),
                                static_cast<double>(in_value.quant.format.min()), static_cast<double>(in_value.quant.format.max()));
    codes.data[i] = static_cast<int32_t>(r);
  }
  return codes;
}

Tensor dequantize_output(const IntGraph& graph, const CodeTensor& codes) {
  const Node& dq = graph.ops.back();
  const IntValue& out_value = graph.values.at(dq.inputs.at(0));
  const float out_scale = dq.get_float("scale");
  Tensor y = Tensor::zeros(DType::float32, codes.shape);
  for (size_t i = 0; i < codes.data.size(); ++i) y.floats[i] = static_cast<float>(codes.data[i] - out_value.quant.zero_point) * out_scale;
  return y;
}

}  // namespace chipref
