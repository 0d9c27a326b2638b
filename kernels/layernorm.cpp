#include "kernels/layernorm.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"
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
  std::vector<int64_t> c(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* row = x + r * n;
    int64_t sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += int64_t{row[i]} - p.in_zero_point;
    unsigned __int128 v = 0;
    for (int64_t i = 0; i < n; ++i) {
      c[i] = n * (int64_t{row[i]} - p.in_zero_point) - sum;  // |c| < 2n · 2^17
      v += static_cast<unsigned __int128>(static_cast<__int128>(c[i]) * c[i]);
    }
    const unsigned __int128 scaled =
        ((v << (2 * p.extra_bits)) + static_cast<unsigned>(n / 2)) / static_cast<unsigned>(n) + p.epsilon;
    const int64_t s = static_cast<int64_t>(integer_sqrt(scaled));
    // a constant row with ε = 0 has S = 0: every c is 0 too, and so is the normalised value
    const RoundingDivider by_s(std::max<int64_t>(s, 1));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t z =
          s == 0 ? 0 : by_s.divide(c[i] * (int64_t{1} << (kLayerNormZBits + p.extra_bits)), RoundingMode::half_even);
      const int64_t scaled_z = p.requantizer.scale_only(static_cast<int32_t>(z), p.gamma[i]);
      const int64_t out = p.requantizer.zero_point() + p.beta[i] + (p.gamma_negative[i] ? -scaled_z : scaled_z);
      y[r * n + i] = static_cast<int32_t>(p.requantizer.output_format().saturate(out));
    }
  }
}

}  // namespace chipref::kernels
