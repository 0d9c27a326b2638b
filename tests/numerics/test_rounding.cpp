// Rounding right shifts: every mode, exhaustively over all 16-bit inputs (signed and unsigned) and every
// shift 0..62, plus int64 edge values and seeded random int64s, against the __int128 reference.

#include <catch2/catch.hpp>
#include <random>
#include <vector>

#include "numerics/rounding.hpp"
#include "support/int128_reference.hpp"

using chipref::rounding_shift_right;
using chipref::RoundingMode;
using chipref::testing::reference_round_div_pow2;

TEST_CASE("Rounding/exhaustive over all 16-bit inputs and shifts 0..62", "[quant][rounding]") {
  for (RoundingMode mode : chipref::kAllRoundingModes) {
    long mismatches = 0, checked = 0;
    for (int shift = 0; shift <= 62; ++shift)
      for (int64_t x = -32768; x <= 65535; ++x, ++checked)
        mismatches += rounding_shift_right(x, shift, mode) != reference_round_div_pow2(x, shift, mode);
    INFO("mode " << chipref::to_string(mode) << ", " << checked << " cases");
    CHECK(mismatches == 0);
  }
}

static std::vector<int64_t> int64_edge_values() {
  std::vector<int64_t> v = {INT64_MIN, INT64_MIN + 1, INT64_MIN + 2, INT64_MAX, INT64_MAX - 1, 0, 1, -1};
  for (int k = 0; k < 63; ++k)
    for (int64_t d = -2; d <= 2; ++d) {
      v.push_back((int64_t{1} << k) + d);
      v.push_back(-(int64_t{1} << k) + d);
      const int64_t one_and_a_half = (int64_t{1} << k) + ((int64_t{1} << k) >> 1);  // ties and neighbours
      v.push_back(one_and_a_half + d);
      v.push_back(-one_and_a_half + d);
    }
  return v;
}

TEST_CASE("Rounding/int64 edges and random int64 for every shift", "[quant][rounding]") {
  std::vector<int64_t> inputs = int64_edge_values();
  std::mt19937_64 rng(20261125);
  for (int i = 0; i < 200000; ++i) inputs.push_back(static_cast<int64_t>(rng()) >> (rng() % 63));
  for (RoundingMode mode : chipref::kAllRoundingModes) {
    long mismatches = 0;
    for (int shift = 0; shift <= 62; ++shift)
      for (int64_t x : inputs)
        mismatches += rounding_shift_right(x, shift, mode) != reference_round_div_pow2(x, shift, mode);
    INFO("mode " << chipref::to_string(mode));
    CHECK(mismatches == 0);
  }
}

TEST_CASE("Rounding/negative ties, worked examples of docs/numerics.md", "[quant][rounding]") {
  // x / 2 for x = -5, -3, -1, 1, 3, 5 i.e. -2.5, -1.5, -0.5, 0.5, 1.5, 2.5: the table in docs/numerics.md §2.
  struct Row {
    RoundingMode mode;
    std::vector<int64_t> expected;
  };
  const std::vector<int64_t> xs = {-5, -3, -1, 1, 3, 5};
  const Row rows[] = {{RoundingMode::half_even, {-2, -2, 0, 0, 2, 2}},
                      {RoundingMode::half_away, {-3, -2, -1, 1, 2, 3}},
                      {RoundingMode::half_up, {-2, -1, 0, 1, 2, 3}},
                      {RoundingMode::floor, {-3, -2, -1, 0, 1, 2}},
                      {RoundingMode::toward_zero, {-2, -1, 0, 0, 1, 2}}};
  for (const Row& row : rows)
    for (size_t i = 0; i < xs.size(); ++i) {
      INFO(chipref::to_string(row.mode) << " of " << xs[i] << "/2");
      CHECK(rounding_shift_right(xs[i], 1, row.mode) == row.expected[i]);
      CHECK(chipref::round_to_integer(xs[i] / 2.0, row.mode) == static_cast<double>(row.expected[i]));
    }
}

TEST_CASE("Rounding/round_to_integer on doubles agrees with the reference", "[quant][rounding]") {
  // n / 2^s is exact in double for |n| < 2^53, so the integer reference is exact for these.
  long mismatches = 0;
  for (RoundingMode mode : chipref::kAllRoundingModes)
    for (int s = 0; s <= 4; ++s)
      for (int64_t n = -5000; n <= 5000; ++n)
        mismatches += chipref::round_to_integer(std::ldexp(static_cast<double>(n), -s), mode) !=
                      static_cast<double>(reference_round_div_pow2(n, s, mode));
  std::mt19937_64 rng(7);
  for (RoundingMode mode : chipref::kAllRoundingModes)
    for (int i = 0; i < 100000; ++i) {
      const int64_t n = static_cast<int64_t>(rng()) >> 12;  // |n| < 2^51
      const int s = static_cast<int>(rng() % 40);
      mismatches += chipref::round_to_integer(std::ldexp(static_cast<double>(n), -s), mode) !=
                    static_cast<double>(reference_round_div_pow2(n, s, mode));
    }
  CHECK(mismatches == 0);
}

TEST_CASE("Rounding/mode names round-trip and unknown names list the choices", "[quant][rounding]") {
  for (RoundingMode mode : chipref::kAllRoundingModes)
    CHECK(chipref::parse_rounding_mode(chipref::to_string(mode)) == mode);
  CHECK_THROWS_WITH(
      chipref::parse_rounding_mode("nearest"),
      Catch::Contains("'nearest'") && Catch::Contains("half_even, half_away, half_up, floor, toward_zero"));
}

TEST_CASE("Rounding/rounding_divide: exhaustive small numerators and divisors, and int64 extremes",
          "[quant][rounding]") {
  int64_t failures = 0;
  for (RoundingMode mode : {RoundingMode::half_even, RoundingMode::half_away, RoundingMode::half_up,
                            RoundingMode::floor, RoundingMode::toward_zero}) {
    for (int64_t b = 1; b <= 130; ++b)
      for (int64_t a = -4000; a <= 4000; ++a)
        failures +=
            rounding_divide(a, b, mode) != static_cast<int64_t>(chipref::testing::reference_round_div(a, b, mode));
    for (int64_t a : {INT64_MIN, INT64_MIN + 1, int64_t{-1}, INT64_MAX - 1, INT64_MAX})
      for (int64_t b : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{1} << 31, INT64_MAX - 1, INT64_MAX})
        failures +=
            rounding_divide(a, b, mode) != static_cast<int64_t>(chipref::testing::reference_round_div(a, b, mode));
  }
  CHECK(failures == 0);
  CHECK(rounding_divide(5, 2, RoundingMode::half_even) == 2);  // ties to even
  CHECK(rounding_divide(-5, 2, RoundingMode::half_away) == -3);
}

TEST_CASE("Rounding/RoundingDivider equals the 128-bit reference: small, random, near 2^52 and extremes",
          "[quant][rounding]") {
  // The reciprocal's estimate is corrected by the remainder; the cases where a double estimate is most
  // likely off (quotients just below an integer, numerators at the edge of double's exact integers,
  // divisors that are not powers of two) are all here, and every mode.
  std::mt19937_64 rng(52);
  std::vector<std::pair<int64_t, int64_t>> cases;  // (a, b)
  for (int64_t b = 1; b <= 70; ++b)
    for (int64_t a = -1500; a <= 1500; ++a) cases.emplace_back(a, b);
  const int64_t edge = int64_t{1} << 52;
  for (int i = 0; i < 20000; ++i) {
    const int64_t b = 1 + static_cast<int64_t>(rng() >> (1 + rng() % 63));
    const int64_t q = static_cast<int64_t>(rng() >> (33 + rng() % 31)) * (rng() % 2 ? 1 : -1);  // |q·b| < 2^51
    const int64_t a = q * (b < (int64_t{1} << 20) ? b : 1) + static_cast<int64_t>(rng() % 5) - 2;
    cases.emplace_back(a, b);
    cases.emplace_back(static_cast<int64_t>(rng() >> 1) * (rng() % 2 ? 1 : -1), b);
  }
  for (int i = 0; i < 20000; ++i) {  // just off a multiple of b, where an estimate may cross the integer
    const int64_t b = 3 + static_cast<int64_t>(rng() % (int64_t{1} << (2 + rng() % 30)));
    const int64_t k = (edge - 1) / b - static_cast<int64_t>(rng() % std::max<int64_t>(1, (edge - 1) / b / 2));
    for (int64_t d : {-1, 1}) cases.emplace_back(k * b + d, b), cases.emplace_back(-(k * b + d), b);
  }
  for (int64_t a : {edge - 1, edge, edge + 1, -edge + 1, -edge, -edge - 1, INT64_MIN, INT64_MIN + 1, INT64_MAX})
    for (int64_t b : {int64_t{1}, int64_t{3}, int64_t{7}, edge - 1, edge, edge + 1, INT64_MAX})
      cases.emplace_back(a, b);
  int64_t failures = 0;
  for (RoundingMode mode : chipref::kAllRoundingModes)
    for (const auto& [a, b] : cases)
      failures += chipref::RoundingDivider(b).divide(a, mode) !=
                  static_cast<int64_t>(chipref::testing::reference_round_div(a, b, mode));
  CHECK(failures == 0);
  CHECK(cases.size() > 200000);
}
