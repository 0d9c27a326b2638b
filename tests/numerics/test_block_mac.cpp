// Block-format MAC layers (kernels/block_mac.hpp) on random geometries, against two oracles:
// - the spec pieces composed one output at a time (the input's exact values converted by quantize_block,
//   block_dot on the codes, the bias, round_quotient): equal bit for bit, which checks the aligned-integer
//   fast path, the block layout and the convolution's indexing;
// - a float reference that shares no block code: elements decoded from the spec's formula, the dot product
//   in long double, divided by the output scale and rounded: within one code (ties and the long double's
//   own rounding), and equal on at least 95 % of the outputs.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/block_mac.hpp"
#include "kernels/simd.hpp"
#include "support/spec_float.hpp"

using namespace chipref;
using namespace chipref::kernels;

namespace {

ExactValue exact_float(float x) { return decode(kFp32, float32_bits(x)); }

// A code's value: the spec's formula for floating elements, two's complement × 2^-(N-2) for integers.
long double spec_element(const BlockFormat& f, uint32_t code) {
  if (f.element == BlockFormat::Element::floating) return testing::spec_float_value(f.fp, code);
  int64_t v = code;
  if (v >= (int64_t{1} << (f.int_bits - 1))) v -= int64_t{1} << f.int_bits;
  return std::ldexp(static_cast<long double>(v), -(f.int_bits - 2));
}

struct Layer {
  BlockMacParams p;
  BlockWeights w;
  PreparedBlockWeights prepared;
  float s_x, s_y;
};

// `input_hi`: the highest input code the layer declares (the fast form's conversion table; −1: none).
Layer random_layer(std::mt19937_64& rng, const char* act, const char* wt, int block, int64_t M, int64_t taps,
                   int64_t cg, BlockAccumulation acc, int64_t input_hi) {
  Layer l;
  l.p.activation_format = parse_block_format(act, block);
  l.p.weight_format = parse_block_format(wt, block);
  l.p.accumulation = acc;
  l.p.activation_rounding.rounding = Rounding{RoundingMode::half_away, false};
  // s_x with 7 significant bits, so that the float reference's (x − z) · s_x is exact in float32.
  l.s_x = std::ldexp(1.0f + static_cast<float>(rng() % 64) / 64.0f, -6);
  // Every other layer has a power-of-two s_y, so that sums fall exactly halfway between codes (the tie rule).
  l.s_y = rng() % 2 ? std::ldexp(1.0f, -4 - static_cast<int>(rng() % 8))
                    : std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, -2);
  l.p.input_scale = exact_float(l.s_x), l.p.output_scale = exact_float(l.s_y);
  l.p.input_zero_point = static_cast<int32_t>(rng() % 50);
  l.p.output_zero_point = static_cast<int32_t>(rng() % 20);
  l.p.output_lo = 0, l.p.output_hi = 255;
  l.p.input_lo = 0, l.p.input_hi = input_hi;
  l.w.out_channels = M, l.w.taps = taps, l.w.group_channels = cg;
  // Weights from random floats through the block conversion, as the quantizer makes them.
  const int64_t bs = l.p.weight_format.block_size, bpt = l.w.blocks_per_tap(bs);
  l.w.codes.resize(static_cast<size_t>(M * taps * cg));
  l.w.scales.resize(static_cast<size_t>(M * taps * bpt));
  std::normal_distribution<float> normal(0.0f, 0.2f);
  std::vector<uint32_t> bits(static_cast<size_t>(bs));
  for (int64_t row = 0; row < M * taps; ++row)
    for (int64_t b = 0; b < bpt; ++b) {
      const int64_t first = b * bs, count = std::min<int64_t>(bs, cg - first);
      for (int64_t i = 0; i < count; ++i) bits[static_cast<size_t>(i)] = float32_bits(normal(rng));
      quantize_block(l.p.weight_format, bits.data(), count, BlockRounding{}, 0,
                     l.w.scales[static_cast<size_t>(row * bpt + b)], &l.w.codes[static_cast<size_t>(row * cg + first)]);
    }
  if (rng() % 2)
    for (int64_t m = 0; m < M; ++m) l.w.bias.push_back(exact_float(normal(rng)));
  check_block_weights(l.p, l.w, "test layer");
  l.prepared = prepare_block_weights(l.p, l.w);
  return l;
}

// The spec composition for one output: the input vectors (one per tap; empty = padding) of cg codes.
int32_t spec_output(const Layer& l, int64_t m, const std::vector<std::vector<int32_t>>& taps) {
  const int64_t cg = l.w.group_channels, bs = l.p.weight_format.block_size, bpt = l.w.blocks_per_tap(bs);
  BlockAccumulator sum(l.p.accumulation);
  if (!l.w.bias.empty()) sum.add_value(l.w.bias[static_cast<size_t>(m)]);
  for (size_t t = 0; t < taps.size(); ++t) {
    if (taps[t].empty()) continue;
    std::vector<ExactValue> values(static_cast<size_t>(cg));
    for (int64_t c = 0; c < cg; ++c) {
      const int64_t d = int64_t{taps[t][static_cast<size_t>(c)]} - l.p.input_zero_point;
      values[static_cast<size_t>(c)] = l.p.input_scale;
      values[static_cast<size_t>(c)].negative = d < 0;
      values[static_cast<size_t>(c)].significand *= static_cast<uint64_t>(std::abs(d));
    }
    std::vector<uint32_t> codes(static_cast<size_t>(cg)), scales(static_cast<size_t>(bpt));
    for (int64_t b = 0; b < bpt; ++b) {
      const int64_t first = b * bs, count = std::min(bs, cg - first);
      quantize_block(l.p.activation_format, &values[static_cast<size_t>(first)], count, l.p.activation_rounding, 0,
                     scales[static_cast<size_t>(b)], &codes[static_cast<size_t>(first)]);
    }
    // Each block's exact sum from the decoded elements (element_value: checked against the spec's tables), in
    // units of both formats' least significant bits, added in the kernel's order: taps, then blocks.
    const BlockFormat &fa = l.p.activation_format, &fw = l.p.weight_format;
    for (int64_t b = 0; b < bpt; ++b) {
      const int64_t first = b * bs, count = std::min(bs, cg - first);
      const size_t wrow = static_cast<size_t>((m * l.w.taps + static_cast<int64_t>(t)) * cg + first);
      const uint32_t ws = l.w.scales[static_cast<size_t>((m * l.w.taps + static_cast<int64_t>(t)) * bpt + b)];
      __int128 block_sum = 0;
      for (int64_t i = 0; i < count; ++i) {
        const ExactValue a = element_value(fa, codes[static_cast<size_t>(first + i)]);
        const ExactValue w = element_value(fw, l.w.codes[wrow + static_cast<size_t>(i)]);
        const __int128 product = static_cast<__int128>(a.significand * w.significand)
                                 << (a.exponent - fa.element_lsb() + w.exponent - fw.element_lsb());
        block_sum += a.negative != w.negative ? -product : product;
      }
      sum.add_block(block_sum, fa.element_lsb() + fw.element_lsb() + static_cast<int>(scales[static_cast<size_t>(b)]) -
                                   127 + static_cast<int>(ws) - 127);
    }
  }
  const int64_t q = round_quotient(sum.result(), l.p.output_scale, RoundingMode::half_even) + l.p.output_zero_point;
  return static_cast<int32_t>(std::clamp<int64_t>(q, l.p.output_lo, l.p.output_hi));
}

// The float reference: dequantized operands (spec formula), long double dot product, the output code.
int32_t float_output(const Layer& l, int64_t m, const std::vector<std::vector<int32_t>>& taps) {
  const int64_t cg = l.w.group_channels, bs = l.p.weight_format.block_size, bpt = l.w.blocks_per_tap(bs);
  long double y = l.w.bias.empty() ? 0 : to_double(l.w.bias[static_cast<size_t>(m)]);
  for (size_t t = 0; t < taps.size(); ++t) {
    if (taps[t].empty()) continue;
    for (int64_t b = 0; b < bpt; ++b) {
      const int64_t first = b * bs, count = std::min(bs, cg - first);
      std::vector<uint32_t> bits(static_cast<size_t>(count)), codes(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i)
        bits[static_cast<size_t>(i)] =
            float32_bits(static_cast<float>((taps[t][static_cast<size_t>(first + i)] - l.p.input_zero_point)) * l.s_x);
      uint32_t scale = 0;
      quantize_block(l.p.activation_format, bits.data(), count, l.p.activation_rounding, 0, scale, codes.data());
      const int x_exp = static_cast<int>(scale) - 127;
      const size_t wb = static_cast<size_t>((m * l.w.taps + static_cast<int64_t>(t)) * bpt + b);
      const int w_exp = static_cast<int>(l.w.scales[wb]) - 127;
      for (int64_t i = 0; i < count; ++i) {
        const size_t wi = static_cast<size_t>((m * l.w.taps + static_cast<int64_t>(t)) * cg + first + i);
        y += std::ldexp(spec_element(l.p.activation_format, codes[static_cast<size_t>(i)]), x_exp) *
             std::ldexp(spec_element(l.p.weight_format, l.w.codes[wi]), w_exp);
      }
    }
  }
  const long double q = std::nearbyint(y / static_cast<long double>(l.s_y)) + l.p.output_zero_point;
  return static_cast<int32_t>(std::clamp<long double>(q, l.p.output_lo, l.p.output_hi));
}
}  // namespace

// The layer at every kernel level the CPU has (the fast form above per_addition: Eigen's double GEMM at
// portable, the AVX2 + FMA and AVX-512 ones above; the spec loops at per_addition), each level's outputs equal
// to the spec loops'; returns the default level's outputs, whose form (fast or spec) `counts` adds up.
template <class Run>
std::vector<int32_t> at_every_level(size_t outputs, Run run, BlockMacCounts& counts) {
  std::vector<int32_t> spec(outputs), fast(outputs);
  const SimdLevel saved = simd_level();
  set_simd_level(SimdLevel::per_addition);
  const BlockMacCounts before = block_mac_counts();
  run(spec.data());
  CHECK(block_mac_counts().fast == before.fast);  // per_addition runs the spec loops only
  for (const SimdLevel level : kSimdLevels) {
    if (level == SimdLevel::per_addition || level == saved || !cpu_supports(level)) continue;
    INFO("kernel level " << to_string(level));
    set_simd_level(level);
    run(fast.data());
    REQUIRE(fast == spec);
  }
  set_simd_level(saved);
  const BlockMacCounts middle = block_mac_counts();
  run(fast.data());
  counts.fast += block_mac_counts().fast - middle.fast, counts.spec += block_mac_counts().spec - middle.spec;
  REQUIRE(fast == spec);
  return fast;
}

TEST_CASE("block linear and convolution layers equal the spec composition and a float reference") {
  std::mt19937_64 rng(2026);
  const char* const pairs[][2] = {{"mxint8", "mxint8"},         {"mxfp8_e4m3", "mxfp8_e4m3"},
                                  {"mxfp8_e5m2", "mxfp8_e4m3"}, {"mxfp6_e3m2", "mxfp4_e2m1"},
                                  {"mxfp4_e2m1", "mxfp4_e2m1"}, {"bfp16", "bfp12"},
                                  {"mxfp8_e5m2", "mxfp8_e5m2"}};
  int64_t outputs = 0, float_equal = 0;
  BlockMacCounts exact_counts;  // the exact model's outputs at the default level: fast form or spec fallback
  for (const auto& pair : pairs) {
    for (const BlockAccumulation acc : {BlockAccumulation::exact, BlockAccumulation::fp32}) {
      for (int trial = 0; trial < 6; ++trial) {
        const int block = trial % 3 == 0 ? 8 : 32;
        // Input codes 0..255 declared as 0..255 (the fast form converts through its table), as nothing (it
        // converts as the spec does), or as 0..200 (a code outside: the layer falls back to the spec loops).
        const int64_t input_hi = trial % 3 == 1 ? 255 : (trial % 3 == 2 ? -1 : 200);
        BlockMacCounts counts;
        INFO(pair[0] << " × " << pair[1] << " " << to_string(acc) << " block " << block);
        // A linear layer.
        {
          // Up to 40 channels and 13 rows: whole and partial panels and row blocks of the double GEMM.
          const int64_t K = 1 + static_cast<int64_t>(rng() % 80), M = 1 + static_cast<int64_t>(rng() % 40),
                        rows = 1 + static_cast<int64_t>(rng() % 13);
          const Layer l = random_layer(rng, pair[0], pair[1], block, M, 1, K, acc, input_hi);
          std::vector<int32_t> x(static_cast<size_t>(rows * K));
          for (auto& v : x) v = static_cast<int32_t>(rng() % 256);
          const std::vector<int32_t> y = at_every_level(
              static_cast<size_t>(rows * M),
              [&](int32_t* out) { block_linear_mac(rows, x.data(), l.p, l.w, l.prepared, out); }, counts);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t m = 0; m < M; ++m) {
              const std::vector<std::vector<int32_t>> taps = {
                  std::vector<int32_t>(x.begin() + r * K, x.begin() + (r + 1) * K)};
              REQUIRE(y[static_cast<size_t>(r * M + m)] == spec_output(l, m, taps));
              const int32_t f = float_output(l, m, taps);
              REQUIRE(std::abs(y[static_cast<size_t>(r * M + m)] - f) <= 1);
              float_equal += y[static_cast<size_t>(r * M + m)] == f, ++outputs;
            }
        }
        // A convolution: groups, stride, padding, dilation.
        {
          ConvGeometry geo;
          geo.groups = 1 + static_cast<int64_t>(rng() % 2);
          // One channel per group every other trial (a stem's or a depthwise layer's taps: the padded planes),
          // so that both kinds meet each of the three input declarations (trial % 3).
          const int64_t cg = trial % 2 == 1 ? 1 : 1 + static_cast<int64_t>(rng() % 40);
          const int64_t mg = 1 + static_cast<int64_t>(rng() % 20);
          geo.batch = 2, geo.in_channels = cg * geo.groups, geo.out_channels = mg * geo.groups;
          geo.in_h = 5, geo.in_w = 6, geo.kernel_h = 1 + static_cast<int64_t>(rng() % 3), geo.kernel_w = 3;
          geo.stride_h = 1 + static_cast<int64_t>(rng() % 2), geo.dilation_w = 1 + static_cast<int64_t>(rng() % 2);
          geo.pad_top = geo.pad_left = geo.pad_bottom = geo.pad_right = 1;
          REQUIRE(geo.valid());
          Layer l = random_layer(rng, pair[0], pair[1], block, geo.out_channels, geo.kernel_h * geo.kernel_w, cg, acc,
                                 input_hi);
          l.w.groups = geo.groups;  // each group's channels packed on their own for the double GEMM
          l.prepared = prepare_block_weights(l.p, l.w);
          std::vector<int32_t> x(static_cast<size_t>(geo.batch * geo.in_channels * geo.in_h * geo.in_w));
          for (auto& v : x) v = static_cast<int32_t>(rng() % 256);
          const int64_t OH = geo.out_h(), OW = geo.out_w();
          const std::vector<int32_t> y = at_every_level(
              static_cast<size_t>(geo.batch * geo.out_channels * OH * OW),
              [&](int32_t* out) { block_conv_mac(geo, x.data(), l.p, l.w, l.prepared, out); }, counts);
          for (int64_t n = 0; n < geo.batch; ++n)
            for (int64_t m = 0; m < geo.out_channels; ++m)
              for (int64_t oy = 0; oy < OH; ++oy)
                for (int64_t ox = 0; ox < OW; ++ox) {
                  const int64_t g = m / mg;
                  std::vector<std::vector<int32_t>> taps;
                  for (int64_t ky = 0; ky < geo.kernel_h; ++ky)
                    for (int64_t kx = 0; kx < geo.kernel_w; ++kx) {
                      const int64_t iy = oy * geo.stride_h - geo.pad_top + ky * geo.dilation_h;
                      const int64_t ix = ox * geo.stride_w - geo.pad_left + kx * geo.dilation_w;
                      std::vector<int32_t> v;
                      if (iy >= 0 && iy < geo.in_h && ix >= 0 && ix < geo.in_w)
                        for (int64_t c = 0; c < cg; ++c)
                          v.push_back(x[static_cast<size_t>(
                              ((n * geo.in_channels + g * cg + c) * geo.in_h + iy) * geo.in_w + ix)]);
                      taps.push_back(v);
                    }
                  const int32_t got = y[static_cast<size_t>(((n * geo.out_channels + m) * OH + oy) * OW + ox)];
                  REQUIRE(got == spec_output(l, m, taps));
                  const int32_t f = float_output(l, m, taps);
                  REQUIRE(std::abs(got - f) <= 1);
                  float_equal += got == f, ++outputs;
                }
        }
        // The fp32 model and a code outside the declared range run the spec loops; the exact model takes the
        // fast form unless a sum may not be exact in double (then the whole layer falls back).
        if (acc == BlockAccumulation::fp32 || input_hi == 200)
          CHECK(counts.fast == 0);
        else
          exact_counts.fast += counts.fast, exact_counts.spec += counts.spec;
      }
    }
  }
  INFO(float_equal << " of " << outputs << " outputs equal the float reference");
  INFO("exact model: " << exact_counts.fast << " outputs in the fast form, " << exact_counts.spec << " by the spec");
  CHECK(exact_counts.fast > 0);
  CHECK(float_equal >= outputs * 95 / 100);
}

TEST_CASE("block layers whose sums do not fit a double's 53 bits fall back to the spec loops, and agree") {
  // Weight blocks 2^60 apart in one row: a dot product over both spans more than 53 bits.
  std::mt19937_64 rng(7);
  for (const char* format : {"mxfp8_e4m3", "mxint8"}) {
    INFO(format);
    Layer l = random_layer(rng, format, format, 32, 4, 1, 64, BlockAccumulation::exact, 255);
    for (size_t m = 0; m < 4; ++m) l.w.scales[m * 2] += 30, l.w.scales[m * 2 + 1] -= 30;
    l.prepared = prepare_block_weights(l.p, l.w);
    std::vector<int32_t> x(3 * 64);
    for (auto& v : x) v = static_cast<int32_t>(rng() % 256);
    BlockMacCounts counts;
    const std::vector<int32_t> y = at_every_level(
        12, [&](int32_t* out) { block_linear_mac(3, x.data(), l.p, l.w, l.prepared, out); }, counts);
    CHECK(counts.fast == 0);
    CHECK(counts.spec == 12);
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t m = 0; m < 4; ++m)
        CHECK(y[static_cast<size_t>(r * 4 + m)] ==
              spec_output(l, m, {std::vector<int32_t>(x.begin() + r * 64, x.begin() + (r + 1) * 64)}));
    // Convolutions with the two taps' weight blocks 2^60 apart: through the GEMM (32 channels a tap, 8 output
    // channels) and on the padded planes (one channel a tap).
    for (const int64_t cg : {int64_t{32}, int64_t{1}}) {
      INFO(cg << " input channels");
      ConvGeometry geo;
      geo.batch = 1, geo.in_channels = cg, geo.out_channels = 8, geo.in_h = 3, geo.in_w = 7;  // 8 outputs a row
      geo.kernel_h = 1, geo.kernel_w = 2, geo.pad_left = geo.pad_right = 1;
      Layer c = random_layer(rng, format, format, 32, 8, 2, cg, BlockAccumulation::exact, 255);
      for (size_t m = 0; m < 8; ++m) c.w.scales[m * 2] += 30, c.w.scales[m * 2 + 1] -= 30;
      c.prepared = prepare_block_weights(c.p, c.w);
      std::vector<int32_t> in(static_cast<size_t>(cg * 3 * 7));
      for (auto& v : in) v = static_cast<int32_t>(rng() % 256);
      const auto outputs = static_cast<size_t>(8 * geo.out_h() * geo.out_w());
      BlockMacCounts conv_counts;
      at_every_level(
          outputs, [&](int32_t* out) { block_conv_mac(geo, in.data(), c.p, c.w, c.prepared, out); }, conv_counts);
      CHECK(conv_counts.fast == 0);
      CHECK(conv_counts.spec == static_cast<int64_t>(outputs));
    }
  }
}

TEST_CASE("block matmuls of two activations equal block_dot on the spec conversion of rows and columns") {
  // Each output composed from the spec pieces on its own: A's row and B's column as exact values (x − z) · s,
  // converted block by block by quantize_block, their dot product by block_dot, then round_quotient.
  std::mt19937_64 rng(31);
  const char* const pairs[][2] = {
      {"mxfp8_e4m3", "mxfp8_e4m3"}, {"mxint8", "mxint8"}, {"mxfp6_e2m3", "mxfp4_e2m1"}, {"bfp16", "bfp16"}};
  int64_t outputs = 0, fast_outputs = 0;
  for (const auto& pair : pairs)
    for (const BlockAccumulation acc : {BlockAccumulation::exact, BlockAccumulation::fp32})
      for (int trial = 0; trial < 4; ++trial) {
        const int block = trial % 2 ? 8 : 32;
        INFO(pair[0] << " × " << pair[1] << " " << to_string(acc) << " block " << block);
        BlockMatmulParams p;
        p.a.activation_format = parse_block_format(pair[0], block);
        p.b_format = p.a.weight_format = parse_block_format(pair[1], block);
        p.a.accumulation = acc;
        p.a.activation_rounding.rounding = Rounding{RoundingMode::half_even, false};
        p.a.input_scale = exact_float(std::ldexp(1.0f + static_cast<float>(rng() % 64) / 64.0f, -5));
        p.b_scale = exact_float(std::ldexp(1.0f + static_cast<float>(rng() % 64) / 64.0f, -4));
        p.a.input_zero_point = static_cast<int32_t>(rng() % 256), p.b_zero_point = static_cast<int32_t>(rng() % 256);
        p.a.input_lo = p.b_lo = 0, p.a.input_hi = p.b_hi = 255;
        p.a.output_scale = exact_float(std::ldexp(1.0f + static_cast<float>(rng() % 100) / 100.0f, -2));
        p.a.output_zero_point = 7, p.a.output_lo = 0, p.a.output_hi = 255;
        // Up to 13 rows and 20 columns: whole and partial panels and row blocks of the fast form's GEMM.
        const int64_t batch = 2, M = 1 + static_cast<int64_t>(rng() % 13), K = 1 + static_cast<int64_t>(rng() % 70),
                      N = 1 + static_cast<int64_t>(rng() % 20);
        std::vector<int32_t> a(static_cast<size_t>(batch * M * K)), b(static_cast<size_t>(batch * K * N));
        for (auto& v : a) v = static_cast<int32_t>(rng() % 256);
        for (auto& v : b) v = static_cast<int32_t>(rng() % 256);
        // Every kernel level equal to the spec loops (per_addition); the default level's outputs checked below.
        BlockMacCounts counts;
        const std::vector<int32_t> y = at_every_level(
            static_cast<size_t>(batch * M * N),
            [&](int32_t* out) { block_matmul(batch, M, K, N, a.data(), b.data(), p, out); }, counts);
        if (acc == BlockAccumulation::exact)
          fast_outputs += counts.fast;
        else
          CHECK(counts.fast == 0);
        const BlockMacParams pb = block_matmul_b_side(p);
        // One vector of K codes converted: its element codes and scale codes.
        auto convert = [&](const BlockFormat& f, const BlockMacParams& side, const std::vector<int32_t>& codes,
                           std::vector<uint32_t>& elements, std::vector<uint32_t>& scales) {
          elements.assign(static_cast<size_t>(K), 0), scales.clear();
          for (int64_t first = 0; first < K; first += block) {
            const int64_t count = std::min<int64_t>(block, K - first);
            std::vector<ExactValue> values;
            for (int64_t i = 0; i < count; ++i) {
              const int64_t d = codes[static_cast<size_t>(first + i)] - side.input_zero_point;
              ExactValue v = side.input_scale;
              v.negative = d < 0, v.significand *= static_cast<uint64_t>(std::abs(d));
              values.push_back(v);
            }
            uint32_t scale = 0;
            quantize_block(f, values.data(), count, side.activation_rounding, 0, scale,
                           &elements[static_cast<size_t>(first)]);
            scales.push_back(scale);
          }
        };
        for (int64_t t = 0; t < batch; ++t)
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
              std::vector<int32_t> row(static_cast<size_t>(K)), column(static_cast<size_t>(K));
              for (int64_t k = 0; k < K; ++k)
                row[static_cast<size_t>(k)] = a[static_cast<size_t>((t * M + m) * K + k)],
                column[static_cast<size_t>(k)] = b[static_cast<size_t>((t * K + k) * N + n)];
              std::vector<uint32_t> ea, sa, eb, sb;
              convert(p.a.activation_format, p.a, row, ea, sa);
              convert(p.b_format, pb, column, eb, sb);
              const ExactValue dot = block_dot(BlockVector{&p.a.activation_format, sa.data(), ea.data()},
                                               BlockVector{&p.b_format, sb.data(), eb.data()}, K, acc);
              const int64_t q = round_quotient(dot, p.a.output_scale, RoundingMode::half_even) + 7;
              REQUIRE(y[static_cast<size_t>((t * M + m) * N + n)] == std::clamp<int64_t>(q, 0, 255));
              ++outputs;
            }
      }
  CHECK(outputs > 500);
  CHECK(fast_outputs > 0);  // the exact model's fast form ran (and equalled the spec above)
}
