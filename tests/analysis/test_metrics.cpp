// The per-layer figures of analysis/metrics.hpp against definitions that do not share their code:
// signed_bits against "the narrowest IntFormat that holds both ends", every range of 1..10 bits; SQNR
// against its closed form; max_abs_offset against a walk over every code of the format.

#include <catch2/catch.hpp>
#include <cmath>

#include "analysis/metrics.hpp"

using namespace chipref;

TEST_CASE("Analysis/signed_bits is the narrowest signed format holding the range", "[analysis]") {
  int64_t wrong = 0, ranges = 0;
  for (int64_t lo = -512; lo <= 511; lo += 3)
    for (int64_t hi = lo; hi <= 511; hi += 5) {
      int want = 1;
      while (!(IntFormat::int_bits(want).contains(lo) && IntFormat::int_bits(want).contains(hi))) ++want;
      wrong += signed_bits(lo, hi) != want, ++ranges;
    }
  CHECK(ranges > 30000);
  CHECK(wrong == 0);
  CHECK(signed_bits(0, 0) == 1);
  CHECK(signed_bits(-1, 0) == 1);
  CHECK(signed_bits(INT64_MIN, INT64_MAX) == 64);
  CHECK(signed_bits(0, (int64_t{1} << 62)) == 64);
}

TEST_CASE("Analysis/SQNR is 10·log10(Σ ref² / Σ error²), infinite without error", "[analysis]") {
  SqnrSum s;
  s.add(3.0, 3.0);
  CHECK(std::isinf(s.db()));
  s.add(4.0, 3.0);  // signal 9 + 16 = 25, noise 1
  CHECK(s.db() == Approx(10.0 * std::log10(25.0)));
}

TEST_CASE("Analysis/max_abs_offset is the largest |code − zero point| of the format", "[analysis]") {
  for (const IntFormat f : {IntFormat::int_bits(4), IntFormat::uint_bits(8), IntFormat::int_bits(8)})
    for (int64_t zp = f.min(); zp <= f.max(); ++zp) {
      int64_t want = 0;
      for (int64_t c = f.min(); c <= f.max(); ++c) want = std::max(want, std::abs(c - zp));
      REQUIRE(max_abs_offset(f, zp) == want);
    }
}
