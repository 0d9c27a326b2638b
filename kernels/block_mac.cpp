#include "kernels/block_mac.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace chipref::kernels {

namespace {
ElementTable element_table(const BlockFormat& f) {
  ElementTable t;
  const uint32_t codes = uint32_t{1} << f.element_bits();
  t.aligned.resize(codes), t.special.resize(codes);
  const int lsb = f.element_lsb();
  for (uint32_t c = 0; c < codes; ++c) {
    const ExactValue v = element_value(f, c);
    if (v.kind != ExactValue::Kind::finite) {
      t.special[c] = 1;
      continue;
    }
    const auto magnitude = static_cast<int64_t>(v.significand << (v.exponent - lsb));
    t.aligned[c] = v.negative ? -magnitude : magnitude;
    t.largest = std::max(t.largest, magnitude);
  }
  return t;
}

// One block's codes and scale as aligned integers into `out` (`stride` entries, zero padded).
void align_block(const BlockFormat& f, const ElementTable& table, const uint32_t* codes, int64_t count, int64_t stride,
                 uint32_t scale, int64_t* out, int32_t& exponent, uint8_t& special) {
  special = scale == f.scale_nan_code();
  for (int64_t i = 0; i < count; ++i) {
    out[i] = table.aligned[codes[i]];
    special |= table.special[codes[i]];
  }
  std::fill(out + count, out + stride, 0);
  exponent = f.element_lsb() + static_cast<int>(scale) - f.scale_bias();
}

// Σ a_i · w_i over one block, exactly: in 64 bits when the formats' largest products allow it.
template <class Sum>
__int128 block_sum(const int64_t* a, const int64_t* w, int64_t n) {
  Sum s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<Sum>(a[i]) * w[i];
  return s;
}

// The input's real values (x − z_x) · s_x, exactly, for one block's worth of channels at `stride`.
void input_values(const int32_t* x, int64_t count, int64_t stride, const BlockMacParams& p, ExactValue* out) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t d = int64_t{x[i * stride]} - p.input_zero_point;
    ExactValue v;
    v.negative = d < 0;
    v.significand = static_cast<uint64_t>(d < 0 ? -d : d) * p.input_scale.significand;  // < 2^33 · 2^24
    v.exponent = p.input_scale.exponent;
    out[i] = v;
  }
}

// Converts the channel vectors of the input (`vectors` of `channels` codes each, element c of vector v at
// x[base(v) + c · stride]) into aligned blocks, blocks_per_vector blocks each; `codes_out`, if given, gets
// the element codes [vectors, channels] and scale codes [vectors, blocks].
template <class Base>
AlignedBlocks convert_input(const int32_t* x, int64_t vectors, int64_t channels, int64_t stride, Base base,
                            const BlockMacParams& p, const ElementTable& table, BlockCodes* codes_out = nullptr) {
  const BlockFormat& f = p.activation_format;
  const int64_t bs = f.block_size, blocks = (channels + bs - 1) / bs;
  AlignedBlocks a;
  a.block_size = bs, a.stride = std::min(bs, channels);
  a.elements.resize(static_cast<size_t>(vectors * blocks * a.stride));
  a.exponents.resize(static_cast<size_t>(vectors * blocks));
  a.special.resize(static_cast<size_t>(vectors * blocks));
  std::vector<ExactValue> values(static_cast<size_t>(bs));
  std::vector<uint32_t> codes(static_cast<size_t>(bs));
  for (int64_t v = 0; v < vectors; ++v) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t first = b * bs, count = std::min(bs, channels - first);
      input_values(x + base(v) + first * stride, count, stride, p, values.data());
      uint32_t scale = 0;
      // Element indices for stochastic rounding: the element's position in the (vectors × channels) tensor.
      quantize_block(f, values.data(), count, p.activation_rounding, static_cast<uint64_t>(v * channels + first), scale,
                     codes.data());
      const size_t at = static_cast<size_t>(v * blocks + b);
      align_block(f, table, codes.data(), count, a.stride, scale, &a.elements[at * static_cast<size_t>(a.stride)],
                  a.exponents[at], a.special[at]);
      if (codes_out) {
        codes_out->scales.push_back(scale);
        codes_out->codes.insert(codes_out->codes.end(), codes.begin(), codes.begin() + count);
      }
    }
  }
  return a;
}

// The conv's input vectors: v = ((n · G + g) · H + h) · W + w, the group's channels at one position.
auto conv_vector_base(const ConvGeometry& geo) {
  const int64_t G = geo.groups, C = geo.in_channels, Cg = C / G, plane = geo.in_h * geo.in_w;
  return [=](int64_t v) {
    const int64_t position = v % plane, ng = v / plane;
    return (ng / G * C + ng % G * Cg) * plane + position;
  };
}

// The output code of one accumulated sum.
int32_t output_code(const ExactValue& sum, const BlockMacParams& p) {
  if (sum.kind == ExactValue::Kind::nan)
    throw InputError("block MAC: an output is NaN (a NaN scale or element, or infinities of both signs)");
  int64_t q = 0;
  if (sum.kind == ExactValue::Kind::infinity)
    q = sum.negative ? p.output_lo : p.output_hi;
  else
    q = round_quotient(sum, p.output_scale, RoundingMode::half_even) + p.output_zero_point;
  return static_cast<int32_t>(std::clamp(q, p.output_lo, p.output_hi));
}

// Adds one block pair to `sum`.
inline void accumulate(BlockAccumulator& sum, const AlignedBlocks& a, size_t ia, const AlignedBlocks& w, size_t iw,
                       bool wide) {
  if (a.special[ia] || w.special[iw]) return sum.add_special(ExactValue{ExactValue::Kind::nan});
  const int64_t n = a.stride;
  const int64_t* pa = &a.elements[ia * static_cast<size_t>(n)];
  const int64_t* pw = &w.elements[iw * static_cast<size_t>(n)];
  sum.add_block(wide ? block_sum<__int128>(pa, pw, n) : block_sum<int64_t>(pa, pw, n),
                a.exponents[ia] + w.exponents[iw]);
}

// Whether a block's sum of products can leave int64.
bool needs_wide_sums(const ElementTable& a, const ElementTable& w, int64_t block_size) {
  const auto bound = static_cast<unsigned __int128>(a.largest) * static_cast<unsigned __int128>(w.largest) *
                     static_cast<unsigned __int128>(block_size);
  return bound >> 62 != 0;
}
}  // namespace

void check_block_weights(const BlockMacParams& p, const BlockWeights& w, const std::string& what) {
  const BlockFormat &fa = p.activation_format, &fw = p.weight_format;
  if (fa.block_size != fw.block_size)
    throw InputError(what + ": activation blocks of " + std::to_string(fa.block_size) + " and weight blocks of " +
                     std::to_string(fw.block_size) + " do not line up");
  const int64_t bpt = w.blocks_per_tap(fw.block_size);
  const auto expect = [&](size_t got, int64_t want, const char* name) {
    if (static_cast<int64_t>(got) != want)
      throw InputError(what + ": " + name + " has " + std::to_string(got) + " entries, expected " +
                       std::to_string(want));
  };
  expect(w.codes.size(), w.out_channels * w.taps * w.group_channels, "the weight codes");
  expect(w.scales.size(), w.out_channels * w.taps * bpt, "the weight scales");
  if (!w.bias.empty()) expect(w.bias.size(), w.out_channels, "the bias");
  const uint32_t code_limit = uint32_t{1} << fw.element_bits(), scale_limit = uint32_t{1} << fw.scale_bits;
  for (uint32_t c : w.codes)
    if (c >= code_limit)
      throw InputError(what + ": weight code " + std::to_string(c) + " is not a " + fw.name + " element code");
  for (uint32_t s : w.scales)
    if (s >= scale_limit) throw InputError(what + ": weight scale " + std::to_string(s) + " is not a scale code");
  if (p.output_scale.kind != ExactValue::Kind::finite || p.output_scale.significand == 0 || p.output_scale.negative ||
      p.output_scale.significand >= (uint64_t{1} << 24))
    throw InputError(what + ": the output scale must be a positive finite float32");
}

PreparedBlockWeights prepare_block_weights(const BlockMacParams& p, const BlockWeights& w) {
  const BlockFormat& f = p.weight_format;
  const ElementTable table = element_table(f);
  const int64_t bs = f.block_size, bpt = w.blocks_per_tap(bs), vectors = w.out_channels * w.taps;
  AlignedBlocks a;
  a.block_size = bs, a.stride = std::min(bs, w.group_channels);
  a.elements.resize(static_cast<size_t>(vectors * bpt * a.stride));
  a.exponents.resize(static_cast<size_t>(vectors * bpt));
  a.special.resize(static_cast<size_t>(vectors * bpt));
  for (int64_t v = 0; v < vectors; ++v)
    for (int64_t b = 0; b < bpt; ++b) {
      const int64_t first = b * bs, count = std::min(bs, w.group_channels - first);
      const size_t at = static_cast<size_t>(v * bpt + b);
      align_block(f, table, &w.codes[static_cast<size_t>(v * w.group_channels + first)], count, a.stride, w.scales[at],
                  &a.elements[at * static_cast<size_t>(a.stride)], a.exponents[at], a.special[at]);
    }
  PreparedBlockWeights prepared;
  prepared.activation_table = element_table(p.activation_format);
  prepared.wide_sums = needs_wide_sums(prepared.activation_table, table, bs);
  prepared.blocks = std::move(a);
  return prepared;
}

void block_linear_mac(int64_t rows, const int32_t* x, const BlockMacParams& p, const BlockWeights& w,
                      const PreparedBlockWeights& prepared, int32_t* out) {
  const AlignedBlocks& aw = prepared.blocks;
  const ElementTable& at = prepared.activation_table;
  const bool wide = prepared.wide_sums;
  const int64_t K = w.group_channels, M = w.out_channels, bpt = w.blocks_per_tap(p.weight_format.block_size);
  const AlignedBlocks a = convert_input(
      x, rows, K, 1, [K](int64_t r) { return r * K; }, p, at);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t m = 0; m < M; ++m) {
      BlockAccumulator sum(p.accumulation);
      if (!w.bias.empty()) sum.add_value(w.bias[static_cast<size_t>(m)]);
      for (int64_t b = 0; b < bpt; ++b)
        accumulate(sum, a, static_cast<size_t>(r * bpt + b), aw, static_cast<size_t>(m * bpt + b), wide);
      out[r * M + m] = output_code(sum.result(), p);
    }
}

void block_conv_mac(const ConvGeometry& geo, const int32_t* x, const BlockMacParams& p, const BlockWeights& w,
                    const PreparedBlockWeights& prepared, int32_t* out) {
  const AlignedBlocks& aw = prepared.blocks;
  const ElementTable& at = prepared.activation_table;
  const bool wide = prepared.wide_sums;
  const int64_t G = geo.groups, C = geo.in_channels, Cg = C / G, M = geo.out_channels, Mg = M / G;
  const int64_t H = geo.in_h, W = geo.in_w, OH = geo.out_h(), OW = geo.out_w(), KH = geo.kernel_h, KW = geo.kernel_w;
  const int64_t bpt = w.blocks_per_tap(p.weight_format.block_size), plane = H * W;
  const AlignedBlocks a = convert_input(x, geo.batch * G * plane, Cg, plane, conv_vector_base(geo), p, at);
  for (int64_t n = 0; n < geo.batch; ++n)
    for (int64_t m = 0; m < M; ++m) {
      const int64_t g = m / Mg;
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          BlockAccumulator sum(p.accumulation);
          if (!w.bias.empty()) sum.add_value(w.bias[static_cast<size_t>(m)]);
          for (int64_t ky = 0; ky < KH; ++ky) {
            const int64_t iy = oy * geo.stride_h - geo.pad_top + ky * geo.dilation_h;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < KW; ++kx) {
              const int64_t ix = ox * geo.stride_w - geo.pad_left + kx * geo.dilation_w;
              if (ix < 0 || ix >= W) continue;
              const int64_t vector = (n * G + g) * plane + iy * W + ix, tap = ky * KW + kx;
              for (int64_t b = 0; b < bpt; ++b)
                accumulate(sum, a, static_cast<size_t>(vector * bpt + b), aw,
                           static_cast<size_t>((m * w.taps + tap) * bpt + b), wide);
            }
          }
          out[((n * M + m) * OH + oy) * OW + ox] = output_code(sum.result(), p);
        }
    }
}

BlockCodes block_linear_input(int64_t rows, int64_t in_features, const int32_t* x, const BlockMacParams& p) {
  BlockCodes c;
  convert_input(
      x, rows, in_features, 1, [in_features](int64_t r) { return r * in_features; }, p,
      element_table(p.activation_format), &c);
  return c;
}

BlockCodes block_conv_input(const ConvGeometry& geo, const int32_t* x, const BlockMacParams& p) {
  BlockCodes c;
  convert_input(x, geo.batch * geo.groups * geo.in_h * geo.in_w, geo.in_channels / geo.groups, geo.in_h * geo.in_w,
                conv_vector_base(geo), p, element_table(p.activation_format), &c);
  return c;
}

}  // namespace chipref::kernels
