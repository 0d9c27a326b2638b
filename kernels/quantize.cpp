#include "kernels/quantize.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/avx2.hpp"
#include "kernels/simd.hpp"
#include "numerics/rounding.hpp"

namespace chipref::kernels {

int64_t quantize_floats(const FloatQuantize& p, const float* x, int64_t n, int32_t* y) {
  int64_t i = simd_at_least(SimdLevel::avx2) ? avx2::quantize_floats(p, x, n, y) : 0;
  for (; i < n; ++i) {
    if (!std::isfinite(x[i])) return i;
    const float v = x[i] / p.scale;
    const double r = round_to_integer(v, RoundingMode::half_even) + static_cast<double>(p.zero_point);
    y[i] = static_cast<int32_t>(std::clamp(r, static_cast<double>(p.lo), static_cast<double>(p.hi)));
  }
  return n;
}

}  // namespace chipref::kernels
