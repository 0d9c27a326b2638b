// Lookup-table non-linears (quant/lut.hpp, kernels/lut.hpp), exhaustively over every input code:
// - a direct table (one entry per code) equals round_half_even(f(x) / s_y) + z_y, saturated, computed
//   here independently from the function, for every code of 8- and 16-bit inputs;
// - an interpolated or nearest-entry table equals the integer formula of docs/numerics.md §8 evaluated
//   here independently (double arithmetic on small integers, ties to even);
// - every table stays within its documented error bound on every unsaturated code.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "quant/lut.hpp"

using namespace chipref;

namespace {
// The real domain each function is tabulated over (softmax feeds exp with x − max <= 0; reciprocal and
// rsqrt take the positive sums and variances they are used for).
std::pair<double, double> domain(NonLinear f) {
  switch (f) {
    case NonLinear::exp:
      return {-16.0, 0.0};
    case NonLinear::reciprocal:
      return {0.0, 8.0};
    case NonLinear::rsqrt:
      return {0.0, 8.0};
    default:
      return {-8.0, 8.0};
  }
}

LutSpec spec_for(NonLinear f, int in_bits, int out_bits, int table_bits, bool interpolate) {
  const auto [lo, hi] = domain(f);
  LutSpec s;
  s.function = f, s.table_bits = table_bits, s.interpolate = interpolate;
  const bool is_signed = lo < 0;
  s.in.format = IntFormat::make(in_bits, is_signed);
  s.in.scale = is_signed ? std::max(-lo, hi) / static_cast<double>(s.in.format.max())
                         : hi / static_cast<double>(s.in.format.max());
  s.in.zero_point = 0;
  double y_lo = 0, y_hi = 0;  // the output range: f over the domain, clipped for the unbounded ones
  for (int64_t q = s.in.format.min(); q <= s.in.format.max(); q += 1 + (in_bits > 8 ? 63 : 0)) {
    const double y = evaluate(f, s.in.scale * static_cast<double>(q));
    if (std::isfinite(y)) y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
  }
  if (f == NonLinear::reciprocal || f == NonLinear::rsqrt) y_hi = std::min(y_hi, 64.0);
  s.out.format = IntFormat::make(out_bits, y_lo < 0);
  const double m = std::max(-y_lo, y_hi);
  s.out.scale = y_lo < 0 ? m / static_cast<double>(s.out.format.max()) : y_hi / static_cast<double>(s.out.format.max());
  s.out.zero_point = 0;
  return s;
}

int64_t expected_entry(const LutSpec& s, int64_t code) {
  const double y = evaluate(s.function, s.in.scale * static_cast<double>(code - s.in.zero_point)) / s.out.scale;
  if (std::isinf(y)) return y > 0 ? s.out.format.max() : s.out.format.min();
  return std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(y)) + s.out.zero_point, s.out.format.min(),
                             s.out.format.max());
}
}  // namespace

TEST_CASE("LUT/direct tables equal the rounded function on every input code", "[quant][lut]") {
  for (NonLinear f : kAllNonLinears)
    for (int bits : {8, 16}) {
      const LutSpec s = spec_for(f, bits, bits, 0, false);
      const kernels::Lut t = build_lut(s);
      std::vector<int32_t> x, y(static_cast<size_t>(int64_t{1} << bits));
      for (int64_t q = s.in.format.min(); q <= s.in.format.max(); ++q) x.push_back(static_cast<int32_t>(q));
      kernels::lut(t, x.data(), static_cast<int64_t>(x.size()), y.data());
      int64_t wrong = 0;
      for (size_t i = 0; i < x.size(); ++i) wrong += y[i] != expected_entry(s, x[i]);
      INFO(to_string(f) << ", " << bits << " bits");
      CHECK(wrong == 0);
      CHECK(measure_lut_error(s, t).worst_bound_ratio <= 1.0);
    }
}

TEST_CASE("LUT/reduced tables follow the interpolation formula and stay within their bound", "[quant][lut]") {
  for (NonLinear f : kAllNonLinears)
    for (bool interpolate : {true, false})
      for (int table_bits : {6, 8, 10}) {
        const LutSpec s = spec_for(f, 16, 16, table_bits, interpolate);
        const kernels::Lut t = build_lut(s);
        const int shift = 16 - table_bits;
        const int64_t step = int64_t{1} << shift;
        int64_t wrong = 0;
        for (int64_t q = s.in.format.min(); q <= s.in.format.max(); ++q) {
          const int64_t offset = q - s.in.format.min(), i = offset / step, r = offset % step;
          double expected;
          if (interpolate) {
            const int64_t a = expected_entry(s, s.in.format.min() + i * step),
                          b = expected_entry(s, s.in.format.min() + (i + 1) * step);
            expected =
                static_cast<double>(a) + std::nearbyint(static_cast<double>((b - a) * r) / static_cast<double>(step));
          } else {
            expected = static_cast<double>(expected_entry(
                s, s.in.format.min() + std::min<int64_t>((offset + step / 2) / step, int64_t{1} << table_bits) * step));
          }
          expected =
              std::clamp(expected, static_cast<double>(s.out.format.min()), static_cast<double>(s.out.format.max()));
          int32_t in = static_cast<int32_t>(q), out = 0;
          kernels::lut(t, &in, 1, &out);
          wrong += out != static_cast<int64_t>(expected);
        }
        const LutError e = measure_lut_error(s, t);
        INFO(to_string(f) << " table_bits " << table_bits << (interpolate ? " interpolated" : " nearest") << ": max "
                          << e.max_abs << ", mean " << e.mean_abs << ", saturated " << e.saturated << " of "
                          << e.codes);
        CHECK(wrong == 0);
        CHECK(e.worst_bound_ratio <= 1.0);
        CHECK(e.saturated < e.codes / 4);
      }
}

// I-BERT's i-GELU (method poly), exhaustively: every code of 8- and 16-bit inputs, asymmetric and
// symmetric, within the bound of docs/numerics.md §12, and close to GELU overall (I-BERT reports its erf
// polynomial good to about 1e-2; the outputs here stay within a few percent of the output range).
TEST_CASE("LUT/i-GELU polynomial stays within its documented bound on every input code", "[quant][lut][poly]") {
  for (int bits : {8, 16})
    for (bool asymmetric : {false, true}) {
      LutSpec s = spec_for(NonLinear::gelu_erf, bits, bits, 0, false);
      s.method = NonLinearMethod::poly;
      if (asymmetric) {  // what calibration gives a GELU input: unsigned, zero point inside
        s.in.format = IntFormat::make(bits, false);
        s.in.scale = 12.0 / static_cast<double>(s.in.format.max());
        s.in.zero_point = s.in.format.max() / 3;
      }
      const kernels::Lut t = build_lut(s);
      REQUIRE(static_cast<int64_t>(t.table.size()) == (int64_t{1} << bits));
      const LutError e = measure_lut_error(s, t);
      INFO(bits << " bits" << (asymmetric ? ", asymmetric" : "") << ": max " << e.max_abs / s.out.scale << " LSB, mean "
                << e.mean_abs / s.out.scale << " LSB, saturated " << e.saturated << " of " << e.codes);
      CHECK(e.worst_bound_ratio <= 1.0);
      CHECK(e.max_abs <= 0.03 * s.out.scale * static_cast<double>(s.out.format.max()));

      CHECK(e.saturated < e.codes / 4);
    }
  LutSpec sigmoid = spec_for(NonLinear::sigmoid, 8, 8, 0, false);
  sigmoid.method = NonLinearMethod::poly;
  CHECK_THROWS_WITH(build_lut(sigmoid), Catch::Contains("no integer polynomial for sigmoid"));
}

TEST_CASE("LUT/inputs outside the table and bad specs are errors", "[quant][lut]") {
  LutSpec s = spec_for(NonLinear::sigmoid, 8, 8, 0, false);
  const kernels::Lut t = build_lut(s);
  int32_t x = 300, y = 0;
  CHECK_THROWS_WITH(kernels::lut(t, &x, 1, &y), Catch::Contains("outside the table's domain [-128, 127]"));
  s.table_bits = 9;
  CHECK_THROWS_WITH(build_lut(s),
                    Catch::Contains("table_bits 9 is out of range; expected 0 (one entry per code) .. 8"));
  CHECK_THROWS_WITH(
      parse_nonlinear("swish_beta"),
      Catch::Contains("relu, gelu_erf, gelu_tanh, sigmoid, silu, tanh, exp, reciprocal, rsqrt, leaky_relu, "
                      "hard_sigmoid, hard_swish, elu, selu, celu, softplus, softsign, mish"));
}

// Not a check: prints the error table of docs/numerics.md §8 (run with `test_quant "[.lut-table]"`).
TEST_CASE("LUT/error table for the docs", "[.lut-table]") {
  std::printf(
      "| function | domain | table | max error (LSB) | mean error (LSB) | saturated codes "
      "|\n|---|---|---|---|---|---|\n");
  for (NonLinear f : kAllNonLinears) {
    const auto [lo, hi] = domain(f);
    for (const auto& [in_bits, table_bits, interpolate] :
         std::vector<std::tuple<int, int, bool>>{{8, 0, false}, {16, 0, false}, {16, 8, true}, {16, 8, false}}) {
      const LutSpec s = spec_for(f, in_bits, in_bits, table_bits, interpolate);
      const LutError e = measure_lut_error(s, build_lut(s));
      const std::string table = table_bits == 0
                                    ? std::to_string(in_bits) + "-bit in/out, direct"
                                    : "16-bit, 2^8+1 entries, " + std::string(interpolate ? "interpolated" : "nearest");
      std::printf("| %s | [%g, %g] | %s | %.3f | %.3f | %lld of %lld |\n", std::string(to_string(f)).c_str(), lo, hi,
                  table.c_str(), e.max_abs / s.out.scale, e.mean_abs / s.out.scale, static_cast<long long>(e.saturated),
                  static_cast<long long>(e.codes));
    }
  }
  std::printf(
      "\n| function | domain | in/out | poly max (LSB) | poly mean (LSB) | table max (LSB) | table mean (LSB) "
      "|\n|---|---|---|---|---|---|---|\n");
  for (int bits : {8, 16}) {  // docs/numerics.md §12
    LutSpec s = spec_for(NonLinear::gelu_erf, bits, bits, 0, false);
    const LutError table = measure_lut_error(s, build_lut(s));
    s.method = NonLinearMethod::poly;
    const LutError poly = measure_lut_error(s, build_lut(s));
    std::printf("| gelu_erf | [-8, 8] | %d-bit | %.3f | %.3f | %.3f | %.3f |\n", bits, poly.max_abs / s.out.scale,
                poly.mean_abs / s.out.scale, table.max_abs / s.out.scale, table.mean_abs / s.out.scale);
  }
}
