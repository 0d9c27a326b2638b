// FP8/FP6/FP4 codes and the one rounding procedure, against oracles that share no code with them: the
// OCP spec's value tables (every code of every format, the named extremes), the host's IEEE binary32
// conversions (double → float in three rounding modes, and float addition), and exhaustive enumeration.

#include <catch2/catch.hpp>

#include <cfenv>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "numerics/minifloat.hpp"
#include "numerics/wide_accumulator.hpp"
#include "support/spec_float.hpp"

using namespace chipref;

namespace {

ExactValue exact_of_double(double d) {
  ExactValue v;
  v.negative = std::signbit(d);
  int e = 0;
  const double f = std::frexp(std::fabs(d), &e);  // |d| = f × 2^e, f in [0.5, 1)
  v.significand = static_cast<uint64_t>(std::ldexp(f, 53));
  v.exponent = e - 53;
  return v;
}

const FloatFormat* const kSmall[] = {&kFp8E4M3, &kFp8E5M2, &kFp6E3M2, &kFp6E2M3, &kFp4E2M1};
}  // namespace

TEST_CASE("every FP8, FP6 and FP4 code decodes to the spec's value") {
  for (const FloatFormat* f : kSmall) {
    INFO(f->name);
    for (uint32_t code = 0; code < (1u << f->bits()); ++code) {
      INFO("code " << code);
      const double expected = static_cast<double>(testing::spec_float_value(*f, code));
      const double got = to_double(decode(*f, code));
      if (std::isnan(expected))
        CHECK(std::isnan(got));
      else
        CHECK(got == expected);
    }
  }
}

TEST_CASE("the spec's named values: largest normal, smallest normal and subnormal, NaN and infinity codes") {
  const auto value = [](const FloatFormat& f, uint32_t code) { return to_double(decode(f, code)); };
  // OCP FP8 spec, table 1; OCP MX v1.0 tables 4-6.
  CHECK(value(kFp8E4M3, kFp8E4M3.max_finite_code()) == 448);
  CHECK(value(kFp8E5M2, kFp8E5M2.max_finite_code()) == 57344);
  CHECK(value(kFp6E3M2, kFp6E3M2.max_finite_code()) == 28);
  CHECK(value(kFp6E2M3, kFp6E2M3.max_finite_code()) == 7.5);
  CHECK(value(kFp4E2M1, kFp4E2M1.max_finite_code()) == 6);
  CHECK(value(kFp8E4M3, 0x01) == std::ldexp(1, -9));
  CHECK(value(kFp8E5M2, 0x01) == std::ldexp(1, -16));
  CHECK(value(kFp8E4M3, 0x08) == std::ldexp(1, -6));
  CHECK(value(kFp8E5M2, 0x04) == std::ldexp(1, -14));
  CHECK(value(kFp6E3M2, 0x01) == 0.0625);
  CHECK(value(kFp6E2M3, 0x01) == 0.125);
  CHECK(value(kFp4E2M1, 0x01) == 0.5);
  // FP4 E2M1's eight magnitudes.
  const double fp4[] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  for (uint32_t c = 0; c < 8; ++c) CHECK(value(kFp4E2M1, c) == fp4[c]);
  // E4M3: exactly two NaNs (0x7F, 0xFF), no infinity; E5M2: ±inf at 0x7C/0xFC and six NaNs.
  int e4m3_nans = 0, e5m2_nans = 0, e5m2_infinities = 0;
  for (uint32_t c = 0; c < 256; ++c) {
    const ExactValue a = decode(kFp8E4M3, c), b = decode(kFp8E5M2, c);
    e4m3_nans += a.kind == ExactValue::Kind::nan;
    CHECK(a.kind != ExactValue::Kind::infinity);
    e5m2_nans += b.kind == ExactValue::Kind::nan;
    e5m2_infinities += b.kind == ExactValue::Kind::infinity;
  }
  CHECK(e4m3_nans == 2);
  CHECK(decode(kFp8E4M3, 0x7F).kind == ExactValue::Kind::nan);
  CHECK(e5m2_nans == 6);
  CHECK(e5m2_infinities == 2);
  CHECK(decode(kFp8E5M2, 0x7C).kind == ExactValue::Kind::infinity);
  for (const FloatFormat* f : {&kFp6E3M2, &kFp6E2M3, &kFp4E2M1})
    for (uint32_t c = 0; c < (1u << f->bits()); ++c) CHECK(decode(*f, c).kind == ExactValue::Kind::finite);
}

TEST_CASE("rounding into FP32 equals the host's double-to-float conversion in its three directed modes") {
  std::mt19937_64 rng(11);
  const struct {
    int host;
    RoundingMode mode;
  } modes[] = {{FE_TONEAREST, RoundingMode::half_even},
               {FE_TOWARDZERO, RoundingMode::toward_zero},
               {FE_DOWNWARD, RoundingMode::floor}};
  for (const auto& m : modes) {
    INFO(to_string(m.mode));
    const int saved = std::fegetround();
    for (int i = 0; i < 200000; ++i) {
      // Random doubles across FP32's whole range: normals, subnormals, overflow; ties every 4th.
      uint64_t bits = rng();
      const int exponent = static_cast<int>(rng() % 330) - 165 + 1023;  // 2^-165 .. 2^165
      bits = (bits & 0x800FFFFFFFFFFFFFULL) | (uint64_t(exponent) << 52);
      if (i % 4 == 0) bits &= ~((uint64_t{1} << 28) - 1), bits |= uint64_t{1} << 28;  // exactly half an FP32 ulp
      double d;
      std::memcpy(&d, &bits, 8);
      std::fesetround(m.host);
      const volatile double source = d;
      const volatile float host = static_cast<float>(source);
      std::fesetround(saved);
      INFO("double " << d);
      CHECK(round_to_float(kFp32, exact_of_double(d), Rounding{m.mode, false}, Overflow::ieee) == float32_bits(host));
    }
  }
}

TEST_CASE("FP32 decodes as the host reads its bits") {
  std::mt19937 rng(5);
  for (int i = 0; i < 100000; ++i) {
    const uint32_t bits = i < 256 ? (uint32_t(i) << 23) | (rng() & 0x807FFFFF) : rng();
    const float host = float32_from_bits(bits);
    const double got = to_double(decode(kFp32, bits));
    if (std::isnan(host))
      CHECK(std::isnan(got));
    else
      CHECK(got == static_cast<double>(host));
  }
}

TEST_CASE("rounding into a small format: every representable value and every midpoint, in every mode") {
  // Exhaustive per format: each pair of neighbouring finite magnitudes, the midpoint and a quarter point,
  // both signs. The expected neighbour is decided from the values alone.
  for (const FloatFormat* f : kSmall) {
    INFO(f->name);
    std::map<double, uint32_t> magnitudes;  // value → positive code
    for (uint32_t c = 0; c < (1u << (f->bits() - 1)); ++c) {
      const ExactValue v = decode(*f, c);
      if (v.kind == ExactValue::Kind::finite) magnitudes[to_double(v)] = c;
    }
    std::vector<std::pair<double, uint32_t>> sorted(magnitudes.begin(), magnitudes.end());
    for (size_t i = 0; i + 1 < sorted.size(); ++i) {
      const auto [lo, lo_code] = sorted[i];
      const auto [hi, hi_code] = sorted[i + 1];
      for (const double t : {0.0, 0.25, 0.5, 0.75}) {
        const double x = lo + (hi - lo) * t;
        for (const bool negative : {false, true}) {
          for (const RoundingMode mode : kAllRoundingModes) {
            INFO(to_string(mode) << " " << (negative ? -x : x));
            bool up = false;  // toward hi in magnitude
            if (t != 0) {
              switch (mode) {
                case RoundingMode::toward_zero:
                  up = false;
                  break;
                case RoundingMode::floor:
                  up = negative;
                  break;
                case RoundingMode::half_away:
                  up = t >= 0.5;
                  break;
                case RoundingMode::half_up:
                  up = negative ? t > 0.5 : t >= 0.5;
                  break;
                case RoundingMode::half_even:
                  up = t > 0.5 || (t == 0.5 && (hi_code & 1) == 0);
                  break;
              }
            }
            const uint32_t sign = negative ? f->sign_bit() : 0;
            const uint32_t expected = sign | (up ? hi_code : lo_code);
            ExactValue v = exact_of_double(negative ? -x : x);
            if (x == 0) v = ExactValue{}, v.negative = negative;
            CHECK(round_to_float(*f, v, Rounding{mode, false}, Overflow::saturate) == expected);
          }
        }
      }
    }
    // Beyond the largest finite value: saturate, or NaN for E4M3's non-saturating mode.
    const double largest = sorted.back().first;
    CHECK(round_to_float(*f, exact_of_double(largest * 4), Rounding{}, Overflow::saturate) == f->max_finite_code());
    CHECK(round_to_float(*f, exact_of_double(-largest * 4), Rounding{}, Overflow::saturate) ==
          (f->sign_bit() | f->max_finite_code()));
    if (f->specials == FloatSpecials::ieee)
      CHECK(round_to_float(*f, exact_of_double(largest * 4), Rounding{}, Overflow::ieee) == f->infinity_code());
    if (f->specials != FloatSpecials::none)
      CHECK(decode(*f, round_to_float(*f, exact_of_double(largest * 4), Rounding{}, Overflow::nan)).kind ==
            ExactValue::Kind::nan);
  }
  // E4M3: 464 is the tie between 448 and 480 (the NaN pattern's value): half even keeps 448, half away overflows.
  CHECK(to_double(decode(kFp8E4M3, round_to_float(kFp8E4M3, exact_of_double(464), Rounding{}, Overflow::nan))) == 448);
  CHECK(decode(kFp8E4M3,
               round_to_float(kFp8E4M3, exact_of_double(464), Rounding{RoundingMode::half_away, false}, Overflow::nan))
            .kind == ExactValue::Kind::nan);
}

TEST_CASE("stochastic rounding picks one of the two neighbours, is unbiased, and is a function of its word") {
  const ExactValue x = exact_of_double(1.0 + 0.3 * 0.125);  // between E4M3's 1.0 and 1.125, 30 % of the way
  int up = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const uint32_t word = stochastic_word(42, static_cast<uint64_t>(i));
    const uint32_t code =
        round_to_float(kFp8E4M3, x, Rounding{RoundingMode::half_even, true}, Overflow::saturate, word);
    REQUIRE((code == 0x38 || code == 0x39));
    up += code == 0x39;
    CHECK(code == round_to_float(kFp8E4M3, x, Rounding{RoundingMode::half_even, true}, Overflow::saturate, word));
  }
  // Binomial(n, 0.3): 5 standard deviations is 0.5 % of n.
  CHECK(std::abs(up - 0.3 * n) < 5 * std::sqrt(n * 0.3 * 0.7));
  // A representable value never moves.
  for (int i = 0; i < 1000; ++i)
    CHECK(round_to_float(kFp8E4M3, exact_of_double(1.125), Rounding{RoundingMode::half_even, true}, Overflow::saturate,
                         stochastic_word(7, static_cast<uint64_t>(i))) == 0x39);
  CHECK(stochastic_word(1, 2) != stochastic_word(2, 1));
}

TEST_CASE("the wide accumulator sums exactly: against 128-bit integers, and across its whole range") {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 2000; ++trial) {
    WideAccumulator acc;
    __int128 oracle = 0;  // in units of 2^-40
    const int terms = 1 + static_cast<int>(rng() % 64);
    for (int i = 0; i < terms; ++i) {
      const uint64_t magnitude = rng() >> (rng() % 64);
      const int exponent = static_cast<int>(rng() % 40) - 40;
      const bool negative = rng() & 1;
      acc.add(negative, (magnitude >> 24), exponent);
      const __int128 term = static_cast<__int128>(magnitude >> 24) << (exponent + 40);
      oracle += negative ? -term : term;
    }
    // The oracle's value rounded into FP32 by the host (exact int128 → float rounding, then a power-of-two
    // scaling that stays normal) against the accumulator rounded by chipref.
    const float host = std::ldexp(static_cast<float>(oracle), -40);
    CHECK(round_to_float(kFp32, acc.value(), Rounding{}, Overflow::ieee) == float32_bits(host));
    if (oracle == 0) CHECK(acc.is_zero());
  }
  // 2^300 + 2^-300 − 2^300 leaves 2^-300 exactly; the sticky bit carries what the window drops.
  WideAccumulator acc;
  acc.add(false, 1, 300);
  acc.add(false, 3, -300);
  acc.add(true, 1, 300);
  const ExactValue v = acc.value();
  CHECK(!v.negative);
  CHECK(floor_log2(v) == -299);
  CHECK(!v.sticky);
  acc.add(false, 1, 200);
  CHECK(acc.value().sticky);
  CHECK(floor_log2(acc.value()) == 200);
  WideAccumulator negative;
  negative.add(true, 5, -10);
  CHECK(negative.value().negative);
  CHECK(to_double(negative.value()) == -5.0 / 1024);
  CHECK_THROWS_AS(negative.add(false, 1, 400), std::out_of_range);
  CHECK_THROWS_AS(negative.add(false, 1, -400), std::out_of_range);
}

TEST_CASE("format names") {
  CHECK(parse_float_format("fp8_e5m2").mantissa_bits == 2);
  CHECK_THROWS_WITH(parse_float_format("fp7"), Catch::Contains("fp8_e4m3, fp8_e5m2"));
}

TEST_CASE("round_quotient divides exact values by a scale and rounds as exact rationals do, in every mode") {
  // Oracle: |v| / d = N / D with N, D 128-bit integers (v = n × 2^e, d = b × 2^f), q = N / D and the
  // remainder compared with D / 2; the sign applied per mode.
  std::mt19937_64 rng(21);
  const auto oracle = [](bool negative, unsigned __int128 N, unsigned __int128 D, RoundingMode mode) {
    const unsigned __int128 q = N / D, r = N % D;
    bool up = false;
    switch (mode) {
      case RoundingMode::toward_zero:
        up = false;
        break;
      case RoundingMode::floor:
        up = negative && r != 0;
        break;
      case RoundingMode::half_away:
        up = 2 * r >= D;
        break;
      case RoundingMode::half_up:
        up = negative ? 2 * r > D : 2 * r >= D;
        break;
      case RoundingMode::half_even:
        up = 2 * r > D || (2 * r == D && (q & 1));
        break;
    }
    const auto m = static_cast<int64_t>(q + up);
    return negative ? -m : m;
  };
  for (int i = 0; i < 200000; ++i) {
    // v: a sum of two terms up to 100 bits apart (so the value is often wider than 64 bits: sticky)
    const int e_lo = -60 + static_cast<int>(rng() % 20);
    const int spread = static_cast<int>(rng() % 100);
    const uint64_t big = rng() >> (rng() % 60), small = rng() >> (rng() % 64);
    unsigned __int128 N = (static_cast<unsigned __int128>(big >> 40) << spread) + (small >> 40);
    if (i % 7 == 0) N = static_cast<unsigned __int128>(rng() % 1000);  // small values, frequent ties
    WideAccumulator acc;
    const bool negative = rng() & 1;
    acc.add(negative, N, e_lo);
    // d: a float32-like scale b × 2^f, b < 2^24
    const uint64_t b = 1 + ((rng() & 0xFFFFFF) >> (rng() % 24));
    const int f = e_lo + static_cast<int>(rng() % 30) - 5;
    ExactValue d;
    d.significand = b, d.exponent = f;
    // |v| / d = N × 2^(e_lo − f) / b
    unsigned __int128 num = N, den = b;
    if (e_lo >= f)
      num <<= (e_lo - f);
    else
      den <<= (f - e_lo);
    if (num >> 120) continue;  // beyond the oracle's width
    const ExactValue v = acc.value();
    for (const RoundingMode mode : kAllRoundingModes) {
      const unsigned __int128 quanta = e_lo >= f ? num : N >> (f - e_lo);  // |v| / 2^f
      // documented: |v| / 2^f >= 2^63 (so |v / d| >= 2^39) returns ±2^62, and magnitudes clamp to 2^62
      if ((quanta >> 63) || num / den >= (static_cast<unsigned __int128>(1) << 62) - 1) {
        REQUIRE(round_quotient(v, d, mode) == (negative ? -1 : 1) * (int64_t{1} << 62));
        continue;
      }
      const int64_t expected = N == 0 ? 0 : oracle(negative, num, den, mode);
      INFO(to_string(mode) << " N=" << static_cast<double>(N) << " e=" << e_lo << " b=" << b << " f=" << f);
      REQUIRE(round_quotient(v, d, mode) == expected);
    }
  }
}
