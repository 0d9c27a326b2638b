// The gemmlowp flavour is bit-exact against gemmlowp itself (Debian's libgemmlowp-dev fixedpoint header,
// a test-only dependency): its two primitives on >= 10^7 random cases each plus every edge pair, and the
// full TFLite-style requantization composed from gemmlowp's functions on >= 10^7 random cases.

#include <gemmlowp/fixedpoint/fixedpoint.h>

#include <catch2/catch.hpp>
#include <random>
#include <vector>

#include "numerics/requant.hpp"

using namespace chipref;

namespace {
constexpr long kRandomCases = 10'000'000;

std::vector<int32_t> int32_edge_values() {
  std::vector<int32_t> v = {INT32_MIN, INT32_MIN + 1, INT32_MAX, INT32_MAX - 1, 0, 1, -1};
  for (int k = 0; k < 31; ++k)
    for (int64_t d = -2; d <= 2; ++d) {
      for (int64_t base : {int64_t{1} << k, -(int64_t{1} << k), (int64_t{3} << k) / 2, -((int64_t{3} << k) / 2)}) {
        const int64_t x = base + d;
        if (x >= INT32_MIN && x <= INT32_MAX) v.push_back(static_cast<int32_t>(x));
      }
    }
  return v;
}

// Random int32s of every magnitude: a uniform 32-bit pattern shifted right by a random amount.
int32_t random_int32(std::mt19937_64& rng) {
  return static_cast<int32_t>(static_cast<int64_t>(static_cast<int32_t>(rng())) >> (rng() % 32));
}

// TFLite's double-rounding MultiplyByQuantizedMultiplier, built from gemmlowp's functions. The left shift
// saturates to int32 (chipref's defined choice; TFLite overflows there).
int32_t gemmlowp_multiply_by_quantized_multiplier(int32_t x, int32_t q31, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const int64_t shifted = static_cast<int64_t>(x) * (int64_t{1} << left);
  const int32_t saturated =
      shifted > INT32_MAX ? INT32_MAX : (shifted < INT32_MIN ? INT32_MIN : static_cast<int32_t>(shifted));
  return gemmlowp::RoundingDivideByPOT(gemmlowp::SaturatingRoundingDoublingHighMul(saturated, q31), right);
}
}  // namespace

TEST_CASE("GemmlowpCrosscheck/SaturatingRoundingDoublingHighMul edge pairs", "[quant][gemmlowp]") {
  const auto edges = int32_edge_values();
  long mismatches = 0;
  for (int32_t a : edges)
    for (int32_t b : edges)
      mismatches += saturating_rounding_doubling_high_mul(a, b) != gemmlowp::SaturatingRoundingDoublingHighMul(a, b);
  CHECK(mismatches == 0);
  CHECK(saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX);
  CHECK(saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MAX) == -INT32_MAX);
}

TEST_CASE("GemmlowpCrosscheck/SaturatingRoundingDoublingHighMul 10^7 random", "[quant][gemmlowp]") {
  std::mt19937_64 rng(1);
  long mismatches = 0;
  for (long i = 0; i < kRandomCases; ++i) {
    const int32_t a = random_int32(rng), b = random_int32(rng);
    mismatches += saturating_rounding_doubling_high_mul(a, b) != gemmlowp::SaturatingRoundingDoublingHighMul(a, b);
  }
  CHECK(mismatches == 0);
}

TEST_CASE("GemmlowpCrosscheck/RoundingDivideByPOT every shift 0..31", "[quant][gemmlowp]") {
  std::vector<int32_t> xs = int32_edge_values();
  std::mt19937_64 rng(2);
  while (xs.size() < kRandomCases / 32) xs.push_back(random_int32(rng));
  long mismatches = 0;
  for (int e = 0; e <= 31; ++e)
    for (int32_t x : xs) mismatches += rounding_divide_by_pot(x, e) != gemmlowp::RoundingDivideByPOT(x, e);
  CHECK(mismatches == 0);
  // ties: gemmlowp rounds half away from zero, negative ties included
  CHECK(rounding_divide_by_pot(-3, 1) == -2);
  CHECK(rounding_divide_by_pot(3, 1) == 2);
  CHECK(rounding_divide_by_pot(-1, 1) == -1);
}

TEST_CASE("GemmlowpCrosscheck/requantization 10^7 random accumulators and scales", "[quant][gemmlowp]") {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> log2_scale(-32.0, 16.0);
  const auto int32_out = IntFormat::int_bits(32);
  const Requantizer rq = Requantizer::make(RequantFlavour::gemmlowp, RoundingMode::half_away, int32_out, 0);
  const auto edges = int32_edge_values();
  long mismatches = 0, cases = 0;
  for (long i = 0; i < kRandomCases / 8; ++i) {
    const RequantChannel ch = make_requant_channel(std::exp2(log2_scale(rng)), 31);
    for (int j = 0; j < 8; ++j, ++cases) {
      const int32_t acc = (j == 0) ? edges[rng() % edges.size()] : random_int32(rng);
      mismatches +=
          rq.scale_only(acc, ch) != gemmlowp_multiply_by_quantized_multiplier(acc, ch.fixed.multiplier, ch.fixed.shift);
    }
  }
  INFO(cases << " cases");
  CHECK(cases >= kRandomCases);
  CHECK(mismatches == 0);
}

TEST_CASE("GemmlowpCrosscheck/narrow multipliers are gemmlowp on the widened multiplier", "[quant][gemmlowp]") {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> log2_scale(-20.0, 8.0);
  const Requantizer rq =
      Requantizer::make(RequantFlavour::gemmlowp, RoundingMode::half_away, IntFormat::int_bits(32), 0);
  long mismatches = 0;
  for (int bits = kMinMultiplierBits; bits <= kMaxMultiplierBits; ++bits)
    for (int i = 0; i < 20000; ++i) {
      const RequantChannel ch = make_requant_channel(std::exp2(log2_scale(rng)), bits);
      const int32_t acc = random_int32(rng);
      const int32_t q31 = static_cast<int32_t>(static_cast<int64_t>(ch.fixed.multiplier) << (31 - bits));
      mismatches += rq.scale_only(acc, ch) != gemmlowp_multiply_by_quantized_multiplier(acc, q31, ch.fixed.shift);
    }
  CHECK(mismatches == 0);
}

TEST_CASE("GemmlowpCrosscheck/double rounding differs from single rounding (TFLite example)", "[quant][gemmlowp]") {
  // x = 245490, quantized multiplier 1918990705, shift -2: exact 54842.45; SRDHM gives 219370 (= 54842.5 · 4),
  // then RoundingDivideByPOT rounds the tie away: 54843. One half_up rounding of the exact value gives 54842.
  const RequantChannel ch{FixedMultiplier{1918990705, -2, 31}, 0.0f};
  const auto out = IntFormat::int_bits(32);
  CHECK(gemmlowp::SaturatingRoundingDoublingHighMul(245490, 1918990705) == 219370);
  CHECK(Requantizer::make(RequantFlavour::gemmlowp, RoundingMode::half_away, out, 0).scale_only(245490, ch) == 54843);
  CHECK(Requantizer::make(RequantFlavour::single, RoundingMode::half_up, out, 0).scale_only(245490, ch) == 54842);
}
