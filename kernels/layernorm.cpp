#include "kernels/layernorm.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "kernels/avx512.hpp"
#include "kernels/simd.hpp"
#include "numerics/rounding.hpp"

namespace chipref::kernels {

uint64_t integer_sqrt(unsigned __int128 v) {
  if (v < 2) return static_cast<uint64_t>(v);
  int bits = 0;
  for (unsigned __int128 t = v; t != 0; t >>= 1) ++bits;
  unsigned __int128 x = static_cast<unsigned __int128>(1) << ((bits + 1) / 2);  // 2^⌈bits/2⌉ > √v
  for (;;) {  // Newton: decreases strictly while above floor(√v), then stops
    const unsigned __int128 next = (x + v / x) / 2;
    if (next >= x) return static_cast<uint64_t>(x);
    x = next;
  }
}

void layernorm(const LayerNorm& p, const int32_t* x, int64_t rows, int64_t n, int32_t* y) {
  if (n < 1 || n > kLayerNormMaxLength)
    throw InputError("layernorm: rows of " + std::to_string(n) + " elements; expected 1.." +
                     std::to_string(kLayerNormMaxLength));
  if (static_cast<int64_t>(p.gamma.size()) != n || static_cast<int64_t>(p.beta.size()) != n ||
      static_cast<int64_t>(p.gamma_negative.size()) != n)
    throw InputError("layernorm: " + std::to_string(p.gamma.size()) + " scales for rows of " + std::to_string(n));
  // c fits int32: |c| < 2n · 2^17 <= 2^30 for codes of at most 16 bits (ops/layernorm.cpp checks them)
  constexpr int64_t kCLimit = int64_t{1} << 30;
  thread_local std::vector<int32_t> c;
  c.resize(static_cast<size_t>(n));
  // locals, not p's members: y may alias nothing of p, but the compiler cannot know it
  const Requantizer rq = p.requantizer;
  const IntFormat out_format = rq.output_format();
  const RequantChannel* gamma = p.gamma.data();
  const uint8_t* gamma_negative = p.gamma_negative.data();
  const int64_t* beta = p.beta.data();
  const int64_t zp_in = p.in_zero_point, zp_out = rq.zero_point();
  const int z_shift = kLayerNormZBits + p.extra_bits;
  const int64_t z_unit = int64_t{1} << z_shift;
  // The avx512_vnni level's output loop (avx512.hpp) takes γ as arrays, each right shift in [0, 62].
  thread_local std::vector<int64_t> multiplier, right;
  bool vector_outputs = simd_level() >= SimdLevel::avx512_vnni && rq.flavour() == RequantFlavour::single &&
                        rq.rounding() == RoundingMode::half_even;
  if (vector_outputs) {
    multiplier.resize(static_cast<size_t>(n)), right.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      multiplier[i] = gamma[i].fixed.multiplier, right[i] = gamma[i].fixed.bits - gamma[i].fixed.shift;
      vector_outputs = vector_outputs && right[i] >= 0 && right[i] <= 62;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* row = x + r * n;
    int32_t* out = y + r * n;
    int64_t sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += int64_t{row[i]} - zp_in;
    unsigned __int128 v = 0;
    int64_t largest = 0;  // max |c|
    for (int64_t i = 0; i < n; ++i) {
      const int64_t ci = n * (int64_t{row[i]} - zp_in) - sum;  // |c| < 2n · 2^17
      if (ci >= kCLimit || ci <= -kCLimit)
        throw InputError("layernorm: input code " + std::to_string(row[i]) + " with zero point " +
                         std::to_string(zp_in) + " is wider than the 16 bits the kernel takes");
      c[i] = static_cast<int32_t>(ci), largest = std::max(largest, ci < 0 ? -ci : ci);
      v += static_cast<uint64_t>(ci * ci);  // < 2^60
    }
    const unsigned __int128 scaled =
        ((v << (2 * p.extra_bits)) + static_cast<unsigned>(n / 2)) / static_cast<unsigned>(n) + p.epsilon;
    const int64_t s = static_cast<int64_t>(integer_sqrt(scaled));
    // a constant row with ε = 0 has S = 0: every c is 0 too, and so is the normalised value
    // the vector loop's precondition: every normalised value below 2^30 (in practice below 2^15·√n)
    if (vector_outputs && s >= 1 &&
        static_cast<double>(largest) * std::ldexp(1.0, z_shift) < std::ldexp(static_cast<double>(s), 29)) {
      avx512::layernorm_outputs(c.data(), n, s, z_shift, multiplier.data(), right.data(), gamma_negative, beta, zp_out,
                                out_format.min(), out_format.max(), out);
      continue;
    }
    const RoundingDivider by_s(std::max<int64_t>(s, 1));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t z = s == 0 ? 0 : by_s.divide(c[i] * z_unit, RoundingMode::half_even);
      const int64_t scaled_z = rq.scale_only(static_cast<int32_t>(z), gamma[i]);
      out[i] = static_cast<int32_t>(out_format.saturate(zp_out + beta[i] + (gamma_negative[i] ? -scaled_z : scaled_z)));
    }
  }
}

}  // namespace chipref::kernels
