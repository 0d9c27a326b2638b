// Accumulators: every policy enumerated exhaustively for an 8-bit accumulator against modular and clamped
// arithmetic written independently, and the int64 extremes at 48 bits.

#include <catch2/catch.hpp>

#include "numerics/accumulator.hpp"

using namespace chipref;

TEST_CASE("Accumulator/8-bit, every policy, exhaustive", "[quant][accumulator]") {
  for (OverflowPolicy policy : kAllOverflowPolicies) {
    const AccumulatorSpec spec = AccumulatorSpec::make(8, policy);
    long mismatches = 0, expected_events = 0;
    OverflowCounter counter;
    for (int64_t acc = -128; acc <= 127; ++acc)
      for (int64_t term = -700; term <= 700; ++term) {
        const int64_t exact = acc + term;
        const bool overflows = exact < -128 || exact > 127;
        expected_events += overflows;
        if (policy == OverflowPolicy::error) {
          if (overflows) {
            bool thrown = false;
            try {
              spec.add(acc, term, counter);
            } catch (const AccumulatorOverflow&) {
              thrown = true;
            }
            mismatches += !thrown;
          } else {
            mismatches += spec.add(acc, term, counter) != exact;
          }
          continue;
        }
        const int64_t expected = policy == OverflowPolicy::wrap
                                     ? static_cast<int64_t>(static_cast<int8_t>(static_cast<uint8_t>(exact & 0xFF)))
                                     : (exact < -128 ? -128 : (exact > 127 ? 127 : exact));
        mismatches += spec.add(acc, term, counter) != expected;
      }
    INFO("policy " << to_string(policy));
    CHECK(mismatches == 0);
    CHECK(counter.events == static_cast<uint64_t>(expected_events));
  }
}

TEST_CASE("Accumulator/48-bit with int64-extreme terms", "[quant][accumulator]") {
  const int64_t max48 = (int64_t{1} << 47) - 1, min48 = -(int64_t{1} << 47);
  OverflowCounter counter;
  const auto sat = AccumulatorSpec::make(48, OverflowPolicy::saturate);
  CHECK(sat.add(max48, INT64_MAX, counter) == max48);
  CHECK(sat.add(min48, INT64_MIN, counter) == min48);
  CHECK(sat.add(1, INT64_MAX, counter) == max48);  // int64 itself overflows here
  CHECK(sat.add(max48, -1, counter) == max48 - 1);
  const auto wrap = AccumulatorSpec::make(48, OverflowPolicy::wrap);
  CHECK(wrap.add(max48, 1, counter) == min48);
  CHECK(wrap.add(1, INT64_MAX, counter) == 0);  // the exact sum 2^63 is 0 mod 2^48
  CHECK(counter.events == 5);                   // three saturations and two wraps; max48 - 1 is in range
  const auto err = AccumulatorSpec::make(48, OverflowPolicy::error);
  CHECK_THROWS_WITH(err.add(max48, 1, counter), Catch::Contains("int48 accumulator overflow"));
}

TEST_CASE("Accumulator/widths and policy names", "[quant][accumulator]") {
  CHECK_THROWS_WITH(AccumulatorSpec::make(7, OverflowPolicy::wrap), Catch::Contains("expected 8..48 bits"));
  CHECK_THROWS_AS(AccumulatorSpec::make(49, OverflowPolicy::wrap), InputError);
  for (OverflowPolicy p : kAllOverflowPolicies) CHECK(parse_overflow_policy(to_string(p)) == p);
  CHECK_THROWS_WITH(parse_overflow_policy("clip"), Catch::Contains("wrap, saturate, error"));
}
