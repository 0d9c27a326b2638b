// Requantization: multiplier derivation against its stated relative error bound; the `single` flavour
// against exact __int128 arithmetic; every flavour against the real product within its documented bound;
// the `float` flavour against an ONNX Runtime-style scalar implementation (MLAS's magic-number rounding).

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "numerics/error_bounds.hpp"
#include "numerics/requant.hpp"
#include "support/int128_reference.hpp"

using namespace chipref;

TEST_CASE("Requant/multiplier error bound over 10^6 random scales in [2^-32, 2^16]", "[quant][requant]") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> log2_scale(-32.0, 16.0);
  std::vector<double> scales(1'000'000);
  for (double& s : scales) s = std::exp2(log2_scale(rng));
  scales.front() = std::ldexp(1.0, -32);
  scales.back() = std::ldexp(1.0, 16);
  for (int bits = kMinMultiplierBits; bits <= kMaxMultiplierBits; ++bits) {
    const double bound = std::ldexp(1.0, -bits);
    double worst = 0;
    long violations = 0, unnormalised = 0, wrong_direction = 0;
    for (double s : scales) {
      const FixedMultiplier m = derive_multiplier(s, bits);
      const double rel = std::fabs(m.value() - s) / s;
      worst = std::max(worst, rel);
      violations += rel > bound;
      unnormalised += m.multiplier < (int64_t{1} << (bits - 1)) || m.multiplier >= (int64_t{1} << bits);
      // left shifts exactly when the represented value is >= 1 (a scale just below 1 may round up to 1)
      wrong_direction += (m.shift > 0) != (m.value() >= 1.0);
    }
    INFO("bits " << bits << ": worst relative error " << worst << ", bound " << bound);
    CHECK(violations == 0);
    CHECK(unnormalised == 0);
    CHECK(wrong_direction == 0);
    CHECK(worst > 0.9 * bound);  // the stated bound is tight, not just safe
  }
}

TEST_CASE("Requant/multiplier derivation rejects what it cannot represent", "[quant][requant]") {
  CHECK(derive_multiplier(0.0, 31).multiplier == 0);
  CHECK(derive_multiplier(std::ldexp(1.0, -32), 31).shift == -31);
  CHECK_THROWS_WITH(derive_multiplier(std::ldexp(1.0, -33), 31), Catch::Contains("outside the supported range"));
  CHECK_THROWS_WITH(derive_multiplier(std::ldexp(1.0, 31), 31), Catch::Contains("outside the supported range"));
  CHECK_THROWS_WITH(derive_multiplier(-0.5, 31), Catch::Contains("finite value >= 0"));
  CHECK_THROWS_AS(derive_multiplier(NAN, 31), InputError);
  CHECK_THROWS_AS(derive_multiplier(INFINITY, 16), InputError);
  CHECK_THROWS_WITH(derive_multiplier(0.5, 7), Catch::Contains("expected 8..31 bits"));
  CHECK_THROWS_WITH(derive_multiplier(0.5, 32), Catch::Contains("expected 8..31 bits"));
  // TFLite: 1 - 2^-40 rounds up to a full power of two and renormalises.
  const FixedMultiplier m = derive_multiplier(1.0 - std::ldexp(1.0, -40), 31);
  CHECK(m.multiplier == (1 << 30));
  CHECK(m.shift == 1);
}

TEST_CASE("Requant/single flavour equals exact rounding of acc*M/2^(bits-shift)", "[quant][requant]") {
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> log2_scale(-32.0, 16.0);
  const auto out = IntFormat::int_bits(32);
  for (RoundingMode mode : kAllRoundingModes) {
    const Requantizer rq = Requantizer::make(RequantFlavour::single, mode, out, 0);
    long mismatches = 0;
    for (int i = 0; i < 400000; ++i) {
      const int bits = kMinMultiplierBits + static_cast<int>(rng() % 24);
      const RequantChannel ch = make_requant_channel(std::exp2(log2_scale(rng)), bits);
      const int32_t acc = static_cast<int32_t>(static_cast<int64_t>(static_cast<int32_t>(rng())) >> (rng() % 32));
      const __int128 product = static_cast<__int128>(acc) * ch.fixed.multiplier;
      const int right = bits - ch.fixed.shift;
      __int128 expected = right >= 0 ? testing::reference_round_div_pow2(product, right, mode)
                                     : product * (static_cast<__int128>(1) << -right);
      expected = expected > INT32_MAX ? INT32_MAX : (expected < INT32_MIN ? INT32_MIN : expected);
      mismatches += rq.apply(acc, ch) != static_cast<int64_t>(expected);
    }
    INFO("mode " << to_string(mode));
    CHECK(mismatches == 0);
  }
}

TEST_CASE("Requant/every flavour is within its documented bound of the real product", "[quant][requant]") {
  std::mt19937_64 rng(13);
  std::uniform_real_distribution<double> log2_scale(-32.0, 8.0);
  const auto out = IntFormat::int_bits(32);
  struct Config {
    RequantFlavour flavour;
    RoundingMode rounding;
  };
  std::vector<Config> configs = {{RequantFlavour::gemmlowp, RoundingMode::half_away},
                                 {RequantFlavour::float32, RoundingMode::half_even}};
  for (RoundingMode m : kAllRoundingModes) configs.push_back({RequantFlavour::single, m});
  for (const Config& c : configs) {
    const Requantizer rq = Requantizer::make(c.flavour, c.rounding, out, 0);
    long violations = 0;
    double worst_excess = -1e300;
    for (int i = 0; i < 300000; ++i) {
      const int bits = kMinMultiplierBits + static_cast<int>(rng() % 24);
      const double scale = std::exp2(log2_scale(rng));
      const RequantChannel ch = make_requant_channel(scale, bits);
      int32_t acc = static_cast<int32_t>(static_cast<int64_t>(static_cast<int32_t>(rng())) >> (rng() % 32));
      if (ch.fixed.shift > 0) acc >>= ch.fixed.shift;  // keep the gemmlowp left shift unsaturated
      const long double exact = static_cast<long double>(acc) * scale;
      if (std::fabs(exact) > 2.0e9L) continue;  // outside int32: the output saturation decides
      const double err = static_cast<double>(std::fabs(static_cast<long double>(rq.apply(acc, ch)) - exact));
      const double bound = requant_error_bound(c.flavour, c.rounding, acc, ch, scale);
      violations += err > bound;
      worst_excess = std::max(worst_excess, err - bound);
    }
    INFO(to_string(c.flavour) << "/" << to_string(c.rounding) << ": worst error − bound = " << worst_excess);
    CHECK(violations == 0);
  }
}

namespace {
// ONNX Runtime's scalar requantization (MlasRequantizeOutput, scalar path): float32 multiply, clamp to
// [qmin − zp, qmax − zp], round half to even with the 1.5·2^23 magic number, add zp.
int32_t ort_style_requantize(int32_t acc, float scale, int32_t qmin, int32_t qmax, int32_t zp) {
  float f = static_cast<float>(acc) * scale;
  f = std::max(f, static_cast<float>(qmin - zp));
  f = std::min(f, static_cast<float>(qmax - zp));
  const float shifted = f + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return bits - 0x4B400000 + zp;
}
}  // namespace

TEST_CASE("Requant/float flavour matches ONNX Runtime's scalar requantization", "[quant][requant]") {
  std::mt19937_64 rng(14);
  std::uniform_real_distribution<double> log2_scale(-24.0, 2.0);
  long mismatches = 0, ties = 0;
  for (bool is_signed : {true, false}) {
    const auto out = IntFormat::make(8, is_signed);
    for (int i = 0; i < 1'000'000; ++i) {
      const int32_t zp = static_cast<int32_t>(out.min() + static_cast<int64_t>(rng() % 256));
      const Requantizer rq = Requantizer::make(RequantFlavour::float32, RoundingMode::half_even, out, zp);
      // Every 4th case is an exact tie: scale 2^-k with an odd multiple of 2^(k-1) as the accumulator.
      RequantChannel ch;
      int32_t acc;
      if (i % 4 == 0) {
        const int k = 1 + static_cast<int>(rng() % 12);
        ch = make_requant_channel(std::ldexp(1.0, -k), 31);
        acc = static_cast<int32_t>((2 * static_cast<int64_t>(rng() % 512) - 511) * (int64_t{1} << (k - 1)));
        ++ties;
      } else {
        ch = make_requant_channel(std::exp2(log2_scale(rng)), 31);
        acc = static_cast<int32_t>(static_cast<int64_t>(static_cast<int32_t>(rng())) >> (rng() % 32));
      }
      mismatches += rq.apply(acc, ch) != ort_style_requantize(acc, ch.scale_f32, static_cast<int32_t>(out.min()),
                                                              static_cast<int32_t>(out.max()), zp);
    }
  }
  INFO(ties << " exact ties");
  CHECK(mismatches == 0);
}

TEST_CASE("Requant/zero point must lie in the output format", "[quant][requant]") {
  CHECK_THROWS_WITH(Requantizer::make(RequantFlavour::single, RoundingMode::half_even, IntFormat::uint_bits(8), -1),
                    Catch::Contains("zero point -1 is outside uint8 [0, 255]"));
  CHECK_NOTHROW(Requantizer::make(RequantFlavour::single, RoundingMode::half_even, IntFormat::int_bits(4), -8));
}

TEST_CASE("Requant/output saturation and zero point", "[quant][requant]") {
  const RequantChannel ch = make_requant_channel(0.5, 31);
  for (RequantFlavour f : kAllRequantFlavours) {
    const Requantizer rq = Requantizer::make(f, RoundingMode::half_even, IntFormat::int_bits(8), 10);
    INFO(to_string(f));
    CHECK(rq.apply(1000, ch) == 127);
    CHECK(rq.apply(-1000, ch) == -128);
    CHECK(rq.apply(40, ch) == 30);
    CHECK(rq.apply(INT32_MIN, ch) == -128);
    CHECK(rq.apply(INT32_MAX, ch) == 127);
  }
}

TEST_CASE("Requant/flavour names round-trip", "[quant][requant]") {
  for (RequantFlavour f : kAllRequantFlavours) CHECK(parse_requant_flavour(to_string(f)) == f);
  CHECK(to_string(RequantFlavour::float32) == "float");
  CHECK_THROWS_WITH(parse_requant_flavour("double"), Catch::Contains("gemmlowp, single, float"));
}

TEST_CASE("Requant/float flavour: a 24-bit multiplier carries every float32 scale exactly", "[quant][requant]") {
  // Every float32 in [2^-32, 2^31): all 2^23 significands at 3 exponents, and 10^6 random values across the range.
  auto round_trip = [](float scale) {
    const RequantChannel ch =
        requant_channel_of(derive_multiplier(scale, kFloat32MultiplierBits), RequantFlavour::float32);
    return std::memcmp(&ch.scale_f32, &scale, sizeof scale) == 0;
  };
  int64_t failures = 0;
  for (int exponent : {-32, 0, 30})
    for (uint32_t m = 0; m < (1u << 23); ++m)
      failures += !round_trip(std::ldexp(1.0f + static_cast<float>(m) / 8388608.0f, exponent));
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> log2_scale(-32.0, 31.0);
  for (int i = 0; i < 1000000; ++i) {
    const float s = static_cast<float>(std::exp2(log2_scale(rng)));
    if (s >= 0x1p-32f && s < 0x1p31f) failures += !round_trip(s);
  }
  CHECK(failures == 0);
  CHECK_THROWS_WITH(requant_channel_of(derive_multiplier(0.3, 31), RequantFlavour::float32),
                    Catch::Contains("24-bit multiplier"));
}

TEST_CASE("Requant/a stored pair is held to the range derive_multiplier gives, and every pair it gives passes",
          "[quant][requant]") {
  // What an IntGraph on disk may claim: the boundaries of the documented ranges (bits 8..31, a multiplier
  // in [2^(bits-1), 2^bits) or the zero pair, shift -31..31), each side of each.
  int64_t wrong = 0;
  const auto accepted = [](int32_t m, int shift, int bits, RequantFlavour f) {
    try {
      requant_channel_of(FixedMultiplier{m, shift, bits}, f);
      return true;
    } catch (const InputError&) {
      return false;
    }
  };
  for (RequantFlavour f : {RequantFlavour::gemmlowp, RequantFlavour::single}) {
    for (int bits = kMinMultiplierBits; bits <= kMaxMultiplierBits; ++bits) {
      const int32_t low = static_cast<int32_t>(int64_t{1} << (bits - 1)),
                    high = static_cast<int32_t>((int64_t{1} << bits) - 1);
      for (int shift : {kMinScaleExponent, 0, kMaxScaleExponent}) {
        wrong += !accepted(low, shift, bits, f) + !accepted(high, shift, bits, f);
        wrong += accepted(low - 1, shift, bits, f) + (bits < 31 && accepted(high + 1, shift, bits, f)) +
                 accepted(-low, shift, bits, f);
      }
      wrong += accepted(low, kMinScaleExponent - 1, bits, f) + accepted(low, kMaxScaleExponent + 1, bits, f);
      wrong += !accepted(0, 0, bits, f) + accepted(0, 5, bits, f);
    }
    wrong += accepted(1 << 6, 0, kMinMultiplierBits - 1, f) + accepted(1 << 30, 0, kMaxMultiplierBits + 1, f);
  }
  CHECK(wrong == 0);
  // Every pair quantize can write passes, at every width, across the whole scale range.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> log2_scale(-32.0, 31.0);
  int64_t refused = 0;
  for (int i = 0; i < 200000; ++i) {
    const double s = std::exp2(log2_scale(rng));
    const int bits = kMinMultiplierBits + i % (kMaxMultiplierBits - kMinMultiplierBits + 1);
    FixedMultiplier fixed;
    try {
      fixed = derive_multiplier(s, bits);
    } catch (const InputError&) {
      continue;  // just below 2^31, rounded up to it at this width: derive_multiplier refuses it itself
    }
    refused += !accepted(fixed.multiplier, fixed.shift, bits, RequantFlavour::single);
  }
  CHECK(refused == 0);
}
