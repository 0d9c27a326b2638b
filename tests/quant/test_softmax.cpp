// Integer softmax (kernels/softmax.hpp, docs/numerics.md §9):
// - every output equals the spec's integers computed here independently (std::exp, ties-to-even
//   rounding of T, the int128 reference rounding of T·M / S);
// - every unsaturated output is within s_y/2 + (1 + n)/2^(E+1) of the exact softmax of the real inputs;
// - every row without saturation sums to M (the code of 1.0) within ±n/2.
// Exhaustively over all pairs of int8 codes, and on random rows of 3..256 elements of 8- and 16-bit codes.

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "numerics/polynomial.hpp"
#include "quant/lut.hpp"
#include "support/int128_reference.hpp"

using namespace chipref;

namespace {
struct RowCheck {
  int64_t wrong = 0, over_bound = 0, bad_sums = 0, saturated = 0, rows = 0;
};

// With `mask`, the reference is the softmax over the row's elements whose mask code is not `masked`
// (an additive −∞ mask), every masked output must be exactly 0, and a row with every element masked
// outputs 0 throughout.
void check_rows(const std::vector<int32_t>& x, int64_t rows, int64_t n, double s_x, int in_bits, int exp_bits,
                int out_bits, RowCheck& c, const std::vector<int32_t>* mask = nullptr, int32_t masked = 1) {
  const kernels::Softmax p = build_softmax(s_x, in_bits, exp_bits, out_bits);
  std::vector<int32_t> y(x.size());
  kernels::softmax(p, x.data(), rows, n, y.data(), mask ? mask->data() : nullptr, masked);
  const int64_t M = int64_t{1} << out_bits, max_code = M - 1;
  const double bound = 0.5 / static_cast<double>(M) + static_cast<double>(1 + n) / std::ldexp(1.0, exp_bits + 1);
  for (int64_t r = 0; r < rows; ++r, ++c.rows) {
    const int32_t* row = x.data() + r * n;
    auto kept = [&](int64_t i) { return !mask || (*mask)[r * n + i] != masked; };
    std::vector<int32_t> kept_codes;
    for (int64_t i = 0; i < n; ++i)
      if (kept(i)) kept_codes.push_back(row[i]);
    if (kept_codes.empty()) {
      for (int64_t i = 0; i < n; ++i) c.wrong += y[r * n + i] != 0;
      continue;
    }
    const int32_t m = *std::max_element(kept_codes.begin(), kept_codes.end());
    std::vector<int64_t> t(static_cast<size_t>(n));
    int64_t sum = 0;
    double exact_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!kept(i)) continue;
      t[i] = static_cast<int64_t>(std::nearbyint(std::ldexp(std::exp(-s_x * (m - row[i])), exp_bits)));
      sum += t[i];
      exact_sum += std::exp(-s_x * (m - row[i]));
    }
    bool row_saturated = false;
    int64_t code_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t got = y[r * n + i];
      if (!kept(i)) {
        c.wrong += got != 0;
        continue;
      }
      const int64_t expected =
          std::min<int64_t>(max_code, static_cast<int64_t>(testing::reference_round_div(static_cast<__int128>(t[i]) * M,
                                                                                        sum, RoundingMode::half_even)));
      c.wrong += got != expected;
      code_sum += got;
      const double exact = std::exp(-s_x * (m - row[i])) / exact_sum;
      if (exact * static_cast<double>(M) > static_cast<double>(max_code) + 0.5) {
        row_saturated = true;
        continue;
      }
      c.over_bound += std::fabs(static_cast<double>(got) / static_cast<double>(M) - exact) > bound;
    }
    c.saturated += row_saturated;
    const int64_t counted = static_cast<int64_t>(kept_codes.size());
    if (!row_saturated) c.bad_sums += std::llabs(code_sum - M) * 2 > counted;
  }
}
}  // namespace

TEST_CASE("Softmax/every pair of int8 codes: exact integers, within the bound, rows sum to 1", "[quant][softmax]") {
  std::vector<int32_t> x;
  for (int a = -128; a <= 127; ++a)
    for (int b = -128; b <= 127; ++b) x.push_back(a), x.push_back(b);
  for (double s_x : {0.01, 0.05, 0.25}) {
    RowCheck c;
    check_rows(x, 65536, 2, s_x, 8, 15, 8, c);
    INFO("s_x " << s_x << ": " << c.saturated << " rows with a saturated element");
    CHECK(c.wrong == 0);
    CHECK(c.over_bound == 0);
    CHECK(c.bad_sums == 0);
  }
}

TEST_CASE("Softmax/random rows of 3..256 elements, 8- and 16-bit codes", "[quant][softmax]") {
  std::mt19937_64 rng(17);
  for (int in_bits : {8, 16})
    for (int64_t n : {3, 10, 49, 197, 256})
      for (int out_bits : {8, 16}) {
        const int64_t lo = -(int64_t{1} << (in_bits - 1)), hi = (int64_t{1} << (in_bits - 1)) - 1;
        const double s_x = in_bits == 8 ? 0.06 : 0.0004;  // a range of about ±8 either way
        std::uniform_int_distribution<int64_t> code(lo, hi);
        const int64_t rows = 200;
        std::vector<int32_t> x(static_cast<size_t>(rows * n));
        for (auto& v : x) v = static_cast<int32_t>(code(rng));
        RowCheck c;
        check_rows(x, rows, n, s_x, in_bits, 15, out_bits, c);
        INFO(in_bits << "-bit inputs, rows of " << n << ", " << out_bits << "-bit outputs");
        CHECK(c.wrong == 0);
        CHECK(c.over_bound == 0);
        CHECK(c.bad_sums == 0);
      }
}

TEST_CASE("Softmax/ties round to even (hand-derived)", "[quant][softmax]") {
  // 512 equal codes: every T is 2^15, S = 2^24, T·256/S = 1/2 exactly: half to even gives 0 (the row sum
  // 0 is at the edge of the ±n/2 bound). 256 equal codes: exactly 1 each. 3 equal codes: 85.33 → 85.
  const kernels::Softmax p = build_softmax(0.05, 8, 15, 8);
  for (const auto& [n, expected] : std::vector<std::pair<int64_t, int32_t>>{{512, 0}, {256, 1}, {3, 85}}) {
    std::vector<int32_t> x(static_cast<size_t>(n), 17), y(static_cast<size_t>(n), -1);
    kernels::softmax(p, x.data(), 1, n, y.data());
    INFO("row of " << n);
    CHECK(std::all_of(y.begin(), y.end(), [&](int32_t v) { return v == expected; }));
  }
  // A tie between two values: T = (2^15, 2^15·e^(−0.05·d)) never ties exactly; a three-element row
  // [m, m, m−k] with T3 = 0 (k past the table) gives 2^15·256 / 2^16 = 128, exact.
  std::vector<int32_t> x = {100, 100, -128}, y(3);
  const kernels::Softmax q = build_softmax(1.0, 8, 15, 8);  // exp(−228) underflows to 0
  kernels::softmax(q, x.data(), 1, 3, y.data());
  CHECK(y == std::vector<int32_t>{128, 128, 0});
}

// The `poly` method: exp entries from I-BERT's i-exp (numerics/polynomial.hpp), docs/numerics.md
// §12. Each entry against 2^E · exp(−s_x · d) within 2^E · exp(−s_x·d) · ρ(z) + 1, where z = ⌊d·s_x / ln 2⌋ + 1
// bounds the halvings used and ρ(z) = (1 + 0.0034 + S') · exp(z · (S' + 5e-5)) − 1 (the quadratic's
// relative error on (−ln 2, 0] is 0.00331, measured on a 1e-6 grid; qx0 · S' is within S' of x0, and x0
// within 5e-5 of −ln 2). Every row still sums to M within ±n/2, and each probability is within the §9
// bound plus 2·ρ·p of the exact softmax.
TEST_CASE("Softmax/i-exp entries (method poly) stay within their bound, rows still sum to 1",
          "[quant][softmax][poly]") {
  std::mt19937_64 rng(23);
  for (const auto& [s_x, in_bits] :
       std::vector<std::pair<double, int>>{{0.01, 8}, {0.06, 8}, {0.25, 8}, {0.0004, 16}}) {
    const int exp_bits = 15, out_bits = 8;
    const kernels::Softmax p = build_softmax(s_x, in_bits, exp_bits, out_bits, NonLinearMethod::poly);
    const IntExp e = IntExp::make(s_x);
    auto rho = [&](int64_t d) {
      const double z = std::floor(static_cast<double>(d) * s_x / std::log(2.0)) + 1;
      return (1 + 0.0034 + e.s_prime) * std::exp(z * (e.s_prime + 5e-5)) - 1;
    };
    int64_t over = 0;
    const int64_t span = int64_t{1} << in_bits;
    for (int64_t d = 0; d < span; ++d) {
      const double exact = std::ldexp(std::exp(-s_x * static_cast<double>(d)), exp_bits);
      const double got = d < static_cast<int64_t>(p.exp_table.size()) ? p.exp_table[d] : 0.0;
      over += std::fabs(got - exact) > exact * rho(d) + 1.0;
    }
    INFO("s_x " << s_x << ": " << p.exp_table.size() << " entries, first " << p.exp_table.at(0));
    CHECK(over == 0);

    const int64_t M = int64_t{1} << out_bits, n = 49, rows = 300;
    std::uniform_int_distribution<int64_t> code(-(int64_t{1} << (in_bits - 1)), (int64_t{1} << (in_bits - 1)) - 1);
    std::vector<int32_t> x(static_cast<size_t>(rows * n)), y(x.size());
    for (auto& v : x) v = static_cast<int32_t>(code(rng));
    kernels::softmax(p, x.data(), rows, n, y.data());
    int64_t bad_sums = 0, over_bound = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t* row = x.data() + r * n;
      const int32_t m = *std::max_element(row, row + n);
      double exact_sum = 0, worst_rho = 0;
      for (int64_t i = 0; i < n; ++i)
        exact_sum += std::exp(-s_x * (m - row[i])), worst_rho = std::max(worst_rho, rho(m - row[i]));
      int64_t code_sum = 0;
      bool saturated = false;
      for (int64_t i = 0; i < n; ++i) {
        const double exact = std::exp(-s_x * (m - row[i])) / exact_sum;
        code_sum += y[r * n + i];
        saturated = saturated || exact * static_cast<double>(M) > static_cast<double>(M - 1) + 0.5;
        const double bound = 0.5 / static_cast<double>(M) + static_cast<double>(1 + n) / std::ldexp(1.0, exp_bits + 1) +
                             2.2 * worst_rho * exact;
        over_bound += std::fabs(static_cast<double>(y[r * n + i]) / static_cast<double>(M) - exact) > bound;
      }
      if (!saturated) bad_sums += std::llabs(code_sum - M) * 2 > n;
    }
    CHECK(bad_sums == 0);
    CHECK(over_bound == 0);
  }
}

TEST_CASE("Softmax/an attention mask: masked elements take no part and output 0, a fully masked row outputs 0",
          "[quant][softmax]") {
  std::mt19937_64 rng(29);
  for (int32_t masked : {1, 0})
    for (int64_t n : {4, 49, 128}) {
      const int64_t rows = 300;
      std::uniform_int_distribution<int32_t> code(-128, 127);
      std::vector<int32_t> x(static_cast<size_t>(rows * n)), mask(x.size());
      for (auto& v : x) v = code(rng);
      // Rows with a masked tail of every length (0 to all of it), as a padding mask gives; the masked
      // elements hold the largest codes of their rows, which must not set the row's maximum.
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t kept = r % (n + 1);
        for (int64_t i = 0; i < n; ++i) {
          mask[r * n + i] = i < kept ? 1 - masked : masked;
          if (i >= kept) x[r * n + i] = 127;
        }
      }
      RowCheck c;
      check_rows(x, rows, n, 0.06, 8, 15, 8, c, &mask, masked);
      INFO("rows of " << n << ", masked code " << masked);
      CHECK(c.wrong == 0);
      CHECK(c.over_bound == 0);
      CHECK(c.bad_sums == 0);
    }
}
