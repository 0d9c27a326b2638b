#include "rtl_bridge/cosim.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "core/error.hpp"
#include "kernels/block_dot.hpp"
#include "kernels/sparse.hpp"
#include "model/int_graph.hpp"
#include "ops/common.hpp"
#include "ops/lut.hpp"
#include "ops/mac.hpp"
#include "ops/mulshift.hpp"
#include "ops/sparse_decode.hpp"
#include "sim/tile_streams.hpp"
#include "vectors/manifest.hpp"

namespace chipref::cosim {

Shape coordinates_of(const Shape& shape, int64_t index) {
  Shape c(shape.size(), 0);
  for (size_t d = shape.size(); d-- > 0;) {
    const int64_t extent = std::max<int64_t>(shape[d], 1);
    c[d] = index % extent;
    index /= extent;
  }
  return c;
}

void record_mismatch(CosimResult& r, int64_t input, int64_t index, const Shape& shape, int64_t got, int64_t expected,
                     const std::string& detail) {
  const auto mismatch = [&] {
    return FirstMismatch{input, index, r.cycles, coordinates_of(shape, index), got, expected, r.input_start_cycle,
                         detail};
  };
  if (!r.has_mismatch) r.first = mismatch();
  if (!r.has_mismatch || std::make_pair(input, index) < std::make_pair(r.lowest.input, r.lowest.index))
    r.lowest = mismatch();
  r.has_mismatch = true;
  ++r.mismatches;
}

std::string Watchdog::describe(int64_t cycle, const std::string& progress) const {
  const std::string last = event_ ? fmt::format("{} {} {}", event_, noun_, index_) : last_;
  return "no handshake for " + std::to_string(limit_) + " cycles at cycle " + std::to_string(cycle) + " (" + progress +
         "; last handshake: " + last + " at cycle " + std::to_string(last_cycle_) + ")";
}

std::string format_report(const CosimResult& r) {
  const std::string waveform = r.trace.empty() ? "" : "  waveform: " + r.trace + "\n";
  if (r.hung)
    return fmt::format(
               "HUNG: {} on layer {}: the watchdog ended the run: {}; {} values compared before, {} mismatching\n",
               r.block, r.layer, r.hang, r.compared, r.mismatches) +
           waveform;
  const double rate = r.seconds > 0 ? static_cast<double>(r.cycles) / r.seconds : 0;
  if (r.passed())
    return fmt::format(
        "PASS: {} on layer {}: {} values of '{}' compared over {} input(s), all equal ({} cycles, {:.3g} cycles/s{})\n",
        r.block, r.layer, r.compared, r.tensor, r.inputs, r.cycles, rate,
        r.matrices ? fmt::format("; {} matrices, {:.3g} matrices/s", r.matrices,
                                 r.seconds > 0 ? static_cast<double>(r.matrices) / r.seconds : 0)
                   : "");
  const auto describe = [&](const FirstMismatch& f) {
    std::string coords;
    for (size_t d = 0; d < f.coordinates.size(); ++d) coords += (d ? ", " : "") + std::to_string(f.coordinates[d]);
    if (!f.detail.empty())
      return fmt::format("tensor '{}', input {}, element {} at [{}], cycle {}: {}", r.tensor, f.input, f.index, coords,
                         f.cycle, f.detail);
    return fmt::format("tensor '{}', input {}, element {} at [{}], cycle {}: got {} (0x{:08x}), expected {} (0x{:08x})",
                       r.tensor, f.input, f.index, coords, f.cycle, f.got, static_cast<uint32_t>(f.got), f.expected,
                       static_cast<uint32_t>(f.expected));
  };
  const bool same = r.first.input == r.lowest.input && r.first.index == r.lowest.index;
  return fmt::format("MISMATCH: {} on layer {}: {} of {} values differ\n", r.block, r.layer, r.mismatches, r.compared) +
         "  first in time: " + describe(r.first) + (same ? " (also the lowest index)\n" : "\n") +
         (same ? "" : "  lowest index:  " + describe(r.lowest) + "\n") + waveform;
}

namespace {

const vectors::Entry& entry_for(const vectors::Manifest& m, const std::string& dir, const Node& op,
                                const std::string& tensor, int64_t input) {
  for (const vectors::Entry& e : m.entries)
    if (e.op == op.name && e.tensor == tensor && e.input == input) return e;
  throw InputError(dir + ": no vectors of '" + tensor + "' for " + op.describe() +
                   (input >= 0 ? ", input " + std::to_string(input) : "") +
                   " (write them with `chipref vectors` covering this layer, accumulators included)");
}

std::vector<int32_t> as_int32(const std::vector<int64_t>& v) { return std::vector<int32_t>(v.begin(), v.end()); }

// The op `layer` of the IntGraph behind the vectors, which must be of one of `types`; else an InputError
// listing the layers that are.
const Node& layer_of(const IntGraph& g, const std::string& dir, const std::string& layer,
                     const std::vector<const ops::OpDef*>& types) {
  auto is_type = [&](const Node& op) {
    return std::find(types.begin(), types.end(), ops::find_op_def(op.op_type)) != types.end();
  };
  std::string what;
  for (const ops::OpDef* t : types) what += (what.empty() ? "" : " or ") + t->name;
  const auto it = std::find_if(g.ops.begin(), g.ops.end(), [&](const Node& op) { return op.name == layer; });
  if (it != g.ops.end() && is_type(*it)) return *it;
  std::string names;
  for (const Node& op : g.ops)
    if (is_type(op)) names += (names.empty() ? "" : ", ") + op.name;
  throw InputError(dir + ": " +
                   (it == g.ops.end() ? "no op '" + layer + "'" : it->describe() + " is not a " + what + " op") +
                   " in the IntGraph of the vectors; its " + what + " layers: " + (names.empty() ? "none" : names));
}

}  // namespace

std::vector<LutStimulus> lut_stimulus(const std::string& dir, const std::string& layer, int64_t max_entries) {
  const vectors::Manifest m = vectors::read_manifest(dir);
  const IntGraph g = load_int_graph(m.model);
  const Node& op = layer_of(g, dir, layer, {&ops::lut_op_def()});
  const kernels::Lut lut = ops::read_lut(g, op);
  const std::vector<int64_t> table = vectors::read_vector(dir, entry_for(m, dir, op, op.inputs.at(1), -1));
  if (static_cast<int64_t>(table.size()) >= max_entries)  // one more entry: the zero after the table
    throw InputError(op.describe() + ": its table has " + std::to_string(table.size()) +
                     " entries; the reference LUT unit holds " + std::to_string(max_entries));
  const IntValue& out = g.values.at(op.outputs.at(0));
  std::vector<LutStimulus> all;
  for (int64_t input = 0; input < m.inputs.count; ++input) {
    LutStimulus s;
    s.layer = op.name, s.tensor = op.outputs[0], s.input = input;
    const vectors::Entry& x = entry_for(m, dir, op, op.inputs[0], input);
    s.shape = x.shape;
    s.codes = as_int32(vectors::read_vector(dir, x));
    s.expected = as_int32(vectors::read_vector(dir, entry_for(m, dir, op, op.outputs[0], input)));
    s.table = as_int32(table);
    s.in_min = static_cast<int32_t>(lut.in_min);
    s.shift = lut.shift;
    s.interpolate = lut.interpolate;
    s.out_min = static_cast<int32_t>(out.quant.format.min()), s.out_max = static_cast<int32_t>(out.quant.format.max());
    all.push_back(std::move(s));
  }
  return all;
}

MulShiftSettings mulshift_settings(const IntGraph& g, const Node& op) {
  const ops::MulShiftParams p = ops::read_mulshift(g, op);  // checked as the engines check it
  const Requantizer& rq = p.kernel.requantizer;
  if (rq.flavour() != RequantFlavour::single ||
      (rq.rounding() != RoundingMode::half_even && rq.rounding() != RoundingMode::half_up))
    throw InputError(op.describe() +
                     ": the reference MulShift unit implements the single flavour with half_even or half_up rounding; "
                     "this layer uses " +
                     std::string(to_string(rq.flavour())) + " with " + std::string(to_string(rq.rounding())));
  MulShiftSettings s;
  s.multiplier_bits = p.multiplier_bits;
  s.round_half_up = rq.rounding() == RoundingMode::half_up;
  s.zero_point = static_cast<int32_t>(rq.zero_point());
  s.out_min = static_cast<int32_t>(rq.output_format().min()),
  s.out_max = static_cast<int32_t>(rq.output_format().max());
  s.clamp_lo = static_cast<int32_t>(p.kernel.clamp_lo), s.clamp_hi = static_cast<int32_t>(p.kernel.clamp_hi);
  s.axis = p.axis;
  return s;
}

std::vector<size_t> channel_of_elements(const Node& op, const Shape& shape, int64_t axis, size_t count) {
  const ops::ChannelLayout l = ops::channel_layout(op, shape, axis, count);
  std::vector<size_t> channel(static_cast<size_t>(element_count(shape)), 0);
  if (count != 1)
    for (size_t i = 0; i < channel.size(); ++i)
      channel[i] = static_cast<size_t>(static_cast<int64_t>(i) / l.inner % l.channels);
  return channel;
}

std::vector<MulShiftStimulus> mulshift_stimulus(const std::string& dir, const std::string& layer) {
  const vectors::Manifest m = vectors::read_manifest(dir);
  const IntGraph g = load_int_graph(m.model);
  const Node& op = layer_of(g, dir, layer, {&ops::mulshift_op_def()});
  const MulShiftSettings settings = mulshift_settings(g, op);
  const std::vector<int64_t> multipliers = vectors::read_vector(dir, entry_for(m, dir, op, op.inputs.at(1), -1));
  const std::vector<int64_t> shifts = vectors::read_vector(dir, entry_for(m, dir, op, op.inputs.at(2), -1));
  std::vector<MulShiftStimulus> all;
  for (int64_t input = 0; input < m.inputs.count; ++input) {
    MulShiftStimulus s;
    s.layer = op.name, s.tensor = op.outputs[0], s.input = input;
    const vectors::Entry& acc = entry_for(m, dir, op, op.inputs[0], input);
    s.shape = acc.shape;
    s.accumulators = as_int32(vectors::read_vector(dir, acc));
    s.expected = as_int32(vectors::read_vector(dir, entry_for(m, dir, op, op.outputs[0], input)));
    for (const size_t c : channel_of_elements(op, s.shape, settings.axis, multipliers.size())) {
      s.multipliers.push_back(static_cast<int32_t>(multipliers[c]));
      s.shifts.push_back(static_cast<int8_t>(shifts[c]));
    }
    s.settings = settings;
    all.push_back(std::move(s));
  }
  return all;
}

std::vector<MacArrayStimulus> mac_array_stimulus(const std::string& dir, const std::string& layer, int64_t rows,
                                                 int64_t cols) {
  const vectors::Manifest m = vectors::read_manifest(dir);
  const IntGraph g = load_int_graph(m.model);
  const Node& op = layer_of(g, dir, layer, {&ops::conv_mac_op_def(), &ops::linear_mac_op_def()});
  if (op.get_int("acc_bits") != 32 || op.get_string("overflow") != "wrap")
    throw InputError(op.describe() + ": the reference MAC array has 32-bit wrapping accumulators; this layer uses " +
                     std::to_string(op.get_int("acc_bits")) + " bits, " + op.get_string("overflow"));
  if (!g.constants.count(op.inputs.at(1)))
    throw InputError(op.describe() + ": N:M-sparse weights are not supported by the reference MAC array yet");
  const IntValue& in = g.values.at(op.inputs.at(0));
  if (in.quant.format.min() < -32768 || in.quant.format.max() > 32767)
    throw InputError(op.describe() + ": its " + in.quant.format.name() +
                     " activation codes do not fit the array's 16-bit signed lanes");
  const vectors::Entry& w_entry = entry_for(m, dir, op, op.inputs[1], -1);
  const std::vector<int64_t> weight_codes = vectors::read_vector(dir, w_entry);
  CodeTensor weights{w_entry.shape, as_int32(weight_codes)};
  const std::vector<int32_t> zero_points =
      ops::weight_zero_points(g, op, Tensor::of_ints(DType::int32, weights.shape, weight_codes));
  std::vector<int64_t> bias_values;
  if (op.inputs.size() > 2) bias_values = vectors::read_vector(dir, entry_for(m, dir, op, op.inputs[2], -1));
  HardwareConfig hw;
  hw.mac_rows = rows, hw.mac_cols = cols, hw.dataflow = Dataflow::output_stationary;
  std::vector<MacArrayStimulus> all;
  for (int64_t input = 0; input < m.inputs.count; ++input) {
    const vectors::Entry& x_entry = entry_for(m, dir, op, op.inputs[0], input);
    const vectors::Entry& a_entry = entry_for(m, dir, op, op.outputs.at(0), input);
    const CodeTensor x{x_entry.shape, as_int32(vectors::read_vector(dir, x_entry))};
    const CodeTensor acc{a_entry.shape, as_int32(vectors::read_vector(dir, a_entry))};
    MacArrayStimulus s;
    s.layer = op.name, s.tensor = op.outputs[0], s.input = input, s.rows = rows, s.cols = cols, s.shape = acc.shape;
    s.act_zero_point = static_cast<int32_t>(in.quant.zero_point);
    const TileStreams t = mac_tile_streams(op, hw, x, s.act_zero_point, weights, 0, acc, &s.index);
    s.tiles = t.weights.shape.at(0), s.reduction = t.weights.shape.at(1);
    s.activations = t.activations.data, s.weights = t.weights.data, s.expected = t.accumulators.data;
    // The bias of each tile's columns: tiles run (group, position tile, channel tile), channel tile fastest.
    const ops::MacMatrixView products = ops::mac_matrix_view(op, x.shape, weights.shape, acc.shape);
    const int64_t groups = products.groups, channels = products.channels;
    const int64_t channel_tiles = (channels + cols - 1) / cols;
    for (int64_t tile = 0; tile < s.tiles; ++tile) {
      const int64_t per_group = s.tiles / groups, grp = tile / per_group, ct = tile % channel_tiles;
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t m_in_group = ct * cols + c;
        s.bias.push_back(m_in_group < channels && !bias_values.empty()
                             ? static_cast<int32_t>(bias_values.at(static_cast<size_t>(grp * channels + m_in_group)))
                             : 0);
        // Past the last channel, the group's first channel's zero point: one value for per-tensor weights.
        s.weight_zero_points.push_back(
            zero_points.at(static_cast<size_t>(grp * channels + (m_in_group < channels ? m_in_group : 0))));
      }
    }
    all.push_back(std::move(s));
  }
  return all;
}

std::vector<SparseStimulus> sparse_stimulus(const std::string& dir, const std::string& layer, int n, int m) {
  const vectors::Manifest manifest = vectors::read_manifest(dir);
  const IntGraph g = load_int_graph(manifest.model);
  const Node& op = layer_of(g, dir, layer, {&ops::sparse_decode_op_def()});
  kernels::NmWeights w;
  w.pattern = nm_weights_of(g, op).pattern;  // the IntGraph's own weights, checked as the engines check them
  if (w.pattern.n != n || w.pattern.m != m)
    throw InputError(op.describe() + ": the reference sparse decoder is built for " + std::to_string(n) + ":" +
                     std::to_string(m) + "; this layer is " + std::to_string(w.pattern.n) + ":" +
                     std::to_string(w.pattern.m));
  const vectors::Entry& dense = entry_for(manifest, dir, op, op.outputs.at(0), -1);
  w.rows = dense.shape.at(0), w.k = element_count(dense.shape) / w.rows;
  w.values = as_int32(vectors::read_vector(dir, entry_for(manifest, dir, op, op.inputs.at(0), -1)));
  for (int64_t word : vectors::read_vector(dir, entry_for(manifest, dir, op, op.inputs.at(1), -1)))
    w.index_words.push_back(static_cast<uint32_t>(word));
  kernels::validate_nm(w, op.describe());
  const std::vector<int64_t> golden = vectors::read_vector(dir, dense);
  SparseStimulus s;
  s.layer = op.name, s.tensor = op.outputs[0], s.n = n, s.m = m, s.shape = dense.shape;
  for (int64_t row = 0; row < w.rows; ++row)
    for (int64_t group = 0; group < w.groups(); ++group) {
      for (int64_t j = 0; j < n; ++j) {
        const int64_t t = (row * w.groups() + group) * n + j;
        const int32_t v = w.values.at(static_cast<size_t>(t));
        if (v < -32768 || v > 32767)
          throw InputError(op.describe() + ": weight " + std::to_string(v) +
                           " does not fit the decoder's 16-bit lanes");
        s.values.push_back(v);
        s.positions.push_back(static_cast<int32_t>(w.index(t)));
      }
      for (int64_t p = 0; p < m; ++p) {
        const int64_t column = group * m + p;
        s.index.push_back(column < w.k ? row * w.k + column : -1);
        s.expected.push_back(column < w.k ? static_cast<int32_t>(golden.at(static_cast<size_t>(row * w.k + column)))
                                          : 0);
      }
    }
  return {s};
}

struct MxDotLayer {
  std::string describe;
  BlockFormat fa, fw;
  bool conv = false;
  kernels::ConvGeometry geo;
  int64_t channels = 0, channels_per_group = 0, cg = 0, taps = 0, blocks = 0, block_size = 0;
  int64_t batches = 1, outputs_per_channel = 0;
  std::vector<int32_t> weight_codes, weight_scales;  // [M, taps, cg], [M, taps, blocks]
  // Per element code: its value in units of the format's least significant bit, and whether it is finite.
  std::vector<int64_t> a_units, w_units;
  std::vector<uint8_t> a_finite, w_finite;
  int exponent_base = 0;  // of a pair's sum, before its two scale codes are added
};

namespace {
// Every code of a format as an integer in units of its least significant bit (0 if NaN or infinite).
void element_units(const BlockFormat& f, std::vector<int64_t>& units, std::vector<uint8_t>& finite) {
  const uint32_t codes = uint32_t{1} << f.element_bits();
  for (uint32_t code = 0; code < codes; ++code) {
    const ExactValue v = element_value(f, code);
    const bool is_finite = v.kind == ExactValue::Kind::finite;
    const int64_t magnitude = is_finite ? static_cast<int64_t>(v.significand) << (v.exponent - f.element_lsb()) : 0;
    units.push_back(v.negative ? -magnitude : magnitude);
    finite.push_back(is_finite);
  }
}

std::vector<int32_t> element_codes(const std::vector<int64_t>& codes, const BlockFormat& f, const Node& op) {
  std::vector<int32_t> out;
  out.reserve(codes.size());
  for (int64_t code : codes) {
    if (code < 0 || code >= (int64_t{1} << f.element_bits()))
      throw InputError(op.describe() + ": " + std::to_string(code) + " is not a " + f.name + " element code");
    out.push_back(static_cast<int32_t>(code));
  }
  return out;
}
}  // namespace

MxDotPairs::MxDotPairs(const MxDotStimulus& s) : s_(s), l_(*s.layer_data) {
  tap_vectors_.assign(static_cast<size_t>(l_.taps), -1);
  pair_.a.assign(static_cast<size_t>(s.lanes), 0), pair_.w.assign(static_cast<size_t>(s.lanes), 0);
}

bool MxDotPairs::next_output() {
  const int64_t per_batch = l_.channels * l_.outputs_per_channel;
  if (next_output_ >= l_.batches * per_batch) return false;
  const int64_t k = next_output_++, n = k / per_batch, o = k % l_.outputs_per_channel;
  channel_ = k / l_.outputs_per_channel % l_.channels, tap_ = 0, block_ = 0;
  if (!l_.conv) {
    output_index_ = o * l_.channels + channel_;
    tap_vectors_[0] = o;
    return true;
  }
  const kernels::ConvGeometry& geo = l_.geo;
  output_index_ = (n * l_.channels + channel_) * l_.outputs_per_channel + o;
  const int64_t g = channel_ / l_.channels_per_group, oy = o / geo.out_w(), ox = o % geo.out_w();
  for (int64_t ky = 0; ky < geo.kernel_h; ++ky)
    for (int64_t kx = 0; kx < geo.kernel_w; ++kx) {
      const int64_t iy = oy * geo.stride_h - geo.pad_top + ky * geo.dilation_h;
      const int64_t ix = ox * geo.stride_w - geo.pad_left + kx * geo.dilation_w;
      tap_vectors_[static_cast<size_t>(ky * geo.kernel_w + kx)] =
          iy < 0 || iy >= geo.in_h || ix < 0 || ix >= geo.in_w ? -1
                                                               : ((n * geo.groups + g) * geo.in_h + iy) * geo.in_w + ix;
    }
  return true;
}

bool MxDotPairs::next_pair() {
  if (output_index_ < 0) return false;
  while (tap_ < l_.taps && (tap_vectors_[static_cast<size_t>(tap_)] < 0 || block_ >= l_.blocks)) ++tap_, block_ = 0;
  if (tap_ >= l_.taps) return false;
  const int64_t t = tap_, b = block_++, vector = tap_vectors_[static_cast<size_t>(t)];
  const int64_t first = b * l_.block_size, count = std::min(l_.block_size, l_.cg - first);
  const int64_t weight_vector = channel_ * l_.taps + t;
  const int32_t sa = s_.scales[static_cast<size_t>(vector * l_.blocks + b)];
  const int32_t sw = l_.weight_scales[static_cast<size_t>(weight_vector * l_.blocks + b)];
  bool nan = static_cast<uint32_t>(sa) == l_.fa.scale_nan_code() || static_cast<uint32_t>(sw) == l_.fw.scale_nan_code();
  __int128 dot = 0;
  const int32_t* a = &s_.codes[static_cast<size_t>(vector * l_.cg + first)];
  const int32_t* w = &l_.weight_codes[static_cast<size_t>(weight_vector * l_.cg + first)];
  for (int64_t i = 0; i < s_.lanes; ++i) {
    const int32_t ca = i < count ? a[i] : 0, cw = i < count ? w[i] : 0;
    pair_.a[static_cast<size_t>(i)] = ca, pair_.w[static_cast<size_t>(i)] = cw;
    nan = nan || !l_.a_finite[static_cast<size_t>(ca)] || !l_.w_finite[static_cast<size_t>(cw)];
    dot += static_cast<__int128>(l_.a_units[static_cast<size_t>(ca)]) * l_.w_units[static_cast<size_t>(cw)];
  }
  if (nan) dot = 0;
  if (dot > INT64_MAX || dot < INT64_MIN)
    throw InputError(l_.describe + ": a block's dot product needs more than the unit's 64 bits");
  pair_.a_scale = sa, pair_.w_scale = sw;
  pair_.expected_sum = static_cast<int64_t>(dot), pair_.expected_nan = nan;
  pair_.expected_exponent = l_.exponent_base + sa + sw;
  pair_.index = (output_index_ * l_.taps + t) * l_.blocks + b;
  return true;
}

const MxDotPair& MxDotPairs::at(size_t i) {
  if (at_ != SIZE_MAX && i < at_)
    throw std::logic_error("MxDotPairs::at: pair " + std::to_string(i) + " after " + std::to_string(at_));
  while (at_ == SIZE_MAX || at_ < i) {
    while (!next_pair())
      if (!next_output()) throw std::logic_error("MxDotPairs::at: pair " + std::to_string(i) + " past the last");
    at_ = at_ == SIZE_MAX ? 0 : at_ + 1;
  }
  return pair_;
}

std::vector<MxDotStimulus> mx_dot_stimulus(const std::string& dir, const std::string& layer, int64_t lanes,
                                           const std::string& activation_format, const std::string& weight_format) {
  const vectors::Manifest m = vectors::read_manifest(dir);
  const IntGraph g = load_int_graph(m.model);
  const Node& op = layer_of(g, dir, layer, {&ops::block_mac_op_def()});
  const kernels::BlockMacParams p = ops::block_mac_params(g, op);
  auto l = std::make_shared<MxDotLayer>();
  l->describe = op.describe(), l->fa = p.activation_format, l->fw = p.weight_format;
  const BlockFormat &fa = l->fa, &fw = l->fw;
  if (fa.name != activation_format || fw.name != weight_format)
    throw InputError(op.describe() + ": the unit multiplies " + activation_format + " by " + weight_format +
                     "; this layer is " + fa.name + " by " + fw.name);
  l->block_size = fa.block_size;
  if (l->block_size > lanes)
    throw InputError(op.describe() + ": its blocks hold " + std::to_string(l->block_size) +
                     " elements; the unit takes " + std::to_string(lanes));
  l->conv = op.get_string("kind") == "conv";
  const vectors::Entry& w_entry = entry_for(m, dir, op, op.inputs.at(1), -1);
  l->weight_codes = element_codes(vectors::read_vector(dir, w_entry), fw, op);
  l->weight_scales = as_int32(vectors::read_vector(dir, entry_for(m, dir, op, op.inputs.at(2), -1)));
  std::vector<ExactValue> bias;
  if (op.inputs.size() > 3)
    for (int64_t bits : vectors::read_vector(dir, entry_for(m, dir, op, op.inputs.at(3), -1)))
      bias.push_back(decode(kFp32, static_cast<uint32_t>(bits)));
  l->channels = w_entry.shape.at(0), l->cg = w_entry.shape.back();
  l->taps = element_count(w_entry.shape) / (l->channels * l->cg);
  l->blocks = (l->cg + l->block_size - 1) / l->block_size;
  if (static_cast<int64_t>(l->weight_scales.size()) != l->channels * l->taps * l->blocks)
    throw InputError(dir + ": " + op.describe() + " has " + std::to_string(l->weight_scales.size()) +
                     " weight scales for " + std::to_string(l->channels * l->taps * l->blocks) + " blocks");
  element_units(fa, l->a_units, l->a_finite), element_units(fw, l->w_units, l->w_finite);
  l->exponent_base = fa.element_lsb() + fw.element_lsb() - fa.scale_bias() - fw.scale_bias();
  // The input's vectors of cg codes: a convolution's (n, g, y, x) positions, a linear layer's rows.
  const vectors::Entry& codes_entry = entry_for(m, dir, op, op.name + ".input.codes", 0);
  if (l->conv) {
    const Shape& c = codes_entry.shape;  // [N, G, H, W, C/G]
    l->geo = ops::geometry(op, {c.at(0), c.at(1) * c.at(4), c.at(2), c.at(3)}, l->channels, w_entry.shape.at(1),
                           w_entry.shape.at(2));
    l->outputs_per_channel = l->geo.out_h() * l->geo.out_w();
    l->batches = l->geo.batch, l->channels_per_group = l->channels / l->geo.groups;
  } else {
    l->outputs_per_channel = element_count(codes_entry.shape) / l->cg;  // rows
    l->channels_per_group = l->channels;
  }
  const BlockAccumulation model = parse_block_accumulation(op.get_string("accumulation"));
  std::vector<MxDotStimulus> all;
  for (int64_t input = 0; input < m.inputs.count; ++input) {
    const vectors::Entry& out_entry = entry_for(m, dir, op, op.outputs.at(0), input);
    MxDotStimulus s;
    s.layer = op.name, s.tensor = op.name + ".block_sums", s.input = input, s.lanes = lanes, s.layer_data = l;
    s.shape = out_entry.shape;
    s.shape.push_back(l->taps * l->blocks);
    s.codes = element_codes(vectors::read_vector(dir, entry_for(m, dir, op, op.name + ".input.codes", input)), fa, op);
    s.scales = as_int32(vectors::read_vector(dir, entry_for(m, dir, op, op.name + ".input.scales", input)));
    const auto vectors_in = static_cast<int64_t>(s.codes.size()) / l->cg;
    const int64_t vectors_read =
        l->conv ? l->geo.batch * l->geo.groups * l->geo.in_h * l->geo.in_w : l->outputs_per_channel;
    if (vectors_in != vectors_read || static_cast<int64_t>(s.codes.size()) != vectors_in * l->cg ||
        static_cast<int64_t>(s.scales.size()) != vectors_in * l->blocks)
      throw InputError(dir + ": input " + std::to_string(input) + " of " + op.describe() + " has " +
                       std::to_string(s.codes.size()) + " codes and " + std::to_string(s.scales.size()) +
                       " scales; its geometry reads " + std::to_string(vectors_read) + " vectors of " +
                       std::to_string(l->cg) + " codes in " + std::to_string(l->blocks) + " blocks");
    // Each output's pairs, the walk the unit's sender and scoreboard take, summed with the bias, must give the
    // golden code.
    const std::vector<int64_t> golden = vectors::read_vector(dir, out_entry);
    MxDotPairs pairs(s);
    while (pairs.next_output()) {
      BlockAccumulator sum(model);
      if (!bias.empty()) sum.add_value(bias.at(static_cast<size_t>(pairs.channel())));
      while (pairs.next_pair()) {
        const MxDotPair& pair = pairs.pair();
        if (pair.expected_nan)
          sum.add_special(ExactValue{ExactValue::Kind::nan});
        else
          sum.add_block(pair.expected_sum, pair.expected_exponent);
        ++s.pairs;
      }
      const int32_t code = kernels::block_output_code(sum.result(), p);
      const int64_t out = pairs.output();
      if (code != golden.at(static_cast<size_t>(out)))
        throw InputError(dir + ": the block sums of " + op.describe() + ", input " + std::to_string(input) + ", give " +
                         std::to_string(code) + " at output element " + std::to_string(out) + ", the vectors " +
                         std::to_string(golden[static_cast<size_t>(out)]) + ": the vectors are not this IntGraph's");
    }
    all.push_back(std::move(s));
  }
  return all;
}

}  // namespace chipref::cosim
