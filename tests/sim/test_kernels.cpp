// Integer kernels against independent implementations: the float executor's ConvInteger, MatMulInteger,
// MaxPool, Slice, Gather and Expand (themselves checked against ONNX's node-test data) on seeded random
// tensors and geometries; MulShift / Add against exact arithmetic within the documented bounds;
// accumulator order effects against hand-derived sums.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <random>

#include "kernels/mac.hpp"
#include "kernels/movement.hpp"
#include "kernels/pool.hpp"
#include "kernels/requant.hpp"
#include "model/executor.hpp"
#include "model/ops/ops.hpp"

using namespace chipref;
using namespace chipref::kernels;

namespace {
Tensor run_op(const std::string& op, std::map<std::string, AttributeValue> attrs, const std::vector<Tensor>& inputs) {
  Node n;
  n.name = "n";
  n.op_type = op;
  n.attributes = std::move(attrs);
  std::vector<const Tensor*> ptrs;
  for (const auto& t : inputs) {
    n.inputs.push_back("i" + std::to_string(ptrs.size()));
    ptrs.push_back(&t);
  }
  n.outputs = {"y"};
  return run_node(n, 17, ptrs)[0];
}

std::vector<int32_t> random_codes(std::mt19937_64& rng, size_t n, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

Tensor as_tensor(DType dtype, Shape shape, const std::vector<int32_t>& v) {
  return Tensor::of_ints(dtype, std::move(shape), std::vector<int64_t>(v.begin(), v.end()));
}

const AccumulatorSpec kWide = AccumulatorSpec::make(32, OverflowPolicy::error);
}  // namespace

TEST_CASE("Kernels/conv_mac equals ConvInteger on random geometries", "[sim][kernels]") {
  std::mt19937_64 rng(21);
  for (int trial = 0; trial < 60; ++trial) {
    ConvGeometry g;
    g.groups = trial % 3 == 0 ? 1 : (trial % 3 == 1 ? 2 : 4);
    g.in_channels = g.groups * (1 + static_cast<int64_t>(rng() % 3));
    g.out_channels = g.groups * (1 + static_cast<int64_t>(rng() % 3));
    if (trial % 5 == 0) g.groups = g.in_channels = g.out_channels = 4;  // depthwise
    g.batch = 1 + static_cast<int64_t>(rng() % 2);
    g.in_h = 3 + static_cast<int64_t>(rng() % 6), g.in_w = 3 + static_cast<int64_t>(rng() % 6);
    g.kernel_h = 1 + static_cast<int64_t>(rng() % 3), g.kernel_w = 1 + static_cast<int64_t>(rng() % 3);
    g.stride_h = 1 + static_cast<int64_t>(rng() % 2), g.stride_w = 1 + static_cast<int64_t>(rng() % 2);
    g.dilation_h = 1 + static_cast<int64_t>(rng() % 2), g.dilation_w = 1;
    g.pad_top = rng() % 2, g.pad_left = rng() % 2, g.pad_bottom = rng() % 2, g.pad_right = rng() % 2;
    if (!g.valid()) continue;  // kernel larger than the padded input
    const int32_t zp = static_cast<int32_t>(rng() % 256);
    const auto x = random_codes(rng, g.batch * g.in_channels * g.in_h * g.in_w, 0, 255);
    const auto w = random_codes(rng, g.out_channels * (g.in_channels / g.groups) * g.kernel_h * g.kernel_w, -128, 127);
    const auto bias = random_codes(rng, g.out_channels, -5000, 5000);
    std::vector<int32_t> got(g.batch * g.out_channels * g.out_h() * g.out_w());
    OverflowCounter overflow;
    conv_mac(g, x.data(), zp, w.data(), bias, kWide, overflow, got.data());

    const Tensor y =
        run_op("ConvInteger",
               {{"group", g.groups},
                {"strides", std::vector<int64_t>{g.stride_h, g.stride_w}},
                {"dilations", std::vector<int64_t>{g.dilation_h, g.dilation_w}},
                {"pads", std::vector<int64_t>{g.pad_top, g.pad_left, g.pad_bottom, g.pad_right}}},
               {as_tensor(DType::uint8, {g.batch, g.in_channels, g.in_h, g.in_w}, x),
                as_tensor(DType::int8, {g.out_channels, g.in_channels / g.groups, g.kernel_h, g.kernel_w}, w),
                Tensor::of_ints(DType::uint8, {}, {zp})});
    long mismatches = 0;
    const int64_t plane = g.out_h() * g.out_w();
    for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != y.ints[i] + bias[(i / plane) % g.out_channels];
    INFO("trial " << trial);
    CHECK(mismatches == 0);
    CHECK(overflow.events == 0);
  }
}

TEST_CASE("Kernels/linear_mac equals MatMulInteger", "[sim][kernels]") {
  std::mt19937_64 rng(22);
  const int64_t rows = 3, k = 37, n = 11;
  const auto a = random_codes(rng, rows * k, -128, 127);
  const auto w = random_codes(rng, n * k, -128, 127);  // [n, k]
  std::vector<int32_t> wt(k * n);                      // [k, n] for MatMulInteger
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) wt[j * n + i] = w[i * k + j];
  std::vector<int32_t> got(rows * n);
  OverflowCounter overflow;
  linear_mac(rows, k, n, a.data(), -3, w.data(), {}, kWide, overflow, got.data());
  const Tensor y = run_op("MatMulInteger", {},
                          {as_tensor(DType::int8, {rows, k}, a), as_tensor(DType::int8, {k, n}, wt),
                           Tensor::of_ints(DType::int8, {}, {-3})});
  CHECK(std::vector<int64_t>(got.begin(), got.end()) == y.ints);
}

TEST_CASE("Kernels/accumulation order decides saturation (hand-derived)", "[sim][kernels]") {
  // One output, three products 100·1, 100·1, −100·1 after a bias of 0, in an 8-bit accumulator:
  // wrap: 100, 200→−56, −156→100 (the exact sum); saturate: 100, 127, 27; error: stops at the second add.
  const std::vector<int32_t> a = {100, 100, -100}, w = {1, 1, 1};
  int32_t out = 0;
  OverflowCounter c;
  linear_mac(1, 3, 1, a.data(), 0, w.data(), {}, AccumulatorSpec::make(8, OverflowPolicy::wrap), c, &out);
  CHECK(out == 100);
  linear_mac(1, 3, 1, a.data(), 0, w.data(), {}, AccumulatorSpec::make(8, OverflowPolicy::saturate), c, &out);
  CHECK(out == 27);
  CHECK(c.events == 3);  // wrap: 200 and −156 leave the range; saturate: 200 does
  CHECK_THROWS_AS(
      linear_mac(1, 3, 1, a.data(), 0, w.data(), {}, AccumulatorSpec::make(8, OverflowPolicy::error), c, &out),
      AccumulatorOverflow);
  CHECK_THROWS_WITH(
      linear_mac(1, 3, 1, a.data(), 0, w.data(), {}, AccumulatorSpec::make(40, OverflowPolicy::wrap), c, &out),
      Catch::Contains("expected <= 32"));
  ConvGeometry too_small;
  too_small.in_h = too_small.in_w = 2;
  too_small.kernel_h = too_small.kernel_w = 3;
  CHECK_THROWS_WITH(
      conv_mac(too_small, a.data(), 0, w.data(), {}, AccumulatorSpec::make(32, OverflowPolicy::wrap), c, &out),
      Catch::Contains("invalid convolution geometry"));
}

TEST_CASE("Kernels/mulshift applies per-channel scales and the fused clamp", "[sim][kernels]") {
  const auto out = IntFormat::int_bits(8);
  const MulShift p{Requantizer::make(RequantFlavour::single, RoundingMode::half_even, out, -10),
                   make_requant_channels({0.5, 0.25}, 31), -10, 127};  // ReLU: nothing below the zero point
  const std::vector<int32_t> acc = {4, -40, 1000, 8, -40, 2};          // [1, 2, 3]: channel 0 then channel 1
  std::vector<int32_t> y(6);
  mulshift(p, acc.data(), 1, 2, 3, y.data());
  // channel 0 (×0.5): −10+2 = −8; −10−20 = −30 → clamp −10; −10+500 → 127. channel 1 (×0.25): −8; −20 → −10; −10+0.5 →
  // −10 (tie to even)
  CHECK(y == std::vector<int32_t>{-8, -10, 127, -8, -10, -10});
}

TEST_CASE("Kernels/add_requant is within one LSB of the exact sum", "[sim][kernels]") {
  std::mt19937_64 rng(23);
  std::uniform_real_distribution<double> scale(0.2, 1.5);
  const auto out = IntFormat::int_bits(8);
  long violations = 0, exact = 0, total = 0;
  for (int t = 0; t < 200; ++t) {
    const double sa = scale(rng), sb = scale(rng);
    const AddRequant p{Requantizer::make(RequantFlavour::single, RoundingMode::half_even, out, 3),
                       make_requant_channel(sa, 31),
                       make_requant_channel(sb, 31),
                       5,
                       -7,
                       -128,
                       127};
    const auto a = random_codes(rng, 100, -128, 127), b = random_codes(rng, 100, -128, 127);
    std::vector<int32_t> y(100);
    add_requant(p, a.data(), b.data(), 100, y.data());
    for (int i = 0; i < 100; ++i, ++total) {
      const double real = std::clamp(3 + (a[i] - 5) * sa + (b[i] + 7) * sb, -128.0, 127.0);
      const double err = std::fabs(y[i] - real);
      violations += err > 1.0 + 1e-6;  // two roundings of at most 1/2 each, plus 2^-31 relative multiplier error
      exact += std::fabs(y[i] - std::nearbyint(real)) == 0;
    }
  }
  INFO(exact << " of " << total << " equal the correctly rounded sum");
  CHECK(violations == 0);
}

TEST_CASE("Kernels/window_sum and window_max equal AveragePool·count and MaxPool", "[sim][kernels]") {
  std::mt19937_64 rng(24);
  ConvGeometry g;
  g.batch = 2, g.in_channels = g.out_channels = g.groups = 3, g.in_h = 7, g.in_w = 6;
  g.kernel_h = g.kernel_w = 2, g.stride_h = g.stride_w = 2;
  const auto x = random_codes(rng, 2 * 3 * 7 * 6, -128, 127);
  std::vector<int32_t> sums(2 * 3 * g.out_h() * g.out_w()), maxes(sums.size());
  window_sum(g, x.data(), 9, sums.data());
  window_max(g, x.data(), maxes.data());
  std::vector<float> shifted(x.size());
  for (size_t i = 0; i < x.size(); ++i) shifted[i] = static_cast<float>(x[i] - 9);
  const std::map<std::string, AttributeValue> attrs = {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                                       {"strides", std::vector<int64_t>{2, 2}}};
  const Tensor avg = run_op("AveragePool", attrs, {Tensor::of_floats({2, 3, 7, 6}, shifted)});
  const Tensor mx = run_op("MaxPool", attrs, {as_tensor(DType::int8, {2, 3, 7, 6}, x)});
  long mismatches = 0;
  for (size_t i = 0; i < sums.size(); ++i) {
    mismatches += sums[i] != static_cast<int32_t>(std::lround(avg.floats[i] * 4.0f));
    mismatches += maxes[i] != mx.ints[i];
  }
  CHECK(mismatches == 0);
}

TEST_CASE(
    "Kernels/window_sum and window_max (int32 or byte codes) with padding, strides and dilations equal the "
    "float pools",
    "[sim][kernels]") {
  // Random geometries, including windows that reach past the input on every side, windows wider than the
  // stride and global pools (every fifth); the oracle is the float executor's AveragePool (count_include_pad: padding
  // adds zero to the sum of x − zp) and MaxPool.
  std::mt19937_64 rng(26);
  std::uniform_int_distribution<int64_t> pick(0, 1 << 20);
  long compared = 0, mismatches = 0, byte_mismatches = 0;
  int large_windows = 0;  // not global, more than 16 taps
  int tiled = 0;
  for (int trial = 0; trial < 90; ++trial) {
    ConvGeometry g;
    g.batch = 1 + pick(rng) % 2, g.in_channels = g.out_channels = g.groups = 1 + pick(rng) % 3;
    const bool large = trial % 5 == 2;
    g.in_h = (large ? 4 : 1) + pick(rng) % 9, g.in_w = (large ? 4 : 1) + pick(rng) % 9;
    g.kernel_h = (large ? 4 : 1) + pick(rng) % 3, g.kernel_w = (large ? 4 : 1) + pick(rng) % 3;
    g.stride_h = 1 + pick(rng) % 3, g.stride_w = 1 + pick(rng) % 3;
    const bool dilated = trial % 3 == 0;  // AveragePool has dilations only from opset 19: MaxPool checks them
    g.dilation_h = dilated ? 1 + pick(rng) % 2 : 1, g.dilation_w = dilated ? 1 + pick(rng) % 2 : 1;
    g.pad_top = pick(rng) % g.kernel_h, g.pad_bottom = pick(rng) % g.kernel_h;
    g.pad_left = pick(rng) % g.kernel_w, g.pad_right = pick(rng) % g.kernel_w;
    if (trial % 5 == 4) {  // a global pool: one window over each whole plane (the kernel's plane-at-once form)
      g.kernel_h = g.in_h, g.kernel_w = g.in_w, g.dilation_h = g.dilation_w = 1;
      g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 0;
    }
    if (trial % 5 == 3) {  // windows that tile the plane exactly (the kernel's all-planes-at-once form)
      g.stride_h = g.kernel_h, g.stride_w = g.kernel_w, g.dilation_h = g.dilation_w = 1;
      g.in_h = g.kernel_h * (1 + pick(rng) % 4), g.in_w = g.kernel_w * (1 + pick(rng) % 4);
      g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 0;
    }
    if (!g.valid()) continue;
    large_windows += large && g.kernel_h * g.kernel_w > 16;
    tiled += trial % 5 == 3;
    const Shape shape = {g.batch, g.in_channels, g.in_h, g.in_w};
    const auto x = random_codes(rng, static_cast<size_t>(element_count(shape)), -128, 127);
    const int32_t zp = static_cast<int32_t>(pick(rng) % 20) - 10;
    std::vector<int32_t> sums(static_cast<size_t>(g.batch * g.in_channels * g.out_h() * g.out_w())), maxes(sums.size());
    window_sum(g, x.data(), zp, sums.data());
    window_max(g, x.data(), maxes.data());
    std::map<std::string, AttributeValue> attrs = {
        {"kernel_shape", std::vector<int64_t>{g.kernel_h, g.kernel_w}},
        {"strides", std::vector<int64_t>{g.stride_h, g.stride_w}},
        {"pads", std::vector<int64_t>{g.pad_top, g.pad_left, g.pad_bottom, g.pad_right}}};
    std::vector<float> shifted(x.size());
    for (size_t i = 0; i < x.size(); ++i) shifted[i] = static_cast<float>(x[i] - zp);
    const float count = static_cast<float>(g.kernel_h * g.kernel_w);
    if (!dilated) {
      attrs["count_include_pad"] = int64_t{1};
      const Tensor avg = run_op("AveragePool", attrs, {Tensor::of_floats(shape, shifted)});
      for (size_t i = 0; i < sums.size(); ++i) mismatches += sums[i] != std::lround(avg.floats[i] * count);
      attrs.erase("count_include_pad");
    }
    attrs["dilations"] = std::vector<int64_t>{g.dilation_h, g.dilation_w};
    const Tensor mx = run_op("MaxPool", attrs, {as_tensor(DType::int8, shape, x)});
    for (size_t i = 0; i < maxes.size(); ++i) mismatches += maxes[i] != mx.ints[i];
    // the codes stored as bytes (code = byte + base: kernels::CodesIn; the codes span all 256 values)
    const int32_t base = -128;
    std::vector<uint8_t> bytes;
    for (int32_t code : x) bytes.push_back(static_cast<uint8_t>(code - base));
    std::vector<int32_t> from_bytes(maxes.size());
    window_max(g, bytes.data(), base, from_bytes.data());
    for (size_t i = 0; i < maxes.size(); ++i) byte_mismatches += from_bytes[i] != mx.ints[i];
    // bytes out, the same base (every pad above is narrower than its window)
    REQUIRE(every_window_reaches_input(g));
    std::vector<uint8_t> byte_maxes(maxes.size());
    window_max(g, bytes.data(), byte_maxes.data());
    for (size_t i = 0; i < maxes.size(); ++i) byte_mismatches += byte_maxes[i] + base != mx.ints[i];
    compared += static_cast<long>(sums.size());
  }
  CHECK(compared > 500);
  CHECK(large_windows >= 8);
  CHECK(tiled >= 15);
  CHECK(mismatches == 0);
  CHECK(byte_mismatches == 0);
}

TEST_CASE("Kernels/window_max in bytes refuses a window wholly in the padding, whose maximum is no code",
          "[sim][kernels]") {
  ConvGeometry g;
  g.batch = g.in_channels = g.out_channels = g.groups = 1, g.in_h = g.in_w = 4;
  g.kernel_h = g.kernel_w = 2, g.stride_h = g.stride_w = 2, g.pad_top = 2;  // the first row of windows: padding only
  REQUIRE(g.valid());
  CHECK_FALSE(every_window_reaches_input(g));
  const std::vector<uint8_t> x(16, 7);
  std::vector<uint8_t> y(static_cast<size_t>(g.out_h() * g.out_w()));
  CHECK_THROWS_AS(window_max(g, x.data(), y.data()), std::logic_error);
  g.pad_top = 1;
  CHECK(every_window_reaches_input(g));
}

TEST_CASE("Kernels/window_sum is exact at the documented limit: 16-bit codes, windows of 2^14 − 1 elements",
          "[sim][kernels]") {
  // Sums up to 16383 · 65535 < 2^31 must come out exactly (the kernel adds modulo 2^32, in any order); the
  // oracle adds in int64. Codes at both ends of uint16 and int16, a global pool and a strided 2-D window.
  std::mt19937_64 rng(27);
  for (const auto& [lo, hi, zp] : {std::tuple<int32_t, int32_t, int32_t>{65000, 65535, 0},
                                   {0, 500, 65535},
                                   {-32768, -32000, 32767},
                                   {32000, 32767, -32768}}) {
    ConvGeometry g;
    g.in_h = 127, g.in_w = 129, g.kernel_h = 127, g.kernel_w = 129;  // one window of 16383 elements
    for (const bool global : {true, false}) {
      if (!global) g.in_w = 131, g.kernel_w = 129, g.stride_w = 2;  // two windows along the row
      const auto x = random_codes(rng, static_cast<size_t>(g.in_h * g.in_w), lo, hi);
      std::vector<int32_t> sums(static_cast<size_t>(g.out_h() * g.out_w()));
      window_sum(g, x.data(), zp, sums.data());
      for (int64_t ox = 0; ox < g.out_w(); ++ox) {
        int64_t exact = 0;
        for (int64_t y = 0; y < g.kernel_h; ++y)
          for (int64_t c = 0; c < g.kernel_w; ++c)
            exact += x[static_cast<size_t>(y * g.in_w + ox * g.stride_w + c)] - zp;
        INFO("codes in [" << lo << ", " << hi << "], zero point " << zp << (global ? ", global" : ", strided"));
        CHECK(std::llabs(exact) > 1000000000);  // within a factor 2.2 of int32's limit
        CHECK(sums[static_cast<size_t>(ox)] == exact);
      }
    }
  }
}

TEST_CASE("Kernels/the checked path (narrow wrapping accumulator) equals the exact sum mod 2^bits", "[sim][kernels]") {
  // With `wrap`, only the final sum matters: acc = wrap16(exact). The bound |b| + max|x−zp|·Σ|w| far
  // exceeds 2^15 here, so the kernel must take its per-addition path; both paths must agree with this.
  std::mt19937_64 rng(25);
  ConvGeometry g;
  g.in_channels = 8, g.out_channels = 4, g.in_h = g.in_w = 6, g.kernel_h = g.kernel_w = 3, g.pad_top = g.pad_left = 1;
  const auto x = random_codes(rng, 8 * 36, 0, 255);
  const auto w = random_codes(rng, 4 * 8 * 9, -128, 127);
  std::vector<int32_t> narrow(4 * g.out_h() * g.out_w()), wide(narrow.size());
  OverflowCounter narrow_events, wide_events;
  conv_mac(g, x.data(), 128, w.data(), {}, AccumulatorSpec::make(16, OverflowPolicy::wrap), narrow_events,
           narrow.data());
  conv_mac(g, x.data(), 128, w.data(), {}, kWide, wide_events, wide.data());
  const IntFormat i16 = IntFormat::int_bits(16);
  long mismatches = 0;
  for (size_t i = 0; i < wide.size(); ++i) mismatches += narrow[i] != i16.wrap(wide[i]);
  CHECK(mismatches == 0);
  CHECK(narrow_events.events > 0);  // the narrow accumulator did overflow along the way
  CHECK(wide_events.events == 0);
}

TEST_CASE("Kernels/transpose equals the float executor's Transpose on random shapes and permutations",
          "[sim][kernels]") {
  // Shapes with size-1 axes (dropped), axes that stay neighbours (merged into runs), and extents past the
  // 16 x 16 tiles of a matrix transpose, up to rank 6.
  std::mt19937_64 rng(37);
  std::uniform_int_distribution<int64_t> pick(0, 1 << 20);
  int tiled = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int64_t rank = 1 + pick(rng) % 6;
    Shape shape;
    for (int64_t d = 0; d < rank; ++d) shape.push_back(pick(rng) % 4 == 0 ? 1 : 1 + pick(rng) % (rank <= 3 ? 40 : 6));
    std::vector<int64_t> perm(static_cast<size_t>(rank));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    const auto x = random_codes(rng, static_cast<size_t>(element_count(shape)), -1000, 1000);
    const Tensor expected = run_op("Transpose", {{"perm", perm}}, {as_tensor(DType::int32, shape, x)});
    Shape y_shape;
    std::vector<int32_t> y;
    transpose(shape, x.data(), perm, y_shape, y);
    INFO("trial " << trial << " shape " << shape_to_string(shape));
    REQUIRE(y_shape == expected.shape);
    REQUIRE(std::vector<int64_t>(y.begin(), y.end()) == expected.ints);
    tiled += rank >= 2 && perm.back() != rank - 1 && shape[rank - 1] > 16 && shape[perm.back()] > 16;
  }
  CHECK(tiled > 10);  // the tiled path ran, with whole and partial tiles
}

TEST_CASE("Kernels/slice, gather and batch_broadcast equal the float executor's Slice, Gather and Expand",
          "[sim][kernels]") {
  std::mt19937_64 rng(31);
  std::uniform_int_distribution<int64_t> pick(0, 1 << 20);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t rank = 1 + pick(rng) % 4;
    Shape shape;
    for (int64_t d = 0; d < rank; ++d) shape.push_back(1 + pick(rng) % 6);
    const auto x = random_codes(rng, static_cast<size_t>(element_count(shape)), -300, 300);
    const Tensor xt = as_tensor(DType::int32, shape, x);
    // Slice: random axes, starts/ends beyond the ends and negative, steps ±1..3; resolved as the lowering does.
    std::vector<int64_t> axes, starts, ends, steps, begins, counts;
    for (int64_t d = 0; d < rank; ++d) {
      if (pick(rng) % 2) continue;
      const int64_t dim = shape[d], step = (pick(rng) % 2 ? 1 : -1) * (1 + pick(rng) % 3);
      axes.push_back(d), steps.push_back(step);
      starts.push_back(static_cast<int64_t>(pick(rng) % (2 * dim + 5)) - dim - 2),
          ends.push_back(static_cast<int64_t>(pick(rng) % (2 * dim + 5)) - dim - 2);
      const ops::SliceRange r = ops::slice_range(starts.back(), ends.back(), step, dim);
      begins.push_back(r.begin), counts.push_back(r.count);
    }
    const auto ints = [](const std::vector<int64_t>& v) {
      return Tensor::of_ints(DType::int64, {static_cast<int64_t>(v.size())}, v);
    };
    const Tensor expected = run_op("Slice", {}, {xt, ints(starts), ints(ends), ints(axes), ints(steps)});
    Shape y_shape;
    std::vector<int32_t> y;
    slice(shape, x.data(), axes, begins, steps, counts, y_shape, y);
    INFO("trial " << trial << " shape " << shape_to_string(shape));
    CHECK(y_shape == expected.shape);
    CHECK(std::vector<int64_t>(y.begin(), y.end()) == expected.ints);
    // Gather: a scalar index (drops the axis) or a vector of indices, some repeated.
    const int64_t axis = pick(rng) % rank;
    const bool scalar = pick(rng) % 2;
    std::vector<int64_t> indices;
    for (int64_t i = 0, n = scalar ? 1 : 1 + pick(rng) % 5; i < n; ++i) indices.push_back(pick(rng) % shape[axis]);
    const Tensor idx = scalar ? Tensor::of_ints(DType::int64, {}, indices) : ints(indices);
    const Tensor gathered = run_op("Gather", {{"axis", axis}}, {xt, idx});
    gather(shape, x.data(), axis, indices, scalar, y_shape, y);
    CHECK(y_shape == gathered.shape);
    CHECK(std::vector<int64_t>(y.begin(), y.end()) == gathered.ints);
  }
  // batch_broadcast: Expand of [1, 2, 3] to [4, 2, 3].
  const auto c = random_codes(rng, 6, -5, 5);
  Shape y_shape;
  std::vector<int32_t> y;
  batch_broadcast({1, 2, 3}, c.data(), 4, y_shape, y);
  const Tensor expanded =
      run_op("Expand", {}, {as_tensor(DType::int32, {1, 2, 3}, c), Tensor::of_ints(DType::int64, {3}, {4, 2, 3})});
  CHECK(y_shape == expanded.shape);
  CHECK(std::vector<int64_t>(y.begin(), y.end()) == expanded.ints);
  // Out-of-range requests are errors, not reads outside the input.
  CHECK_THROWS_AS(slice({4}, c.data(), {0}, {2}, {1}, {3}, y_shape, y), InputError);
  CHECK_THROWS_AS(gather({4}, c.data(), 0, {4}, false, y_shape, y), InputError);
}
