// The tensor quantizer against an oracle written from the definition (docs/numerics.md §1): every
// element's code is round-half-even(x / s) + z saturated to the format, with the slice's parameters
// found by walking the tensor's coordinates (channel, then position in the channel's row), not by the
// quantizer's own index arithmetic; ties checked exhaustively for small formats.

#include <catch2/catch.hpp>
#include <cfenv>
#include <cmath>
#include <random>

#include "core/error.hpp"
#include "quant/quantizer.hpp"

using namespace chipref;

namespace {

// Round to nearest, ties to even: the C library's rint in the default rounding mode.
int64_t oracle_code(double x, const QuantParams& q, bool narrow) {
  REQUIRE(std::fegetround() == FE_TONEAREST);
  const double r = std::rint(x / q.scale) + static_cast<double>(q.zero_point);
  const double lo = narrow ? -static_cast<double>(q.format.max()) : static_cast<double>(q.format.min());
  return static_cast<int64_t>(std::fmin(std::fmax(r, lo), static_cast<double>(q.format.max())));
}

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::zeros(DType::float32, shape);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, 3.0f);
  for (auto& x : t.floats) x = d(rng);
  return t;
}

std::vector<QuantParams> random_params(size_t n, int bits, bool is_signed, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> scale(0.01, 0.5);
  std::uniform_int_distribution<int64_t> zp(-3, 3);
  std::vector<QuantParams> p;
  const IntFormat f = IntFormat::make(bits, is_signed);
  for (size_t i = 0; i < n; ++i) p.push_back(QuantParams{f, is_signed ? zp(rng) : zp(rng) + 3, scale(rng)});
  return p;
}

}  // namespace

TEST_CASE("Quantizer/per tensor, per channel and per group codes are the definition's, slice by slice",
          "[quant][quantizer]") {
  for (const Shape& shape : {Shape{6, 3, 3, 3}, Shape{5, 10}, Shape{4, 7, 1}}) {
    const Tensor w = random_tensor(shape, 11);
    const int64_t channels = shape[0], row = w.numel() / channels;
    for (int bits : {4, 8}) {
      for (bool narrow : {false, true}) {
        INFO(shape_to_string(shape) << " bits " << bits << " narrow " << narrow);
        const auto one = random_params(1, bits, true, 3);
        TensorQuantizer per_tensor = TensorQuantizer::per_tensor(one[0]);
        const auto by_channel = random_params(static_cast<size_t>(channels), bits, true, 5);
        TensorQuantizer per_channel = TensorQuantizer::per_channel(by_channel);
        for (int64_t group : {1, 2, 4, 32}) {
          const int64_t groups = (row + group - 1) / group;
          const auto by_group = random_params(static_cast<size_t>(channels * groups), bits, true, 7 + group);
          TensorQuantizer per_group = TensorQuantizer::per_group(by_group, group);
          if (narrow) per_group.narrow_range();
          const Tensor codes = per_group.codes(w);
          for (int64_t c = 0; c < channels; ++c)
            for (int64_t k = 0; k < row; ++k) {
              const QuantParams& q = by_group[static_cast<size_t>(c * groups + k / group)];
              REQUIRE(codes.ints[static_cast<size_t>(c * row + k)] ==
                      oracle_code(w.floats[static_cast<size_t>(c * row + k)], q, narrow));
              REQUIRE(&per_group.params_of(c * row + k, shape) == &per_group.params()[c * groups + k / group]);
            }
        }
        if (narrow) per_tensor.narrow_range(), per_channel.narrow_range();
        const Tensor t = per_tensor.codes(w), ch = per_channel.codes(w);
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t k = 0; k < row; ++k) {
            const auto i = static_cast<size_t>(c * row + k);
            REQUIRE(t.ints[i] == oracle_code(w.floats[i], one[0], narrow));
            REQUIRE(ch.ints[i] == oracle_code(w.floats[i], by_channel[static_cast<size_t>(c)], narrow));
          }
      }
    }
  }
}

TEST_CASE("Quantizer/every code and every tie of small formats, exhaustively", "[quant][quantizer]") {
  for (int bits = 2; bits <= 6; ++bits)
    for (bool is_signed : {false, true}) {
      const IntFormat f = IntFormat::make(bits, is_signed);
      const QuantParams q{f, is_signed ? 1 : 2, 0.25};  // a power of two: x / s and the ties are exact
      for (int64_t k = f.min() - 3; k <= f.max() + 3; ++k) {
        const double at = 0.25 * static_cast<double>(k - q.zero_point);
        const int64_t want = std::clamp(k, f.min(), f.max());
        REQUIRE(code_of(at, q) == want);
        // Halfway up to k + 1: to whichever of k, k + 1 is even (before the zero point is added).
        const int64_t even = (k - q.zero_point) % 2 == 0 ? k : k + 1;
        REQUIRE(code_of(at + 0.125, q) == std::clamp(even, f.min(), f.max()));
      }
    }
}

TEST_CASE("Quantizer/a tensor whose channels or groups do not match the parameters is refused", "[quant][quantizer]") {
  const Tensor w = random_tensor({4, 6}, 1);
  const auto p = random_params(3, 8, true, 1);
  CHECK_THROWS_WITH(TensorQuantizer::per_channel(p).codes(w),
                    "a tensor of shape [4,6] needs 4 quantization parameter sets for its granularity; the quantizer "
                    "has 3");
  // Rows of 6 in groups of 4: two groups a channel (the second of 2 elements), 8 in all.
  CHECK_THROWS_WITH(TensorQuantizer::per_group(random_params(7, 8, true, 1), 4).codes(w),
                    Catch::Contains("needs 8 quantization parameter sets"));
  CHECK_NOTHROW(TensorQuantizer::per_group(random_params(8, 8, true, 1), 4).codes(w));
  CHECK_THROWS_AS(TensorQuantizer::per_group(p, 0), InputError);
}
