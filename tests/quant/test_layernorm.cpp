// Integer LayerNorm (kernels/layernorm.hpp, quant/normalization.hpp, docs/numerics.md §10):
// - integer_sqrt is the exact floor square root (every v < 2^22, random 128-bit values, and the squares
//   up to (2^64 − 1)² and their neighbours, checked by x² <= v < (x + 1)² in 128-bit arithmetic);
// - every output is within §10's bound of LayerNorm computed in double on the dequantized input codes,
//   for rows of 2..768 elements, 8- and 16-bit codes with zero points, γ of both signs, β and ε;
// - with γ = 1, β = 0 and a fine output, each row's output mean is 0 and its variance var/(var + ε)
//   within the bound.

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "quant/normalization.hpp"

using namespace chipref;

TEST_CASE("LayerNorm/integer_sqrt is the floor square root", "[quant][layernorm]") {
  int64_t wrong = 0;
  for (uint64_t v = 0; v < (uint64_t{1} << 22); ++v) {
    const uint64_t x = kernels::integer_sqrt(v);
    wrong += !(x * x <= v && (x + 1) * (x + 1) > v);
  }
  // (x + 1)² > v written as x + 1 > v / (x + 1): (2^64)² does not fit 128 bits
  const auto floor_root = [](unsigned __int128 v, unsigned __int128 x) { return x * x <= v && x + 1 > v / (x + 1); };
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100000; ++i) {
    const unsigned __int128 v = (static_cast<unsigned __int128>(rng() >> (rng() % 64)) << 64) | rng();
    wrong += !floor_root(v, kernels::integer_sqrt(v));
  }
  // Squares and their neighbours, up to the largest root 2^64 − 1 (where a double estimate is off by thousands)
  for (int i = 0; i < 100000; ++i) {
    const uint64_t r = i < 10 ? ~uint64_t{0} - static_cast<uint64_t>(i) : rng() >> (rng() % 64);
    const unsigned __int128 square = static_cast<unsigned __int128>(r) * r;
    for (const unsigned __int128 v : {square - 1, square, square + 1})
      if (v >= square - 1 && v <= square + 1) wrong += !floor_root(v, kernels::integer_sqrt(v));
  }
  wrong += !floor_root(~static_cast<unsigned __int128>(0), kernels::integer_sqrt(~static_cast<unsigned __int128>(0)));
  CHECK(wrong == 0);
}

TEST_CASE("LayerNorm/within the bound of the double-precision LayerNorm of the input codes", "[quant][layernorm]") {
  std::mt19937_64 rng(8);
  int64_t checked = 0;
  for (int in_bits : {8, 16})
    for (int64_t n : {2, 7, 64, 197, 768}) {
      QuantParams in{IntFormat::make(in_bits, true), in_bits == 8 ? 5 : -300, in_bits == 8 ? 0.05 : 0.0002};
      QuantParams out{IntFormat::make(in_bits, true), 0, in_bits == 8 ? 8.0 / 127 : 8.0 / 32767};
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> gamma(static_cast<size_t>(n)), beta(static_cast<size_t>(n));
      for (auto& g : gamma) g = normal(rng);  // both signs
      for (auto& b : beta) b = 0.5f * normal(rng);
      const double eps = 1e-5;
      const kernels::LayerNorm p = build_layernorm(in, gamma, beta, eps, out);
      const int64_t rows = 300;
      std::uniform_int_distribution<int64_t> code(in.format.min(), in.format.max());
      std::vector<int32_t> x(static_cast<size_t>(rows * n)), y(x.size());
      for (int64_t r = 0; r < rows; ++r) {
        // rows of varying spread: from a handful of codes to the whole range
        const int64_t spread = int64_t{1} << (1 + r % (in_bits - 1));
        std::uniform_int_distribution<int64_t> near(-spread, spread);
        const int64_t centre = code(rng) / 2;
        for (int64_t i = 0; i < n; ++i) x[r * n + i] = static_cast<int32_t>(in.format.saturate(centre + near(rng)));
      }
      kernels::layernorm(p, x.data(), rows, n, y.data());
      int64_t over = 0;
      for (int64_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < n; ++i) mean += in.scale * (x[r * n + i] - in.zero_point);
        mean /= static_cast<double>(n);
        for (int64_t i = 0; i < n; ++i) var += std::pow(in.scale * (x[r * n + i] - in.zero_point) - mean, 2);
        var /= static_cast<double>(n);
        for (int64_t i = 0; i < n; ++i) {
          const double z = (in.scale * (x[r * n + i] - in.zero_point) - mean) / std::sqrt(var + eps);
          const double ref = gamma[i] * z + beta[i];
          const double lo = out.scale * (out.format.min() - out.zero_point),
                       hi = out.scale * (out.format.max() - out.zero_point);
          if (ref < lo || ref > hi) continue;  // saturates
          const double bound =
              out.scale * (1 + 1e-6) +
              std::fabs(gamma[i]) * (std::ldexp(1.0, -16) + std::fabs(z) * std::ldexp(1.0, -15));  // §10
          over += std::fabs(out.scale * (y[r * n + i] - out.zero_point) - ref) > bound;
          ++checked;
        }
      }
      INFO(in_bits << "-bit rows of " << n);
      CHECK(over == 0);
    }
  CHECK(checked > 600000);
}

TEST_CASE("LayerNorm/γ = 1, β = 0: rows come out with mean 0 and variance var/(var + ε)", "[quant][layernorm]") {
  std::mt19937_64 rng(12);
  const int64_t n = 96;
  const QuantParams in{IntFormat::make(8, false), 128, 0.02}, out{IntFormat::make(16, true), 0, std::ldexp(1.0, -12)};
  const double eps = 1e-3;
  const kernels::LayerNorm p = build_layernorm(in, std::vector<float>(n, 1.0f), std::vector<float>(n, 0.0f), eps, out);
  std::uniform_int_distribution<int32_t> code(0, 255);
  std::vector<int32_t> x(static_cast<size_t>(50 * n)), y(x.size());
  for (auto& v : x) v = code(rng);
  kernels::layernorm(p, x.data(), 50, n, y.data());
  for (int64_t r = 0; r < 50; ++r) {
    double in_mean = 0, in_var = 0, mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) in_mean += in.scale * (x[r * n + i] - 128), mean += out.scale * y[r * n + i];
    in_mean /= n, mean /= n;
    for (int64_t i = 0; i < n; ++i)
      in_var += std::pow(in.scale * (x[r * n + i] - 128) - in_mean, 2),
          var += std::pow(out.scale * y[r * n + i] - mean, 2);
    in_var /= n, var /= n;
    // per element |error| <= s_y + 2^-16 + |z|·2^-15 with |z| <= √n: the row's mean and variance move by at most that
    // much
    const double e = out.scale + std::ldexp(1.0, -16) + std::sqrt(static_cast<double>(n)) * std::ldexp(1.0, -15);
    CHECK(std::fabs(mean) <= e);
    CHECK(std::fabs(var - in_var / (in_var + eps)) <= 2 * e * std::sqrt(static_cast<double>(n)) + e * e);
  }
}
