// IntFormat: ranges, saturation and wrap-around, enumerated exhaustively for every width up to 16 bits
// against arithmetic written independently (mathematical modulo, powers from std::ldexp).

#include <catch2/catch.hpp>
#include <cmath>

#include "numerics/int_format.hpp"

using chipref::IntFormat;

TEST_CASE("IntFormat/ranges for every width", "[quant][int_format]") {
  for (int bits = 1; bits <= 32; ++bits) {
    const auto s = IntFormat::int_bits(bits);
    const auto u = IntFormat::uint_bits(bits);
    CHECK(static_cast<double>(s.min()) == -std::ldexp(1.0, bits - 1));
    CHECK(static_cast<double>(s.max()) == std::ldexp(1.0, bits - 1) - 1);
    CHECK(u.min() == 0);
    CHECK(static_cast<double>(u.max()) == std::ldexp(1.0, bits) - 1);
  }
  CHECK(IntFormat::int_bits(8).name() == "int8");
  CHECK(IntFormat::uint_bits(4).name() == "uint4");
}

TEST_CASE("IntFormat/invalid widths are errors", "[quant][int_format]") {
  for (int bits : {-1, 0, 33, 64}) {
    CHECK_THROWS_AS(IntFormat::make(bits, true), chipref::InputError);
    CHECK_THROWS_WITH(IntFormat::make(bits, false), Catch::Contains("expected 1..32 bits"));
  }
}

TEST_CASE("IntFormat/saturate and wrap, exhaustive for widths 1..16", "[quant][int_format]") {
  long mismatches = 0;
  for (int bits = 1; bits <= 16; ++bits) {
    for (bool is_signed : {true, false}) {
      const auto f = IntFormat::make(bits, is_signed);
      const int64_t modulus = int64_t{1} << bits;
      const int64_t lo = is_signed ? -modulus / 2 : 0, hi = lo + modulus - 1;
      for (int64_t v = -(int64_t{1} << 18); v <= (int64_t{1} << 18); ++v) {
        const int64_t expected_sat = v < lo ? lo : (v > hi ? hi : v);
        int64_t expected_wrap = ((v - lo) % modulus + modulus) % modulus + lo;  // the representative in [lo, hi]
        mismatches += f.saturate(v) != expected_sat;
        mismatches += f.wrap(v) != expected_wrap;
        mismatches += f.contains(v) != (v >= lo && v <= hi);
      }
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("IntFormat/wrap at int64 extremes", "[quant][int_format]") {
  const auto i32 = IntFormat::int_bits(32);
  CHECK(i32.wrap(INT64_MIN) == 0);
  CHECK(i32.wrap(INT64_MAX) == -1);
  CHECK(i32.wrap(int64_t{INT32_MAX} + 1) == INT32_MIN);
  CHECK(IntFormat::uint_bits(32).wrap(-1) == 4294967295LL);
  CHECK(i32.saturate(INT64_MIN) == INT32_MIN);
}
