// Block dot products against oracles that share no code with the kernel: element values from the spec's
// formula, products and sums in 128-bit integers at one common exponent, rounded into FP32 by the host
// (int128 → float is correctly rounded; the scaling by a power of two stays in the normal range), and the
// FP32 accumulation model as the host's own float additions in block order.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/block_dot.hpp"
#include "numerics/wide_accumulator.hpp"

using namespace chipref;

namespace {

// An element code's value × 2^-lsb as an integer, from the spec's definitions (no chipref decoding).
struct SpecElement {
  int64_t units;  // signed
  bool finite;
};
SpecElement spec_units(const BlockFormat& f, uint32_t code, int lsb) {
  if (f.element == BlockFormat::Element::integer) {
    const int n = f.int_bits;
    int64_t v = code & ((1u << n) - 1);
    if (v >= (int64_t{1} << (n - 1))) v -= int64_t{1} << n;
    return {v * (int64_t{1} << (-(n - 2) - lsb)), true};  // value v × 2^-(n-2)
  }
  const FloatFormat& fp = f.fp;
  const int M = fp.mantissa_bits, bias = fp.bias;
  const bool negative = (code >> (fp.bits() - 1)) & 1;
  const int e = static_cast<int>((code >> M) & ((1u << fp.exponent_bits) - 1));
  const int m = static_cast<int>(code & ((1u << M) - 1));
  const int top = (1 << fp.exponent_bits) - 1;
  if ((fp.specials == FloatSpecials::ieee && e == top) ||
      (fp.specials == FloatSpecials::nan_only && e == top && m == (1 << M) - 1))
    return {0, false};
  // subnormal: m × 2^(1 − bias − M); normal: (2^M + m) × 2^(e − bias − M)
  const int64_t significand = e == 0 ? m : (int64_t{1} << M) + m;
  const int exponent = (e == 0 ? 1 : e) - bias - M;
  const int64_t units = significand << (exponent - lsb);
  return {negative ? -units : units, true};
}

int lsb_of(const BlockFormat& f) {
  return f.element == BlockFormat::Element::floating ? 1 - f.fp.bias - f.fp.mantissa_bits : -(f.int_bits - 2);
}

struct Operand {
  std::vector<uint32_t> scales, codes;
};
Operand random_operand(std::mt19937_64& rng, const BlockFormat& f, int64_t length) {
  Operand o;
  for (int64_t i = 0; i < length; ++i) {
    uint32_t code;
    do code = static_cast<uint32_t>(rng() & ((1u << f.element_bits()) - 1));
    while (!spec_units(f, code, lsb_of(f)).finite);
    if (rng() % 8 == 0) code = 0;
    o.codes.push_back(code);
  }
  for (int64_t b = 0; b < (length + f.block_size - 1) / f.block_size; ++b)
    o.scales.push_back(static_cast<uint32_t>(127 - 8 + static_cast<int>(rng() % 17)));
  return o;
}
}  // namespace

TEST_CASE("exact block dot products equal 128-bit integer sums, and fp32 accumulation equals host float sums") {
  const char* const formats[] = {"mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3",
                                 "mxfp4_e2m1", "mxint8",     "bfp12",      "bfp16"};
  std::mt19937_64 rng(77);
  for (const char* na : formats) {
    for (const char* nb : formats) {
      const BlockFormat fa = parse_block_format(na, 32), fb = parse_block_format(nb, 32);
      INFO(na << " · " << nb);
      for (int trial = 0; trial < 60; ++trial) {
        const int64_t length = 1 + static_cast<int64_t>(rng() % 200);
        const Operand a = random_operand(rng, fa, length), b = random_operand(rng, fb, length);
        // Oracle: Σ over blocks of (Σ units_a × units_b) × 2^(lsb_a + lsb_b + Xa + Xb), all at exponent `base`.
        const int lsb_a = lsb_of(fa), lsb_b = lsb_of(fb), base = lsb_a + lsb_b - 16;
        __int128 exact = 0;
        float running = 0.0f;
        for (int64_t blk = 0; blk * 32 < length; ++blk) {
          __int128 block_sum = 0;
          for (int64_t i = blk * 32; i < std::min<int64_t>(length, blk * 32 + 32); ++i)
            block_sum += static_cast<__int128>(spec_units(fa, a.codes[static_cast<size_t>(i)], lsb_a).units) *
                         spec_units(fb, b.codes[static_cast<size_t>(i)], lsb_b).units;
          const int scales = static_cast<int>(a.scales[static_cast<size_t>(blk)]) - 127 +
                             static_cast<int>(b.scales[static_cast<size_t>(blk)]) - 127;
          exact += block_sum * (static_cast<__int128>(1) << (scales + 16));  // a multiply: block_sum may be negative
          running += std::ldexp(static_cast<float>(block_sum), lsb_a + lsb_b + scales);
        }
        const BlockVector va{&fa, a.scales.data(), a.codes.data()}, vb{&fb, b.scales.data(), b.codes.data()};
        const ExactValue got = block_dot(va, vb, length, BlockAccumulation::exact);
        // The exact value itself: the oracle's magnitude with its top bit at bit 63 of the significand, the
        // bits below the window only in the sticky bit.
        const bool negative = exact < 0;
        const auto magnitude = static_cast<unsigned __int128>(negative ? -exact : exact);
        if (magnitude == 0) {
          CHECK(got.significand == 0);
        } else {
          int width = 0;
          while (width < 128 && (magnitude >> width) != 0) ++width;
          const int drop = width - 64;
          const auto window = static_cast<uint64_t>(drop >= 0 ? magnitude >> drop : magnitude << -drop);
          const bool sticky = drop > 0 && (magnitude & ((static_cast<unsigned __int128>(1) << drop) - 1)) != 0;
          CHECK(got.negative == negative);
          CHECK(got.significand == window);
          CHECK(got.exponent == base + drop);
          CHECK(got.sticky == sticky);
        }
        const float host_exact = std::ldexp(static_cast<float>(exact), base);
        CHECK(round_to_float(kFp32, got, Rounding{}, Overflow::ieee) == float32_bits(host_exact));
        const ExactValue fp32 = block_dot(va, vb, length, BlockAccumulation::fp32);
        CHECK(round_to_float(kFp32, fp32, Rounding{}, Overflow::ieee) == float32_bits(running));
      }
    }
  }
}

TEST_CASE("block dot products: NaN scales and elements, infinities, mismatched blocks, the whole scale range") {
  const BlockFormat e5m2 = parse_block_format("mxfp8_e5m2");
  std::vector<uint32_t> ones(32, 0x3C), scales = {127};  // E5M2 1.0
  std::vector<uint32_t> other = ones;
  const BlockVector a{&e5m2, scales.data(), ones.data()};
  CHECK(to_double(block_dot(a, a, 32, BlockAccumulation::exact)) == 32);
  std::vector<uint32_t> nan_scale = {0xFF};
  CHECK(block_dot(a, BlockVector{&e5m2, nan_scale.data(), ones.data()}, 32, BlockAccumulation::exact).kind ==
        ExactValue::Kind::nan);
  other[5] = 0x7C;  // +inf
  CHECK(block_dot(a, BlockVector{&e5m2, scales.data(), other.data()}, 32, BlockAccumulation::fp32).kind ==
        ExactValue::Kind::infinity);
  other[6] = 0xFC;  // −inf beside +inf
  CHECK(block_dot(a, BlockVector{&e5m2, scales.data(), other.data()}, 32, BlockAccumulation::exact).kind ==
        ExactValue::Kind::nan);
  const BlockFormat bfp = parse_block_format("bfp16");
  CHECK_THROWS_WITH(block_dot(a, BlockVector{&bfp, scales.data(), ones.data()}, 32, BlockAccumulation::exact),
                    Catch::Contains("must line up"));
  // Scales at both ends of E8M0: 2^127 · 2^127 · 57344² and 2^-127 · 2^-127 · 2^-32 in one sum, exactly.
  std::vector<uint32_t> codes(64, 0), extreme = {254, 0};
  codes[0] = 0x7B, codes[32] = 0x01;  // 57344 and the smallest subnormal 2^-16
  const BlockVector x{&e5m2, extreme.data(), codes.data()};
  const ExactValue sum = block_dot(x, x, 64, BlockAccumulation::exact);
  CHECK(floor_log2(sum) == 254 + 31);  // 57344² = 49 × 2^26 = 1.53 × 2^31
  CHECK(sum.sticky);                   // 2^-286 is still in the register, 571 bits below the top
  codes[0] = 0;
  const ExactValue tiny = block_dot(x, x, 64, BlockAccumulation::exact);
  CHECK(floor_log2(tiny) == -254 - 32);
  CHECK(!tiny.sticky);
  CHECK(tiny.significand == uint64_t{1} << 63);
}
