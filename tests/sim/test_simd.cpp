// The kernel levels (kernels/simd.hpp) against the spec: the per_addition level accumulates every
// product through AccumulatorSpec::add in the documented order and requantizes with the scalar
// Requantizer; `portable` and `avx2` must give the same integers and the same overflow counts on every
// input. Seeded random geometries (strides, dilations, padding, groups incl. depthwise, odd K, images
// narrower than a vector), codes of 8, 9 and 16 bits, accumulators wide and narrow; requantization over
// every flavour and rounding mode, scales below and above 1, accumulator extremes and clamps.

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <climits>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>

#include "core/error.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/lut.hpp"
#include "kernels/mac.hpp"
#include "kernels/quantize.hpp"
#include "kernels/requant.hpp"
#include "kernels/simd.hpp"
#include "kernels/softmax.hpp"
#include "kernels/threads.hpp"

using namespace chipref;
using namespace chipref::kernels;

namespace {
// Runs `f` at each level the CPU has and returns its results, per_addition first.
template <class F>
auto at_each_level(F f) {
  std::vector<std::pair<SimdLevel, decltype(f())>> results;
  const SimdLevel saved = simd_level();
  for (SimdLevel l : kSimdLevels) {
    if (!cpu_supports(l)) continue;
    set_simd_level(l);
    results.emplace_back(l, f());
  }
  set_simd_level(saved);
  return results;
}

std::vector<int32_t> random_codes(std::mt19937_64& rng, size_t n, int64_t lo, int64_t hi) {
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = static_cast<int32_t>(d(rng));
  return v;
}

// The oracle of the byte-path conv tests: the per_addition level's accumulators of conv_mac on int32 codes, and
// the scalar mulshift's codes of them.
std::pair<std::vector<int32_t>, std::vector<int32_t>> per_addition_conv(
    const ConvGeometry& g, const std::vector<int32_t>& x, int32_t zp, const MacWeights& weights,
    const std::vector<int32_t>& bias, const AccumulatorSpec& acc, const MulShift& stage) {
  const int64_t pixels = g.out_h() * g.out_w(), count = g.batch * g.out_channels * pixels;
  std::vector<int32_t> accumulators(static_cast<size_t>(count)), codes(static_cast<size_t>(count));
  const SimdLevel saved = simd_level();
  set_simd_level(SimdLevel::per_addition);
  OverflowCounter events;
  conv_mac(g, x.data(), zp, weights, bias, acc, events, accumulators.data());
  for (int64_t n = 0; n < g.batch; ++n)
    mulshift(stage, accumulators.data() + n * g.out_channels * pixels, 1, g.out_channels, pixels,
             codes.data() + n * g.out_channels * pixels);
  set_simd_level(saved);
  return {accumulators, codes};
}

// A convolution's operands for the byte-path tests: codes in [lo, hi] (also as bytes less lo), int8 weights, a
// bias, 32-bit saturating accumulators and a per-channel uint8 stage of zero point 3 with scales 2^-e, e drawn from
// [exponent, exponent + 6).
struct ByteConv {
  ByteConv(const ConvGeometry& geometry, int32_t lo, std::mt19937_64& rng, int32_t hi, double exponent)
      : g(geometry),
        x(random_codes(rng, static_cast<size_t>(g.batch * g.in_channels * g.in_h * g.in_w), lo, hi)),
        w(random_codes(rng, static_cast<size_t>(g.out_channels * g.reduction_length()), -127, 127)),
        bias(random_codes(rng, static_cast<size_t>(g.out_channels), -20000, 20000)),
        stage{Requantizer::make(RequantFlavour::single, RoundingMode::half_even, IntFormat::make(8, false), 3),
              {},
              3,
              255},
        weights(MacWeights::prepare(w.data(), g.out_channels, g.reduction_length(), MacLayout::convolution)) {
    for (int32_t code : x) x_bytes.push_back(static_cast<uint8_t>(code - lo));
    std::uniform_int_distribution<int> pick(0, 599);
    std::vector<double> scales(static_cast<size_t>(g.out_channels));
    for (double& scale : scales) scale = std::exp2(-exponent - pick(rng) / 100.0);
    stage.channels = make_requant_channels(scales, 31);
  }
  ByteConv(const ByteConv&) = delete;  // weights point into w
  ConvGeometry g;
  std::vector<int32_t> x, w, bias;
  std::vector<uint8_t> x_bytes;
  AccumulatorSpec acc = AccumulatorSpec::make(32, OverflowPolicy::saturate);
  MulShift stage;
  MacWeights weights;
};

struct MacResult {
  std::vector<int32_t> out;
  int64_t overflows;
  bool operator==(const MacResult& o) const { return out == o.out && overflows == o.overflows; }
};
}  // namespace

TEST_CASE("SIMD/conv_mac: every level gives the per-addition integers and overflow counts", "[sim][simd]") {
  INFO("levels on this CPU: avx2 " << cpu_supports(SimdLevel::avx2) << ", avx512_vnni "
                                   << cpu_supports(SimdLevel::avx512_vnni) << ", amx_int8 "
                                   << cpu_supports(SimdLevel::amx_int8));
  std::mt19937_64 rng(2026);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  int compared = 0;
  for (int trial = 0; trial < 300; ++trial) {
    ConvGeometry g;
    g.batch = 1 + pick(rng) % 2;
    g.groups = std::vector<int64_t>{1, 1, 2, 4}[pick(rng) % 4];
    const bool depthwise = pick(rng) % 4 == 0;
    // every fifth trial wide enough for whole GEMM row blocks (12 on avx512_vnni, 2 × 16 on amx_int8),
    // 32-pixel panels and reductions past two 64-byte tile rows
    const bool wide = trial % 5 == 0;
    g.in_channels = depthwise ? 3 + pick(rng) % 6 : g.groups * (1 + pick(rng) % (wide ? 16 : 5));
    if (depthwise) g.groups = g.in_channels;
    g.out_channels = g.groups * (1 + pick(rng) % (wide ? 40 : 6));
    g.in_h = 1 + pick(rng) % 13, g.in_w = 1 + pick(rng) % (wide ? 45 : 21);
    g.kernel_h = 1 + pick(rng) % 3, g.kernel_w = 1 + pick(rng) % 3;
    g.stride_h = 1 + pick(rng) % 3, g.stride_w = 1 + pick(rng) % 3;
    g.dilation_h = 1 + pick(rng) % 2, g.dilation_w = 1 + pick(rng) % 2;
    g.pad_top = pick(rng) % 3, g.pad_left = pick(rng) % 3, g.pad_bottom = pick(rng) % 3, g.pad_right = pick(rng) % 3;
    if (!g.valid()) continue;
    // Codes: uint8 (with a zero point), 9-bit signed, 16-bit, or int8 (with a zero point); weights int8
    // (down to −128) or int16.
    const int kind = pick(rng) % 4;
    const int64_t x_lo = kind == 0   ? 0
                         : kind == 1 ? -256
                         : kind == 2 ? -32768
                                     : -128,
                  x_hi = kind == 0   ? 255
                         : kind == 1 ? 255
                         : kind == 2 ? 32767
                                     : 127;
    const int32_t zp = static_cast<int32_t>(kind == 0 ? pick(rng) % 256 : kind == 3 ? pick(rng) % 256 - 128 : 0);
    const int64_t w_max = pick(rng) % 3 == 0 ? 32767 : 127;
    const auto x = random_codes(rng, static_cast<size_t>(g.batch * g.in_channels * g.in_h * g.in_w), x_lo, x_hi);
    const auto w = random_codes(rng, static_cast<size_t>(g.out_channels * g.reduction_length()),
                                w_max == 127 ? -128 : -w_max, w_max);
    std::vector<int32_t> bias;
    if (pick(rng) % 2) bias = random_codes(rng, static_cast<size_t>(g.out_channels), -100000, 100000);
    // Wide accumulators take the fast paths; 16..24-bit ones make some channels fall back, with events.
    const int acc_bits = pick(rng) % 3 == 0 ? 16 + pick(rng) % 9 : 32;
    const AccumulatorSpec acc =
        AccumulatorSpec::make(acc_bits, pick(rng) % 2 ? OverflowPolicy::wrap : OverflowPolicy::saturate);
    const auto results = at_each_level([&] {
      MacResult r{std::vector<int32_t>(static_cast<size_t>(g.batch * g.out_channels * g.out_h() * g.out_w())), 0};
      OverflowCounter counter;
      conv_mac(g, x.data(), zp, w.data(), bias, acc, counter, r.out.data());
      r.overflows = counter.events;
      return r;
    });
    // Every other trial again with the codes' format as their known range (CodeRange): the paths it picks
    // (taken when the format's bounds prove every output, else a scan) give the same integers.
    const CodeRange format_range{static_cast<int32_t>(x_lo), static_cast<int32_t>(x_hi)};
    const auto with_range = at_each_level([&] {
      MacResult r{std::vector<int32_t>(static_cast<size_t>(g.batch * g.out_channels * g.out_h() * g.out_w())), 0};
      if (trial % 2) return r;
      OverflowCounter counter;
      const MacWeights prepared =
          MacWeights::prepare(w.data(), g.out_channels, g.reduction_length(), MacLayout::convolution);
      conv_mac(g, x.data(), zp, prepared, bias, acc, counter, r.out.data(), nullptr, &format_range);
      r.overflows = counter.events;
      return r;
    });
    for (size_t i = 1; i < results.size(); ++i) {
      INFO("trial " << trial << ", level " << to_string(results[i].first) << ", kind " << kind << ", acc " << acc_bits
                    << " bits, geometry " << g.in_channels << "x" << g.in_h << "x" << g.in_w << " -> " << g.out_channels
                    << " k" << g.kernel_h << "x" << g.kernel_w << " s" << g.stride_h << "," << g.stride_w << " d"
                    << g.dilation_h << "," << g.dilation_w << " groups " << g.groups);
      CHECK(results[i].second == results[0].second);
      if (trial % 2 == 0) CHECK(with_range[i].second == results[0].second);
    }
    ++compared;
  }
  CHECK(compared > 150);
}

TEST_CASE("SIMD/conv_mac with its requantization fused equals conv_mac, then mulshift, at every level", "[sim][simd]") {
  // The fused epilogue writes each GEMM tile's columns straight into the output planes: whole rows when the
  // planes have no padding columns (1×1, stride 1), row pieces otherwise, in tiles narrower than the
  // image when the group has many channels. Oracle: the per_addition accumulators, then the scalar mulshift.
  std::mt19937_64 rng(4242);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  int compared = 0;
  for (int trial = 0; trial < 60; ++trial) {
    ConvGeometry g;
    const bool pointwise = trial % 2 == 0;
    g.groups = trial % 5 == 1 ? 2 : 1;
    g.in_channels = g.groups * (1 + pick(rng) % 24);
    // up to 1200 channels a group: tiles of 32 columns; small groups: one tile over the whole image
    g.out_channels = g.groups * (trial % 3 == 0 ? 600 + pick(rng) % 600 : 1 + pick(rng) % 40);
    g.in_h = 1 + pick(rng) % 40, g.in_w = 1 + pick(rng) % 40;
    if (!pointwise) {
      g.kernel_h = g.kernel_w = 3, g.stride_h = g.stride_w = 1 + pick(rng) % 2;
      g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
    }
    if (!g.valid()) continue;
    const bool unsigned_codes = trial % 4 < 2;
    const int32_t zp = unsigned_codes ? pick(rng) % 256 : pick(rng) % 256 - 128;
    const auto x = random_codes(rng, static_cast<size_t>(g.in_channels * g.in_h * g.in_w), unsigned_codes ? 0 : -128,
                                unsigned_codes ? 255 : 127);
    const auto w = random_codes(rng, static_cast<size_t>(g.out_channels * g.reduction_length()), -128, 127);
    const auto bias = random_codes(rng, static_cast<size_t>(g.out_channels), -20000, 20000);
    std::vector<double> scales(trial % 3 == 1 ? 1 : static_cast<size_t>(g.out_channels));
    for (double& s : scales) s = std::exp2(-8.0 - pick(rng) % 600 / 100.0);
    const MulShift stage{Requantizer::make(RequantFlavour::single, RoundingMode::half_even, IntFormat::uint_bits(8), 3),
                         make_requant_channels(scales, 31), 3, 250};
    const MacWeights weights =
        MacWeights::prepare(w.data(), g.out_channels, g.reduction_length(), MacLayout::convolution);
    const AccumulatorSpec acc = AccumulatorSpec::make(32, OverflowPolicy::saturate);
    const int64_t count = g.out_channels * g.out_h() * g.out_w();
    std::vector<int32_t> accumulators(static_cast<size_t>(count)), expected(static_cast<size_t>(count));
    const SimdLevel saved = simd_level();
    set_simd_level(SimdLevel::per_addition);
    OverflowCounter counter;
    conv_mac(g, x.data(), zp, weights, bias, acc, counter, accumulators.data());
    mulshift(stage, accumulators.data(), 1, g.out_channels, g.out_h() * g.out_w(), expected.data());
    set_simd_level(saved);
    for (const auto& [level, fused] : at_each_level([&] {
           std::vector<int32_t> y(static_cast<size_t>(count), INT32_MIN);
           conv_mac(g, x.data(), zp, weights, bias, acc, counter, y.data(), &stage);
           return y;
         })) {
      INFO("trial " << trial << ", level " << to_string(level) << ", " << g.in_channels << "x" << g.in_h << "x"
                    << g.in_w << " -> " << g.out_channels << " k" << g.kernel_h << " s" << g.stride_h << " groups "
                    << g.groups);
      CHECK(fused == expected);
      ++compared;
    }
    CHECK(counter.events == 0);
  }
  CHECK(compared >= 60);
}

TEST_CASE("SIMD/depthwise conv_mac (3×3, 5×5, 7×1, strides 1 and 2) gives the per-addition integers at every level",
          "[sim][simd]") {
  // The avx512_vnni depthwise kernel sweeps q = oy·pitch + ox over a padded byte plane in blocks of 64 (32 at
  // stride 2) and transposes each block's four (two) accumulators back into order: images from 1 to 150
  // pixels wide cover partial and several blocks, rows that end inside a block, height dilation, kernels
  // wider than one tap quad; uint8 and int8 codes with zero points, bytes in and out.
  std::mt19937_64 rng(515);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  int compared = 0;
  for (int trial = 0; trial < 80; ++trial) {
    ConvGeometry g;
    g.batch = 1 + trial % 2;
    g.in_channels = g.groups = g.out_channels = 1 + pick(rng) % 5;
    const int shape = trial % 3;
    g.kernel_h = shape == 2 ? 7 : shape == 1 ? 5 : 3, g.kernel_w = shape == 2 ? 1 : g.kernel_h;
    g.stride_h = g.stride_w = 1 + trial % 2 * (pick(rng) % 2);
    g.dilation_h = 1 + (trial % 5 == 4);
    g.in_h = 1 + pick(rng) % 24, g.in_w = 1 + pick(rng) % (trial % 4 == 0 ? 150 : 40);
    g.pad_top = g.pad_bottom = g.kernel_h / 2 * g.dilation_h, g.pad_left = g.pad_right = g.kernel_w / 2;
    if (!g.valid()) continue;
    const bool unsigned_codes = trial % 2 == 0;
    const int32_t lo = unsigned_codes ? 0 : -128, hi = lo + 255, zp = lo + pick(rng) % 256;
    const auto x = random_codes(rng, static_cast<size_t>(g.batch * g.in_channels * g.in_h * g.in_w), lo, hi);
    const auto w = random_codes(rng, static_cast<size_t>(g.out_channels * g.reduction_length()), -128, 127);
    const auto bias = random_codes(rng, static_cast<size_t>(g.out_channels), -50000, 50000);
    const AccumulatorSpec acc = AccumulatorSpec::make(32, OverflowPolicy::wrap);
    const MacWeights weights =
        MacWeights::prepare(w.data(), g.out_channels, g.reduction_length(), MacLayout::convolution);
    const CodeRange range{lo, hi};
    std::vector<uint8_t> x_bytes;
    for (int32_t code : x) x_bytes.push_back(static_cast<uint8_t>(code - lo));
    const int64_t count = g.batch * g.out_channels * g.out_h() * g.out_w();
    const auto results = at_each_level([&] {
      std::vector<int32_t> y(static_cast<size_t>(count)), from_bytes(static_cast<size_t>(count));
      OverflowCounter counter;
      conv_mac(g, x.data(), zp, weights, bias, acc, counter, y.data(), nullptr, &range);
      conv_mac(g, CodesIn{nullptr, x_bytes.data(), lo}, zp, weights, bias, acc, counter, CodesOut{from_bytes.data()},
               nullptr, &range);
      return std::make_pair(y, from_bytes);
    });
    for (const auto& [level, r] : results) {
      INFO("trial " << trial << ", level " << to_string(level) << ", " << g.in_channels << "x" << g.in_h << "x"
                    << g.in_w << " k" << g.kernel_h << "x" << g.kernel_w << " s" << g.stride_w << " dh "
                    << g.dilation_h);
      CHECK(r.first == results[0].second.first);
      CHECK(r.second == results[0].second.first);
    }
    ++compared;
  }
  CHECK(compared >= 70);
}

TEST_CASE("SIMD/conv_mac with codes in bytes, in and out, gives the int32 form's integers at every level",
          "[sim][simd]") {
  // Input codes stored as bytes (code = byte + base) with their known range, outputs requantized into bytes
  // (code − base): the avx512_vnni GEMM and depthwise paths fill their planes from the bytes and requantize
  // into them (strides 1 and 2 have their own conversions, 3 a scalar one); other levels, unproven ranges
  // (narrow accumulators) and the portable path widen and narrow around the int32 form. Oracle: the
  // per_addition level on int32 codes, then the scalar mulshift.
  std::mt19937_64 rng(77);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  int compared = 0, depthwise_trials = 0, u8_trials = 0;
  for (int trial = 0; trial < 160; ++trial) {
    ConvGeometry g;
    g.batch = 1 + pick(rng) % 2;
    const bool depthwise = trial % 3 == 0;
    g.in_channels = 1 + pick(rng) % 12;
    g.groups = depthwise ? g.in_channels : 1;
    g.out_channels = depthwise ? g.in_channels : 1 + pick(rng) % 40;
    g.in_h = 1 + pick(rng) % 20, g.in_w = 1 + pick(rng) % 30;
    g.kernel_h = g.kernel_w = 1 + 2 * (pick(rng) % 2);
    g.stride_h = 1 + pick(rng) % 3, g.stride_w = 1 + pick(rng) % 3;
    g.dilation_h = g.dilation_w = 1 + pick(rng) % 2;
    g.pad_top = pick(rng) % 2, g.pad_left = pick(rng) % 2, g.pad_bottom = pick(rng) % 2, g.pad_right = pick(rng) % 2;
    if (!g.valid()) continue;
    depthwise_trials += depthwise, u8_trials += !depthwise && g.out_channels >= 4;
    // codes in a window of at most 256 values: uint8 with a zero point, int8, or a clamp inside either
    const bool unsigned_codes = trial % 2 == 0;
    const int32_t lo = unsigned_codes ? pick(rng) % 8 : -128 + pick(rng) % 8, hi = lo + 200 + pick(rng) % 48;
    const int32_t zp = lo + pick(rng) % (hi - lo + 1);
    const int32_t base = lo - pick(rng) % (256 - (hi - lo));  // any base keeping [lo, hi] within 256 bytes
    const CodeRange range{lo, hi};
    const auto x = random_codes(rng, static_cast<size_t>(g.batch * g.in_channels * g.in_h * g.in_w), lo, hi);
    std::vector<uint8_t> x_bytes;
    for (int32_t code : x) x_bytes.push_back(static_cast<uint8_t>(code - base));
    // int8 weights, or int16 ones (no u8 × s8 GEMM: the int16 one reads the bytes)
    const int64_t w_max = trial % 5 == 4 ? 3000 : 127;
    const auto w = random_codes(rng, static_cast<size_t>(g.out_channels * g.reduction_length()), -w_max, w_max);
    const auto bias = random_codes(rng, static_cast<size_t>(g.out_channels), -20000, 20000);
    // every seventh trial 20-bit saturating accumulators: unproven channels, the spec path
    const AccumulatorSpec acc = AccumulatorSpec::make(trial % 7 == 6 ? 20 : 32, OverflowPolicy::saturate);
    std::vector<double> scales(static_cast<size_t>(g.out_channels));
    for (double& s : scales) s = std::exp2(-10.0 - pick(rng) % 600 / 100.0);
    const RoundingMode mode =
        std::vector<RoundingMode>{RoundingMode::half_even, RoundingMode::half_away, RoundingMode::floor}[trial % 3];
    const bool signed_out = trial % 4 < 2;
    const IntFormat out_format = IntFormat::make(8, signed_out);
    const int64_t out_zp = signed_out ? -5 : 17, clamp_lo = signed_out ? -100 : out_zp,
                  clamp_hi = signed_out ? 127 : 250;
    const MulShift stage{Requantizer::make(RequantFlavour::single, mode, out_format, out_zp),
                         make_requant_channels(scales, 31), clamp_lo, clamp_hi};
    const int32_t out_base = static_cast<int32_t>(clamp_lo) - pick(rng) % 4;
    const MacWeights weights =
        MacWeights::prepare(w.data(), g.out_channels, g.reduction_length(), MacLayout::convolution);
    const int64_t count = g.batch * g.out_channels * g.out_h() * g.out_w();
    std::vector<int32_t> accumulators(static_cast<size_t>(count)), expected(static_cast<size_t>(count));
    const SimdLevel saved = simd_level();
    set_simd_level(SimdLevel::per_addition);
    OverflowCounter expected_events;
    conv_mac(g, x.data(), zp, weights, bias, acc, expected_events, accumulators.data());
    for (int64_t n = 0; n < g.batch; ++n) {
      const int64_t at = n * g.out_channels * g.out_h() * g.out_w();
      mulshift(stage, accumulators.data() + at, 1, g.out_channels, g.out_h() * g.out_w(), expected.data() + at);
    }
    set_simd_level(saved);
    const CodesIn x_as_bytes{nullptr, x_bytes.data(), base};
    for (const auto& [level, r] : at_each_level([&] {
           // accumulators from bytes; codes from bytes into int32; codes from int32 into bytes; bytes to bytes
           std::vector<std::vector<int32_t>> y(4, std::vector<int32_t>(static_cast<size_t>(count)));
           std::vector<uint64_t> events(4);
           std::vector<uint8_t> out_bytes(static_cast<size_t>(count));
           for (int form = 0; form < 4; ++form) {
             OverflowCounter counter;
             const CodesIn in = form == 2 ? CodesIn{x.data()} : x_as_bytes;
             const CodesOut out = form < 2 ? CodesOut{y[form].data()} : CodesOut{nullptr, out_bytes.data(), out_base};
             conv_mac(g, in, zp, weights, bias, acc, counter, out, form == 0 ? nullptr : &stage, &range);
             if (form >= 2)
               for (int64_t i = 0; i < count; ++i) y[form][i] = out_bytes[i] + out_base;
             events[form] = counter.events;
           }
           return std::make_pair(y, events);
         })) {
      INFO("trial " << trial << ", level " << to_string(level) << ", " << g.in_channels << "x" << g.in_h << "x"
                    << g.in_w << " -> " << g.out_channels << " k" << g.kernel_h << " s" << g.stride_h << ","
                    << g.stride_w << " d" << g.dilation_h << (depthwise ? " depthwise" : "") << ", w_max " << w_max
                    << ", acc " << acc.bits());
      CHECK(r.first[0] == accumulators);
      for (int form = 1; form < 4; ++form) {
        INFO("form " << form);
        CHECK(r.first[form] == expected);
      }
      for (uint64_t events : r.second) CHECK(events == expected_events.events);
      ++compared;
    }
  }
  CHECK(compared >= 120);
  CHECK(depthwise_trials >= 30);
  CHECK(u8_trials >= 30);
}

TEST_CASE("SIMD/1x1 conv_mac reading codes stored in bytes as its GEMM's rows gives the int32 form's integers",
          "[sim][simd]") {
  // A 1 x 1, stride-1, unpadded convolution whose input bytes have the u8 x s8 GEMM's own base (the codes'
  // lowest, at or below the zero point) reads its channels as they lie when the pixel count is a multiple of 16;
  // other pixel counts fill planes. Batch 2 and groups 1..3, so that a wrong image, group or channel offset
  // shows; the byte vector is exactly the tensor's size (a sanitizer build sees a read past it). Oracle: the
  // per_addition level on int32 codes, then the scalar mulshift.
  std::mt19937_64 rng(91);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  int compared = 0;
  for (int trial = 0; trial < 24; ++trial) {
    ConvGeometry g;
    g.batch = 2;
    g.groups = 1 + trial % 3;
    g.in_channels = g.groups * (1 + pick(rng) % 9);
    g.out_channels = g.groups * (4 + pick(rng) % 20);
    g.in_h = 4 * (1 + pick(rng) % 4), g.in_w = trial % 4 == 3 ? 7 : 4 * (1 + pick(rng) % 4);
    const int32_t lo = trial % 2 ? -128 + pick(rng) % 8 : pick(rng) % 8, hi = lo + 180 + pick(rng) % 70;
    const int32_t zp = lo + pick(rng) % (hi - lo + 1);
    const CodeRange range{lo, hi};
    const ByteConv c(g, lo, rng, hi, 8.0);
    const auto &x = c.x, &bias = c.bias;
    const auto& x_bytes = c.x_bytes;
    const AccumulatorSpec& acc = c.acc;
    const MulShift& stage = c.stage;
    const MacWeights& weights = c.weights;
    const int64_t pixels = g.in_h * g.in_w, count = g.batch * g.out_channels * pixels;
    const auto [accumulators, expected] = per_addition_conv(g, x, zp, weights, bias, acc, stage);
    for (const auto& [level, y] : at_each_level([&] {
           std::vector<int32_t> sums(static_cast<size_t>(count)), codes(static_cast<size_t>(count));
           std::vector<uint8_t> code_bytes(static_cast<size_t>(count));
           OverflowCounter counter;
           conv_mac(g, CodesIn{nullptr, x_bytes.data(), lo}, zp, weights, bias, acc, counter, CodesOut{sums.data()},
                    nullptr, &range);
           conv_mac(g, CodesIn{nullptr, x_bytes.data(), lo}, zp, weights, bias, acc, counter,
                    CodesOut{nullptr, code_bytes.data(), 3}, &stage, &range);
           for (int64_t i = 0; i < count; ++i) codes[i] = code_bytes[i] + 3;
           return std::make_pair(sums, codes);
         })) {
      INFO("trial " << trial << ", level " << to_string(level) << ", " << g.in_channels << "x" << g.in_h << "x"
                    << g.in_w << " -> " << g.out_channels << " in " << g.groups << " groups");
      CHECK(y.first == accumulators);
      CHECK(y.second == expected);
      ++compared;
    }
  }
  CHECK(compared >= 24);
}

TEST_CASE("SIMD/conv_mac on small planes with a long reduction (pixels as GEMM rows) gives the per-addition integers",
          "[sim][simd]") {
  // Outputs of 7 × 7, 5 × 6 or 3 × 3 from a 3 × 3 kernel (stride 1 padded, or stride 2) over 512 channels: the
  // GEMM would compute 64, 48 or 16 columns for 49, 30 or 9 kept ones with K = 4608, so conv_mac takes its
  // pixel-rows path (A = B transposed, the channels as vector lanes). Batch 2, output channels not a multiple of
  // 16, int32 sums, int32 codes and bytes out, input in int32 and in bytes; oracle: the per_addition level, then
  // the scalar mulshift.
  std::mt19937_64 rng(93);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  int compared = 0;
  for (int trial = 0; trial < 4; ++trial) {
    ConvGeometry g;
    g.batch = 2, g.groups = 1;
    g.in_channels = 512, g.out_channels = 40 + 7 * trial;
    g.kernel_h = g.kernel_w = 3;
    const bool strided = trial == 2;
    g.stride_h = g.stride_w = strided ? 2 : 1;
    g.in_h = strided ? 14 : trial == 3 ? 3 : 7, g.in_w = strided ? 13 : trial == 3 ? 3 : trial == 1 ? 6 : 7;
    g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
    if (trial == 1) g.in_h = 5;
    const int32_t lo = -128 + pick(rng) % 8, hi = lo + 200, zp = lo + 11;
    const CodeRange range{lo, hi};
    const ByteConv c(g, lo, rng, hi, 12.0);
    const auto &x = c.x, &bias = c.bias;
    const auto& x_bytes = c.x_bytes;
    const AccumulatorSpec& acc = c.acc;
    const MulShift& stage = c.stage;
    const MacWeights& weights = c.weights;
    const int64_t count = g.batch * g.out_channels * g.out_h() * g.out_w();
    const auto [accumulators, expected] = per_addition_conv(g, x, zp, weights, bias, acc, stage);
    for (const auto& [level, y] : at_each_level([&] {
           std::vector<int32_t> sums(static_cast<size_t>(count)), codes(static_cast<size_t>(count));
           std::vector<uint8_t> code_bytes(static_cast<size_t>(count));
           OverflowCounter counter;
           conv_mac(g, CodesIn{x.data()}, zp, weights, bias, acc, counter, CodesOut{sums.data()}, nullptr, &range);
           conv_mac(g, CodesIn{nullptr, x_bytes.data(), lo}, zp, weights, bias, acc, counter,
                    CodesOut{nullptr, code_bytes.data(), 3}, &stage, &range);
           for (int64_t i = 0; i < count; ++i) codes[i] = code_bytes[i] + 3;
           return std::make_pair(sums, codes);
         })) {
      INFO("trial " << trial << ", level " << to_string(level) << ", " << g.in_channels << "x" << g.in_h << "x"
                    << g.in_w << " -> " << g.out_channels << "x" << g.out_h() << "x" << g.out_w());
      CHECK(y.first == accumulators);
      CHECK(y.second == expected);
      ++compared;
    }
  }
  CHECK(compared >= 4 * 2);
}

TEST_CASE("SIMD/mulshift and add_requant: every level gives the scalar Requantizer's integers", "[sim][simd]") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> log2_scale(-20.0, 3.0);
  std::vector<int32_t> acc = random_codes(rng, 1000, INT32_MIN, INT32_MAX);
  const auto small = random_codes(rng, 1000, -70000, 70000);
  acc.insert(acc.end(), small.begin(), small.end());
  for (int32_t edge : {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX}) acc.push_back(edge);
  for (int32_t v = -600; v <= 600; ++v) acc.push_back(v);  // every tie of the power-of-two scales, unsaturated
  const auto a = random_codes(rng, acc.size(), 0, 255), b = random_codes(rng, acc.size(), -128, 127);
  int compared = 0, bytes_compared = 0;
  for (RequantFlavour flavour : kAllRequantFlavours)
    for (RoundingMode mode : {RoundingMode::half_even, RoundingMode::half_away, RoundingMode::half_up,
                              RoundingMode::floor, RoundingMode::toward_zero})
      for (int trial = 0; trial < 40; ++trial) {
        const IntFormat out = IntFormat::make(trial % 2 ? 8 : 16, trial % 3 != 0);
        const int64_t zp = out.is_signed() ? 0 : 37;
        const int bits = flavour == RequantFlavour::float32 ? kFloat32MultiplierBits : 8 + trial % 24;
        // scales above 1 give a left shift in `single`; every eighth trial 2^-1..2^-4 exactly, whose products
        // land on exact ties (x·2^-k for x an odd multiple of 2^(k-1)), where the rounding modes differ
        const double scale = trial % 8 == 7 ? std::ldexp(1.0, -(1 + trial / 8 % 4)) : std::exp2(log2_scale(rng));
        const RequantChannel ch = requant_channel_of(derive_multiplier(scale, bits), flavour);
        const RequantChannel ch2 = requant_channel_of(derive_multiplier(scale * 0.7, bits), flavour);
        const Requantizer rq = Requantizer::make(flavour, mode, out, zp);
        const int64_t lo = trial % 4 == 0 ? zp : out.min(), hi = trial % 5 == 0 ? out.max() / 2 : out.max();
        const MulShift ms{rq, {ch, ch2}, lo, hi};
        // channels on the last axis (a matrix product's output), the third one a scale above 1
        const MulShift last_axis{
            rq, {ch2, ch, requant_channel_of(derive_multiplier(scale * 5.3, bits), flavour)}, lo, hi};
        // 19 channels on the last axis: two whole vectors of 8 with their own multipliers and shifts, and a
        // tail; every seventh trial one of them shifts left (no vector form for `single`)
        std::vector<RequantChannel> nineteen;
        for (int c = 0; c < 19; ++c)
          nineteen.push_back(requant_channel_of(
              derive_multiplier(scale * (trial % 7 == 0 && c == 11 ? 9.0 : std::exp2(-0.15 * c)), bits), flavour));
        const MulShift many_channels{rq, nineteen, lo, hi};
        const AddRequant add{rq, ch, ch2, 100, -3, lo, hi};
        // codes stored as bytes (code − lo) when the clamp spans at most 256 of them, widened back here
        const bool in_bytes = hi - lo <= 255;
        bytes_compared += in_bytes;
        const auto results = at_each_level([&] {
          std::vector<int32_t> y(acc.size()), z(acc.size()), w(acc.size() / 3 * 3), v(acc.size() / 19 * 19);
          mulshift(ms, acc.data(), 1, 2, static_cast<int64_t>(acc.size() / 2), y.data());
          add_requant(add, a.data(), b.data(), static_cast<int64_t>(a.size()), z.data());
          mulshift(last_axis, acc.data(), static_cast<int64_t>(acc.size() / 3), 3, 1, w.data());
          mulshift(many_channels, acc.data(), static_cast<int64_t>(acc.size() / 19), 19, 1, v.data());
          std::vector<int32_t> from_bytes;
          if (in_bytes) {
            const int64_t half = static_cast<int64_t>(acc.size() / 2);
            std::vector<uint8_t> bytes(acc.size() / 2 * 2);
            mulshift_row(ms, 0, acc.data(), half, bytes.data(), static_cast<int32_t>(lo));
            mulshift_row(ms, 1, acc.data() + half, half, bytes.data() + half, static_cast<int32_t>(lo));
            for (uint8_t code : bytes) from_bytes.push_back(code + static_cast<int32_t>(lo));
            from_bytes.resize(y.size(), y.back());  // (an odd count leaves y's last element to the int32 form)
          }
          // the add with its operands stored in bytes (a − 0, b + 128): one of them, then both with the output too
          std::vector<uint8_t> a_bytes, b_bytes;
          for (size_t i = 0; i < a.size(); ++i)
            a_bytes.push_back(static_cast<uint8_t>(a[i])), b_bytes.push_back(static_cast<uint8_t>(b[i] + 128));
          const CodesIn a_in{nullptr, a_bytes.data(), 0}, b_in{nullptr, b_bytes.data(), -128};
          std::vector<int32_t> add_mixed(a.size()), add_from_bytes;
          add_requant(add, a_in, CodesIn{b.data()}, static_cast<int64_t>(a.size()), CodesOut{add_mixed.data()});
          if (in_bytes) {
            std::vector<uint8_t> sums(a.size());
            add_requant(add, a_in, b_in, static_cast<int64_t>(a.size()),
                        CodesOut{nullptr, sums.data(), static_cast<int32_t>(lo)});
            for (uint8_t code : sums) add_from_bytes.push_back(code + static_cast<int32_t>(lo));
          }
          // rows of 30 read with a pitch of 37 and written with one of 31 (conv_mac's rows out of a padded tile),
          // every other row channel 1; the gaps keep their marker
          const int64_t rows = static_cast<int64_t>(acc.size()) / 37;
          std::vector<int32_t> strided(static_cast<size_t>(rows * 31), -99999);
          std::vector<uint8_t> strided_bytes(strided.size(), 7);
          for (int64_t channel = 0; channel < 2; ++channel) {
            const RowSteps steps{(rows - channel + 1) / 2, 2 * 37, 2 * 31};
            mulshift_rows(ms, channel, acc.data() + channel * 37, 30, strided.data() + channel * 31, steps);
            if (in_bytes)
              mulshift_rows(ms, channel, acc.data() + channel * 37, 30, strided_bytes.data() + channel * 31,
                            static_cast<int32_t>(lo), steps);
          }
          for (uint8_t byte : strided_bytes) strided.push_back(byte);
          return std::make_tuple(y, z, w, v, from_bytes, add_mixed, add_from_bytes, strided);
        });
        for (size_t i = 1; i < results.size(); ++i) {
          INFO(to_string(flavour) << " " << to_string(mode) << " scale " << scale << " bits " << bits << " level "
                                  << to_string(results[i].first));
          CHECK(std::get<0>(results[i].second) == std::get<0>(results[0].second));
          CHECK(std::get<1>(results[i].second) == std::get<1>(results[0].second));
          CHECK(std::get<2>(results[i].second) == std::get<2>(results[0].second));
          CHECK(std::get<3>(results[i].second) == std::get<3>(results[0].second));
          CHECK(std::get<7>(results[i].second) == std::get<7>(results[0].second));
        }
        for (const auto& [level, r] : results)
          if (in_bytes) {
            INFO("bytes: " << to_string(flavour) << " " << to_string(mode) << " scale " << scale << " level "
                           << to_string(level));
            CHECK(std::get<4>(r) == std::get<0>(results[0].second));
            CHECK(std::get<6>(r) == std::get<1>(results[0].second));
          }
        for (const auto& [level, r] : results) {
          INFO("add of an operand in bytes: " << to_string(flavour) << " " << to_string(mode) << " level "
                                              << to_string(level));
          CHECK(std::get<5>(r) == std::get<1>(results[0].second));
        }
        ++compared;
      }
  CHECK(compared == 3 * 5 * 40);
  CHECK(bytes_compared >= 200);
}

TEST_CASE(
    "SIMD/mulshift at every rounding threshold of an 8-bit output, 54-bit products included, gives the "
    "scalar integers",
    "[sim][simd]") {
  // Codes around every rounding threshold of an 8-bit output (x·M/2^right within 3 of k + 1/2), exact ties
  // (M = 2^30), full 31-bit and odd multipliers, right shifts around 45 (where (B + 1)·2^right, B = max |clamp −
  // zp|, reaches 2^53); and two products one away from a tie that need 54 bits: 4 574 713 · 2 038 129 737 =
  // 265·2^45 + 1 and 8 473 547 · 1 100 348 957 = 265·2^45 − 1 (found by a search for divisors), which a double
  // would round onto the tie. (A double-precision form for right <= 53 − log2(B + 1) was tried and measured
  // slower than the int64 lanes on this CPU; one bit more than that bound fails here.)
  int compared = 0;
  for (int right : {40, 44, 45, 46})
    for (int32_t multiplier : {INT32_MAX, (1 << 30) + 1, 1 << 30, 1518500249, 2038129737, 1100348957})
      for (RoundingMode mode :
           {RoundingMode::half_even, RoundingMode::floor, RoundingMode::toward_zero, RoundingMode::half_up})
        for (const auto& [format, zp] :
             {std::pair{IntFormat::uint_bits(8), int64_t{0}}, std::pair{IntFormat::uint_bits(8), int64_t{37}},
              std::pair{IntFormat::int_bits(8), int64_t{-5}}}) {
          const FixedMultiplier fixed{multiplier, 31 - right, 31};
          const MulShift ms{Requantizer::make(RequantFlavour::single, mode, format, zp),
                            {requant_channel_of(fixed, RequantFlavour::single)},
                            format.min(),
                            format.max()};
          std::vector<int32_t> x;
          for (int64_t k = format.min() - zp - 3; k <= format.max() - zp + 3; ++k) {
            const double threshold = std::ldexp(static_cast<double>(k) + 0.5, right) / multiplier;
            for (int64_t d = -3; d <= 3; ++d) {
              const double v = std::floor(threshold) + static_cast<double>(d);
              if (v > INT32_MIN && v < INT32_MAX) x.push_back(static_cast<int32_t>(v));
            }
          }
          for (int32_t edge : {INT32_MIN, INT32_MAX, -1, 0, 1, 4574713, 8473547}) x.push_back(edge);
          const auto results = at_each_level([&] {
            std::vector<int32_t> y(x.size());
            mulshift_row(ms, 0, x.data(), static_cast<int64_t>(x.size()), y.data());
            return y;
          });
          for (size_t i = 1; i < results.size(); ++i) {
            INFO("right " << right << ", multiplier " << multiplier << ", " << to_string(mode) << ", zp " << zp
                          << ", level " << to_string(results[i].first));
            CHECK(results[i].second == results[0].second);
          }
          ++compared;
        }
  CHECK(compared == 4 * 6 * 4 * 3);
}

TEST_CASE("SIMD/linear_mac: every level gives the per-addition integers and overflow counts", "[sim][simd]") {
  std::mt19937_64 rng(17);
  std::uniform_int_distribution<int> pick(1, 1 << 20);
  for (int trial = 0; trial < 300; ++trial) {
    // out up to 40: whole 12-row blocks of the avx512_vnni GEMM; codes 16-bit, uint8 or int8; rows past
    // several 16-column blocks of the GEMM's B, in past two 64-byte rows of it
    const int64_t rows = 1 + pick(rng) % (trial % 10 ? 40 : 150), in = 1 + pick(rng) % 140,
                  out = 1 + pick(rng) % (trial % 2 ? 40 : 20);
    const bool wide_codes = trial % 3 == 0, signed_codes = trial % 3 == 1 && trial % 2, wide_weights = trial % 7 == 0;
    const auto a = random_codes(rng, static_cast<size_t>(rows * in),
                                wide_codes     ? -32768
                                : signed_codes ? -128
                                               : 0,
                                wide_codes     ? 32767
                                : signed_codes ? 127
                                               : 255);
    const auto w =
        random_codes(rng, static_cast<size_t>(out * in), wide_weights ? -40000 : -128, wide_weights ? 40000 : 127);
    const auto bias = random_codes(rng, static_cast<size_t>(out), -5000, 5000);
    const int32_t za = wide_codes ? 0 : signed_codes ? -3 : 100;
    const AccumulatorSpec acc =
        AccumulatorSpec::make(trial % 2 ? 32 : 20, trial % 4 < 2 ? OverflowPolicy::wrap : OverflowPolicy::saturate);
    const auto results = at_each_level([&] {
      MacResult r{std::vector<int32_t>(static_cast<size_t>(rows * out)), 0};
      OverflowCounter counter;
      linear_mac(rows, in, out, a.data(), za, w.data(), trial % 5 ? bias : std::vector<int32_t>{}, acc, counter,
                 r.out.data());
      r.overflows = counter.events;
      return r;
    });
    // again with the codes' format as their known range, as in the conv_mac test
    const CodeRange format_range{wide_codes     ? -32768
                                 : signed_codes ? -128
                                                : 0,
                                 wide_codes     ? 32767
                                 : signed_codes ? 127
                                                : 255};
    const auto with_range = at_each_level([&] {
      MacResult r{std::vector<int32_t>(static_cast<size_t>(rows * out)), 0};
      OverflowCounter counter;
      linear_mac(rows, in, out, a.data(), za, MacWeights::prepare(w.data(), out, in, MacLayout::linear),
                 trial % 5 ? bias : std::vector<int32_t>{}, acc, counter, r.out.data(), &format_range);
      r.overflows = counter.events;
      return r;
    });
    for (size_t i = 1; i < results.size(); ++i) {
      INFO("trial " << trial << " rows " << rows << " in " << in << " out " << out << " level "
                    << to_string(results[i].first));
      CHECK(results[i].second == results[0].second);
      CHECK(with_range[i].second == results[0].second);
    }
  }
}

TEST_CASE("SIMD/matmul_mac: the unchecked sum equals the per-addition one, wide and narrow accumulators",
          "[sim][simd]") {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> pick(1, 9), large(1, 70);
  for (int trial = 0; trial < 300; ++trial) {
    // every third trial larger than the avx2 GEMM's 6-row blocks and 16-column panels, K odd or even
    const bool big = trial % 3 == 1;
    const int64_t batch = pick(rng) % 3 + 1, m = big ? large(rng) : pick(rng), k = big ? large(rng) : pick(rng) * 3,
                  n = big ? large(rng) : pick(rng);
    const bool wide_codes = trial % 3 == 0 || trial % 5 == 0;  // 16-bit codes: a − za leaves int16 when za != 0
    const auto a =
        random_codes(rng, static_cast<size_t>(batch * m * k), wide_codes ? -32768 : 0, wide_codes ? 32767 : 255);
    const auto c = random_codes(rng, static_cast<size_t>(batch * k * n), -128, 127);
    const int32_t za = wide_codes && trial % 2 ? 0 : 100, zc = 3;
    const AccumulatorSpec acc =
        AccumulatorSpec::make(trial % 2 ? 32 : 18, trial % 4 < 2 ? OverflowPolicy::wrap : OverflowPolicy::saturate);
    const auto results = at_each_level([&] {
      MacResult r{std::vector<int32_t>(static_cast<size_t>(batch * m * n)), 0};
      OverflowCounter counter;
      matmul_mac(batch, m, k, n, a.data(), za, c.data(), zc, acc, counter, r.out.data());
      r.overflows = counter.events;
      return r;
    });
    // again with both operands' formats as their known ranges, as in the conv_mac test
    const CodeRange a_range{wide_codes ? -32768 : 0, wide_codes ? 32767 : 255}, c_range{-128, 127};
    const auto with_range = at_each_level([&] {
      MacResult r{std::vector<int32_t>(static_cast<size_t>(batch * m * n)), 0};
      OverflowCounter counter;
      matmul_mac(batch, m, k, n, a.data(), za, c.data(), zc, acc, counter, r.out.data(), &a_range, &c_range);
      r.overflows = counter.events;
      return r;
    });
    for (size_t i = 1; i < results.size(); ++i) {
      INFO("trial " << trial << " batch " << batch << " m " << m << " k " << k << " n " << n << " level "
                    << to_string(results[i].first));
      CHECK(results[i].second == results[0].second);
      CHECK(with_range[i].second == results[0].second);
    }
  }
}

TEST_CASE(
    "SIMD/quantize_floats: every level rounds fl(x / scale) half to even, saturates, and stops at a "
    "non-finite input",
    "[sim][simd]") {
  // Oracle: std::nearbyint in the default rounding mode (ties to even) on the float32 quotient, clamped in
  // int64 — independent of the kernel's round_to_integer and its vector clamp-before-rounding.
  std::mt19937_64 rng(77);
  struct Format {
    int64_t lo, hi, zero_point;
  };
  const Format formats[] = {{-128, 127, 0},
                            {0, 255, 128},
                            {-8, 7, -3},
                            {-32768, 32767, 17},
                            {0, 65535, 40000},
                            {-(1 << 23), (1 << 23) - 1, 5},
                            {-(1 << 30), (1 << 30) - 1, 0}};
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  int compared = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const Format f = formats[trial % std::size(formats)];
    const float scale = trial % 3 == 0 ? std::ldexp(1.0f, pick(rng) % 9 - 6) : 0.001f + std::abs(unit(rng));
    const int64_t n = 1 + pick(rng) % 70;
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) {
      const double span = static_cast<double>(f.hi - f.lo) * scale;
      switch (pick(rng) % 6) {
        case 0:  // an exact tie: (k + 1/2)·scale with a power-of-two scale
          v = static_cast<float>((std::floor(unit(rng) * 200) + 0.5) * scale);
          break;
        case 1:  // far outside the format
          v = unit(rng) * 1e30f;
          break;
        case 2:  // tiny and signed zeros
          v = unit(rng) * 1e-40f;
          break;
        default:
          v = static_cast<float>(unit(rng) * span);
      }
    }
    const bool poisoned = trial % 5 == 4;
    const int64_t poison_at = poisoned ? pick(rng) % n : n;
    if (poisoned) x[poison_at] = trial % 2 ? std::numeric_limits<float>::quiet_NaN() : -HUGE_VALF;
    const FloatQuantize p{scale, f.zero_point, f.lo, f.hi};
    std::vector<int32_t> expected(static_cast<size_t>(poison_at));
    for (int64_t i = 0; i < poison_at; ++i)
      expected[i] = static_cast<int32_t>(std::clamp<int64_t>(
          static_cast<int64_t>(std::clamp(std::nearbyint(static_cast<double>(x[i] / scale)), -1e18, 1e18)) +
              f.zero_point,
          f.lo, f.hi));
    for (const auto& [level, result] : at_each_level([&] {
           std::vector<int32_t> y(static_cast<size_t>(n), INT32_MIN);
           const int64_t stopped = quantize_floats(p, x.data(), n, y.data());
           y.resize(static_cast<size_t>(std::min(stopped, n)));
           return std::make_pair(stopped, y);
         })) {
      INFO("level " << to_string(level) << ", trial " << trial << ", n " << n);
      CHECK(result.first == poison_at);
      CHECK(result.second == expected);
      ++compared;
    }
  }
  CHECK(compared >= 200 * 2);
}

TEST_CASE("SIMD/MAC kernels on 3 threads give the per-addition integers of one thread, every level", "[sim][simd]") {
  // Layers large enough that split_range cuts them (kernels/threads.hpp): a 3×3 convolution with a fused
  // requantization, a stride-2 depthwise one, a linear layer and attention-sized matrix products. The
  // oracle is the per_addition level on one thread.
  std::mt19937_64 rng(303);
  ConvGeometry conv;
  conv.in_channels = 64, conv.in_h = 54, conv.in_w = 58, conv.out_channels = 90, conv.kernel_h = conv.kernel_w = 3;
  conv.pad_top = conv.pad_left = conv.pad_bottom = conv.pad_right = 1;
  ConvGeometry depthwise = conv;
  depthwise.in_channels = depthwise.out_channels = depthwise.groups = 128, depthwise.in_h = depthwise.in_w = 128;
  depthwise.stride_h = depthwise.stride_w = 2;
  const auto conv_x = random_codes(rng, static_cast<size_t>(64 * 54 * 58), 0, 255);
  const auto conv_w = random_codes(rng, static_cast<size_t>(90 * conv.reduction_length()), -128, 127);
  const auto conv_bias = random_codes(rng, 90, -20000, 20000);
  const auto dw_x = random_codes(rng, static_cast<size_t>(128 * 128 * 128), -128, 127);
  const auto dw_w = random_codes(rng, static_cast<size_t>(128 * 9), -128, 127);
  const int64_t rows = 197, in = 384, out = 1100, heads = 12, k = 128;
  const auto lin_a = random_codes(rng, static_cast<size_t>(rows * in), 0, 255);
  const auto lin_w = random_codes(rng, static_cast<size_t>(out * in), -128, 127);
  const auto lin_bias = random_codes(rng, static_cast<size_t>(out), -5000, 5000);
  const auto q = random_codes(rng, static_cast<size_t>(heads * rows * k), -128, 127);
  const auto kt = random_codes(rng, static_cast<size_t>(heads * k * rows), -128, 127);
  const AccumulatorSpec acc = AccumulatorSpec::make(32, OverflowPolicy::saturate);
  const MulShift stage{Requantizer::make(RequantFlavour::single, RoundingMode::half_even, IntFormat::int_bits(8), 0),
                       make_requant_channels(std::vector<double>(90, 0.0031), 31), -128, 127};
  const MacWeights conv_weights =
      MacWeights::prepare(conv_w.data(), 90, conv.reduction_length(), MacLayout::convolution);
  const MacWeights dw_weights = MacWeights::prepare(dw_w.data(), 128, 9, MacLayout::convolution);
  std::vector<uint8_t> dw_bytes;
  for (int32_t code : dw_x) dw_bytes.push_back(static_cast<uint8_t>(code + 128));
  const CodeRange int8_range{-128, 127};
  const MulShift dw_stage{Requantizer::make(RequantFlavour::single, RoundingMode::half_even, IntFormat::int_bits(8), 0),
                          make_requant_channels(std::vector<double>(128, 0.0123), 31), -128, 127};

  auto run_all = [&] {
    std::vector<std::vector<int32_t>> r(5);
    OverflowCounter counter;
    r[0].resize(static_cast<size_t>(90 * conv.out_h() * conv.out_w()));
    conv_mac(conv, conv_x.data(), 7, conv_weights, conv_bias, acc, counter, r[0].data(), &stage);
    r[1].resize(static_cast<size_t>(128 * depthwise.out_h() * depthwise.out_w()));
    conv_mac(depthwise, dw_x.data(), -5, dw_w.data(), {}, acc, counter, r[1].data());
    r[2].resize(static_cast<size_t>(rows * out));
    linear_mac(rows, in, out, lin_a.data(), 128, lin_w.data(), lin_bias, acc, counter, r[2].data());
    r[3].resize(static_cast<size_t>(heads * rows * rows));
    matmul_mac(heads, rows, k, rows, q.data(), 3, kt.data(), -2, acc, counter, r[3].data());
    // the depthwise layer again from bytes, requantized into bytes (the paths' byte forms split over threads)
    std::vector<uint8_t> out_bytes(r[1].size());
    conv_mac(depthwise, CodesIn{nullptr, dw_bytes.data(), -128}, -5, dw_weights, {}, acc, counter,
             CodesOut{nullptr, out_bytes.data(), -128}, &dw_stage, &int8_range);
    for (uint8_t b : out_bytes) r[4].push_back(b - 128);
    CHECK(counter.events == 0);
    return r;
  };
  // each large enough for three blocks (about: the GEMMs' B has padding columns, a depthwise MAC counts 16)
  CHECK(90 * conv.reduction_length() * conv.out_h() * conv.out_w() >= 3 * kMacsPerThread);
  CHECK(128 * 12 * depthwise.out_h() * depthwise.in_w * 4 >= 2 * kMacsPerThread);  // (avx512_vnni: 12 taps, 4 each)
  CHECK(rows * in * out >= 3 * kMacsPerThread);
  CHECK(heads * rows * k * rows >= 3 * kMacsPerThread);
  const SimdLevel saved = simd_level();
  set_simd_level(SimdLevel::per_addition);
  const auto spec = run_all();
  set_simd_level(saved);
  const IntraOpThreads three(3);
  CHECK(IntraOpThreads::current() == 3);
  for (const auto& [level, result] : at_each_level(run_all)) {
    INFO("level " << to_string(level));
    for (size_t i = 0; i < spec.size(); ++i) {
      INFO("kernel " << i << " (conv+requant, depthwise, linear, matmul, depthwise in bytes)");
      CHECK(result[i] == spec[i]);
    }
  }
}

TEST_CASE("SIMD/split_range covers every row once, in aligned blocks, on the threads lent", "[sim][simd]") {
  for (int64_t threads : {1, 2, 3, 8})
    for (int64_t rows : {1, 11, 12, 13, 70, 1000})
      for (int64_t macs_per_row : {int64_t{1}, kMacsPerThread / 5, kMacsPerThread}) {
        const IntraOpThreads lend(threads);
        std::vector<int> covered(static_cast<size_t>(rows), 0);
        std::vector<std::pair<int64_t, int64_t>> blocks(static_cast<size_t>(rows));
        std::atomic<int> count{0};
        split_range(rows, macs_per_row, 12, [&](int64_t begin, int64_t end) {
          blocks[begin] = {begin, end};
          ++count;
          for (int64_t r = begin; r < end; ++r) ++covered[r];
        });
        INFO(threads << " threads, " << rows << " rows, " << macs_per_row << " MACs a row");
        CHECK(std::all_of(covered.begin(), covered.end(), [](int c) { return c == 1; }));
        // as many blocks as the threads, the 12-row units and the work allow (kMacsPerThread each)
        const int64_t worth = std::max<int64_t>(1, rows * macs_per_row / kMacsPerThread);
        CHECK(count == std::min({threads, (rows + 11) / 12, worth}));
        for (const auto& [begin, end] : blocks)
          if (end > 0) CHECK((begin % 12 == 0 && (end % 12 == 0 || end == rows)));
      }
}

namespace {
// A LayerNorm of n elements with random γ (multipliers of `bits` bits, right shifts from 0, where ties of
// the last rounding are common, up to 40, and a few left shifts, which the avx512_vnni level leaves to the
// spec loop), signs, β codes and output format.
LayerNorm random_layernorm(std::mt19937_64& rng, int64_t n, int extra_bits, uint64_t epsilon, int64_t in_zero_point,
                           IntFormat out, bool some_left_shifts) {
  std::uniform_int_distribution<int64_t> pick(0, int64_t{1} << 40);
  LayerNorm p;
  p.in_zero_point = in_zero_point, p.extra_bits = extra_bits, p.epsilon = epsilon;
  p.requantizer = Requantizer::make(RequantFlavour::single, RoundingMode::half_even, out,
                                    out.min() + pick(rng) % (out.max() - out.min() + 1));
  for (int64_t j = 0; j < n; ++j) {
    const int bits = 8 + static_cast<int>(pick(rng) % 24);
    const int right = some_left_shifts && pick(rng) % 50 == 0 ? -1 - static_cast<int>(pick(rng) % 3)
                                                              : static_cast<int>(pick(rng) % 41);
    RequantChannel ch;
    ch.fixed = FixedMultiplier{
        static_cast<int32_t>((int64_t{1} << (bits - 1)) + pick(rng) % (int64_t{1} << (bits - 1))), bits - right, bits};
    p.gamma.push_back(ch);
    p.gamma_negative.push_back(pick(rng) % 3 == 0);
    p.beta.push_back(static_cast<int64_t>(pick(rng) % 61) - 30);
  }
  return p;
}

std::vector<int32_t> layernorm_at(const LayerNorm& p, const std::vector<int32_t>& x, int64_t n) {
  std::vector<int32_t> y(x.size());
  layernorm(p, x.data(), static_cast<int64_t>(x.size()) / n, n, y.data());
  return y;
}
}  // namespace

TEST_CASE("SIMD/layernorm: every level gives the spec's integers (random rows, formats and gamma)", "[sim][simd]") {
  std::mt19937_64 rng(1010);
  std::uniform_int_distribution<int64_t> pick(0, int64_t{1} << 40);
  int compared = 0;
  for (int trial = 0; trial < 120; ++trial) {
    const int64_t n = std::vector<int64_t>{1, 2, 3, 7, 8, 9, 16, 31, 64, 192, 768}[pick(rng) % 11];
    const bool wide = pick(rng) % 3 == 0;  // 16-bit input codes
    const int64_t lo = wide ? -32768 : 0, hi = wide ? 32767 : 255, zp = lo + pick(rng) % (hi - lo + 1);
    const IntFormat out = std::vector<IntFormat>{IntFormat::make(8, true), IntFormat::make(8, false),
                                                 IntFormat::make(16, true)}[pick(rng) % 3];
    const int extra_bits = static_cast<int>(pick(rng) % 17);
    const uint64_t epsilon = pick(rng) % 2 ? 0 : pick(rng) % (uint64_t{1} << (pick(rng) % 41));
    const LayerNorm p = random_layernorm(rng, n, extra_bits, epsilon, zp, out, trial % 4 == 0);
    // rows of random codes, of a narrow spread (a large normalised value), and constant (S = 0 when ε = 0)
    const int64_t rows = 1 + pick(rng) % 6;
    std::vector<int32_t> x;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t kind = pick(rng) % 4, centre = lo + pick(rng) % (hi - lo + 1);
      for (int64_t i = 0; i < n; ++i)
        x.push_back(static_cast<int32_t>(kind == 0   ? centre
                                         : kind == 1 ? std::clamp<int64_t>(centre + pick(rng) % 3 - 1, lo, hi)
                                                     : lo + pick(rng) % (hi - lo + 1)));
    }
    const auto results = at_each_level([&] { return layernorm_at(p, x, n); });
    for (const auto& [level, y] : results) {
      INFO("trial " << trial << ", n " << n << ", level " << to_string(level));
      CHECK(y == results.front().second);
      ++compared;
    }
  }
  CHECK(compared >= 240);
}

TEST_CASE("SIMD/layernorm: ties of the normalising division round to even at every level", "[sim][simd]") {
  // Rows with Σd = 0 (pairs ±d) and each d an odd multiple of t: c_i = n·d_i, and ε chosen so that
  // S = n·t·2^(16+g) exactly (S = isqrt(round(V·4^g/n) + E)); then z_i = c_i·2^(15+g)/S = (2q+1)/2, a tie.
  std::mt19937_64 rng(1011);
  std::uniform_int_distribution<int64_t> pick(0, 1 << 20);
  int ties = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t n = 2 * (1 + pick(rng) % 8), t = 1 + pick(rng) % 3;
    const int g = static_cast<int>(pick(rng) % 5);
    std::vector<int32_t> x;
    unsigned __int128 v = 0;
    for (int64_t i = 0; i < n / 2; ++i) {
      const int64_t d = (2 * (pick(rng) % 6) + 1) * t;
      x.push_back(static_cast<int32_t>(100 + d)), x.push_back(static_cast<int32_t>(100 - d));
      v += static_cast<unsigned __int128>(2 * n * d * n * d);
    }
    const auto s = static_cast<unsigned __int128>(n * t) << (16 + g);
    const unsigned __int128 scaled = ((v << (2 * g)) + static_cast<uint64_t>(n / 2)) / static_cast<uint64_t>(n);
    REQUIRE(s * s >= scaled);
    const LayerNorm p =
        random_layernorm(rng, n, g, static_cast<uint64_t>(s * s - scaled), 100, IntFormat::make(16, true), false);
    const auto results = at_each_level([&] { return layernorm_at(p, x, n); });
    for (const auto& [level, y] : results) {
      INFO("trial " << trial << ", level " << to_string(level));
      CHECK(y == results.front().second);
    }
    ties += static_cast<int>(n);
  }
  CHECK(ties > 100);
}

TEST_CASE("SIMD/softmax: every level gives the spec's integers (random tables, rows, ties, wide spans)",
          "[sim][simd]") {
  std::mt19937_64 rng(1012);
  std::uniform_int_distribution<int64_t> pick(0, int64_t{1} << 40);
  int compared = 0;
  auto check_levels = [&](const Softmax& p, const std::vector<int32_t>& x, int64_t cols, const std::string& what) {
    const int64_t rows = static_cast<int64_t>(x.size()) / cols;
    const auto results = at_each_level([&] {
      std::vector<int32_t> y(x.size());
      softmax(p, x.data(), rows, cols, y.data());
      return y;
    });
    for (const auto& [level, y] : results) {
      INFO(what << ", level " << to_string(level));
      CHECK(y == results.front().second);
      ++compared;
    }
  };
  // A tie at each element: T = (511, 1), S = 512, M = 256: 255.5 and 0.5 round to 256 and 0.
  Softmax tie;
  tie.exp_table = {511, 1}, tie.one_over_scale = 256, tie.out = IntFormat::make(16, false);
  check_levels(tie, {5, 4, 4, 5, 7, 6}, 2, "ties");
  for (int trial = 0; trial < 150; ++trial) {
    Softmax p;
    const int bits = 4 + static_cast<int>(pick(rng) % 27);  // table entries up to 2^bits (<= 2^30)
    const int64_t size = std::vector<int64_t>{1, 2, 17, 256, 300, 70000}[pick(rng) % 6];
    const bool small = pick(rng) % 3 == 0;  // entries 0..8: frequent ties of T·M / S
    for (int64_t d = 0; d < size; ++d)
      p.exp_table.push_back(static_cast<int32_t>(
          small ? pick(rng) % 9 : std::llround(std::ldexp(std::exp(-0.05 * static_cast<double>(d)), bits))));
    p.one_over_scale = std::vector<int64_t>{256, 1 << 15, 1 << 16, int64_t{1} << 29}[pick(rng) % 4];
    p.out = std::vector<IntFormat>{IntFormat::make(8, false), IntFormat::make(8, true), IntFormat::make(16, false),
                                   IntFormat::make(32, true)}[pick(rng) % 4];
    p.zero_point = p.out.min() + static_cast<int64_t>(pick(rng) % 3);
    const int64_t cols = 1 + pick(rng) % 300, rows = 1 + pick(rng) % 4;
    std::vector<int32_t> x;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t kind = pick(rng) % 5, spread = std::vector<int64_t>{1, 16, 256, 65536, 1}[kind];
      for (int64_t c = 0; c < cols; ++c)
        x.push_back(kind == 4 ? (pick(rng) % 2 ? INT32_MAX : INT32_MIN + 1)  // a span past 2^31: the spec loop
                              : static_cast<int32_t>(pick(rng) % spread) - 128);
    }
    check_levels(p, x, cols, "trial " + std::to_string(trial));
  }
  CHECK(compared >= 300);
}

TEST_CASE("SIMD/lut: every level gives the spec's codes, and the same error for a code outside the table",
          "[sim][simd]") {
  std::mt19937_64 rng(1013);
  std::uniform_int_distribution<int64_t> pick(0, int64_t{1} << 40);
  int compared = 0;
  for (int trial = 0; trial < 120; ++trial) {
    Lut p;
    const int bits = std::vector<int>{4, 8, 12, 16}[pick(rng) % 4];
    p.shift = static_cast<int>(pick(rng) % std::min(bits, 5));
    p.interpolate = pick(rng) % 4 == 0;
    p.in_min = static_cast<int64_t>(pick(rng) % 1000) - (int64_t{1} << (bits - 1));
    p.out = std::vector<IntFormat>{IntFormat::make(8, true), IntFormat::make(8, false),
                                   IntFormat::make(16, true)}[pick(rng) % 3];
    const int64_t entries = (int64_t{1} << (bits - p.shift)) + 1;
    for (int64_t e = 0; e < entries; ++e)  // past the output format now and then: the lookup saturates
      p.table.push_back(static_cast<int32_t>(static_cast<int64_t>(pick(rng) % 70000) - 35000));
    const int64_t span = (entries - 1) << p.shift, n = 1 + pick(rng) % 100;
    std::vector<int32_t> x;
    for (int64_t i = 0; i < n; ++i)
      x.push_back(
          static_cast<int32_t>(p.in_min + (pick(rng) % 8 == 0 ? span * (pick(rng) % 2) : pick(rng) % (span + 1))));
    const auto results = at_each_level([&] {
      std::vector<int32_t> y(x.size());
      lut(p, x.data(), n, y.data());
      return y;
    });
    for (const auto& [level, y] : results) {
      INFO("trial " << trial << ", level " << to_string(level));
      CHECK(y == results.front().second);
      ++compared;
    }
    // one code past the domain, in the middle of a block
    x[static_cast<size_t>(n / 2)] = static_cast<int32_t>(p.in_min + span + 1 + static_cast<int64_t>(pick(rng) % 3));
    const auto errors = at_each_level([&] {
      std::vector<int32_t> y(x.size());
      try {
        lut(p, x.data(), n, y.data());
      } catch (const InputError& e) {
        return std::string(e.what());
      }
      return std::string("no error");
    });
    for (const auto& [level, message] : errors) {
      INFO("level " << to_string(level));
      CHECK(message == errors.front().second);
      CHECK(message.find("outside the table's domain") != std::string::npos);
    }
  }
  CHECK(compared >= 240);
}
