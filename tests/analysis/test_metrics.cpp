// The per-layer figures of analysis/metrics.hpp against definitions that do not share their code:
// signed_bits against "the narrowest IntFormat that holds both ends", every range of 1..10 bits; SQNR
// against its closed form; max_abs_offset against a walk over every code of the format.

#include <catch2/catch.hpp>
#include <cmath>

#include "analysis/agreement.hpp"
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

// Every figure of --against on two small outputs worked out by hand: errors 0, 0.5, 0, 1.
TEST_CASE("Analysis/output agreement: SQNR, cosine, max error, first difference and top-1 by hand", "[analysis]") {
  OutputAgreement a;
  a.name = "y";
  a.tolerance = 0.4;
  const Tensor reference = Tensor::of_floats({1, 2}, {1, 2}), measured = Tensor::of_floats({1, 2}, {1, 2.5});
  a.add(reference, measured, 0);  // two batches of one input each, as compare_outputs feeds them
  a.add(Tensor::of_floats({1, 2}, {3, 4}), Tensor::of_floats({1, 2}, {3, 3}), 1);
  CHECK(a.elements == 4);
  CHECK(a.sqnr.db() == Approx(10 * std::log10(30.0 / 1.25)));
  CHECK(a.cosine() == Approx(27.0 / std::sqrt(30.0 * 25.25)));
  CHECK(a.max_abs_error == 1.0);
  CHECK(a.max_error_at.input == 1);
  CHECK(a.max_error_at.index == "[1]");
  REQUIRE(a.first_difference);
  CHECK(a.first_difference->input == 0);
  CHECK(a.first_difference->index == "[1]");
  CHECK(a.first_difference->measured == 2.5);
  CHECK(a.rows == 2);
  CHECK(a.top1_agree == 1);  // row 1: the float model's maximum is class 1, the integer's (a tie) class 0
  OutputAgreement shapes;
  CHECK_THROWS_AS(shapes.add(reference, Tensor::of_floats({2, 1}, {1, 2}), 0), InputError);
}
