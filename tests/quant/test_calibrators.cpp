// Calibrators: for every registered calibrator and many formats, the integer path (codes) and the float
// fake-quant path of the uniform quantizer agree exactly; each method's choice matches what its
// definition gives on distributions whose answer is known.

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "quant/calibrators.hpp"
#include "quant/quantize.hpp"

using namespace chipref;

namespace {
std::vector<float> laplace_samples(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<float> e(1.0f);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> v(n);
  for (auto& x : v) x = sign(rng) ? e(rng) : -e(rng);
  return v;
}
}  // namespace

TEST_CASE("Calibrators/every activation calibrator: integer and fake-quant paths agree", "[quant][calibrators]") {
  const std::vector<float> data = laplace_samples(50000, 31);
  const double lo = *std::min_element(data.begin(), data.end()), hi = *std::max_element(data.begin(), data.end());
  Histogram h(lo, hi, 2048);
  h.add(data.data(), data.size());
  for (const auto& [name, calibrator] : activation_calibrators())
    for (int bits : {2, 4, 8, 12, 16})
      for (bool is_signed : {false, true})
        for (bool symmetric : {false, true}) {
          const ActivationFormat f{bits, is_signed, symmetric};
          const auto [clo, chi] = calibrator->choose(lo, hi, calibrator->needs_histogram() ? &h : nullptr, f);
          INFO(name << " bits " << bits << " signed " << is_signed << " symmetric " << symmetric);
          CHECK(clo >= lo);
          CHECK(chi <= hi);
          const UniformQuantizer q{activation_params(clo, chi, bits, is_signed, symmetric)};
          long mismatches = 0;
          for (size_t i = 0; i < data.size(); i += 7) {
            const int64_t code = q.quantize(data[i]);
            mismatches += !q.params.format.contains(code);
            mismatches += q.fake_quantize(data[i]) != q.dequantize(code);
          }
          CHECK(mismatches == 0);
        }
}

TEST_CASE("Calibrators/minmax keeps the observed range", "[quant][calibrators]") {
  const auto r = activation_calibrator("minmax").choose(-1.5, 3.0, nullptr, {8, false, false});
  CHECK(r == std::pair<double, double>{-1.5, 3.0});
}

TEST_CASE("Calibrators/percentile cuts a rare outlier", "[quant][calibrators]") {
  // 10^6 values uniform in [0, 1) and one at 100: 0.005 % of 1 000 001 is 50 values per tail, so the
  // upper end falls back to the bin holding 1.0 (bins are 100/2048 ≈ 0.049 wide); the lower end stays 0.
  std::vector<float> v(1000000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) / 1e6f;
  v.push_back(100.0f);
  Histogram h(0.0, 100.0, 2048);
  h.add(v.data(), v.size());
  const auto [lo, hi] = activation_calibrator("percentile").choose(0.0, 100.0, &h, {8, false, false});
  CHECK(lo == 0.0);
  CHECK(hi > 0.95);
  CHECK(hi < 1.05);
}

TEST_CASE("Calibrators/percentile keeps the configured share", "[quant][calibrators]") {
  // 10^5 values uniform over [0, 100): keeping p % cuts (100 − p)/2 % from each end, to within a bin
  // (100/2048 ≈ 0.049); p = 100 keeps everything.
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) / 1000.0f;
  Histogram h(0.0, 100.0, 2048);
  h.add(v.data(), v.size());
  for (double p : {100.0, 99.0, 90.0, 60.0}) {
    INFO("percentile " << p);
    const auto [lo, hi] = activation_calibrator("percentile").choose(0.0, 100.0, &h, {8, false, false, p});
    CHECK(lo == Approx((100.0 - p) / 2).margin(0.05));
    CHECK(hi == Approx(100.0 - (100.0 - p) / 2).margin(0.05));
  }
}

TEST_CASE("Calibrators/MSE clips a long tail and keeps a uniform range", "[quant][calibrators]") {
  std::vector<float> uniform(100000);
  for (size_t i = 0; i < uniform.size(); ++i) uniform[i] = static_cast<float>(i) / static_cast<float>(uniform.size());
  Histogram hu(0.0, 1.0, 2048);
  hu.add(uniform.data(), uniform.size());
  CHECK(activation_calibrator("mse").choose(0.0, 1.0, &hu, {8, false, false}).second > 0.97);
  const std::vector<float> tail = laplace_samples(200000, 32);
  const double mx = *std::max_element(tail.begin(), tail.end()), mn = *std::min_element(tail.begin(), tail.end());
  Histogram ht(mn, mx, 2048);
  ht.add(tail.data(), tail.size());
  CHECK(activation_calibrator("mse").choose(mn, mx, &ht, {4, true, true}).second < 0.7 * mx);
}

TEST_CASE("Calibrators/weight calibrators: SAWB formula, MSE no worse than min-max", "[quant][calibrators]") {
  std::mt19937_64 rng(33);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(200000);
  for (auto& x : w) x = normal(rng);
  // SAWB at 4 bits on N(0, 1): 12.68·σ − 12.80·E|w| = 12.68 − 12.80·√(2/π) ≈ 2.467
  CHECK(weight_calibrator("sawb").clip(w.data(), static_cast<int64_t>(w.size()), 4) ==
        Approx(12.68 - 12.80 * std::sqrt(2.0 / M_PI)).epsilon(0.02));
  CHECK_THROWS_WITH(weight_calibrator("sawb").clip(w.data(), 10, 8), Catch::Contains("2, 4 and 5-bit"));
  auto mse_of = [&](double clip, int bits) {
    const double qmax = std::ldexp(1.0, bits - 1) - 1, s = clip / qmax;
    double e = 0;
    for (float x : w) {
      const double q = std::clamp(std::nearbyint(x / s), -qmax, qmax);
      e += (x - q * s) * (x - q * s);
    }
    return e;
  };
  const double max_abs = weight_calibrator("minmax").clip(w.data(), static_cast<int64_t>(w.size()), 4);
  const double mse_clip = weight_calibrator("mse").clip(w.data(), static_cast<int64_t>(w.size()), 4);
  CHECK(mse_clip < max_abs);
  CHECK(mse_of(mse_clip, 4) <= mse_of(max_abs, 4));
  CHECK_THROWS_WITH(activation_calibrator("entropy"), Catch::Contains("registered: minmax, mse, percentile"));
}
