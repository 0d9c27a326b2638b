#include "kernels/lut.hpp"

#include <string>

#include "core/error.hpp"
#include "kernels/avx512.hpp"
#include "kernels/simd.hpp"
#include "numerics/rounding.hpp"

namespace chipref::kernels {

void lut(const Lut& p, const int32_t* x, int64_t n, int32_t* y) {
  const int64_t entries = static_cast<int64_t>(p.table.size());
  const int64_t span = (entries - 1) << p.shift;  // the last input offset the table covers
  // the avx512_vnni level's gather for tables without interpolation; a code outside the domain leaves it
  // to the loop below, which names that code
  if (!p.interpolate && p.shift < 31 && simd_level() >= SimdLevel::avx512_vnni &&
      avx512::lut_nearest(p.table.data(), entries, p.in_min, p.shift, span, p.out.min(), p.out.max(), x, n, y))
    return;
  for (int64_t e = 0; e < n; ++e) {
    const int64_t offset = int64_t{x[e]} - p.in_min;
    if (offset < 0 || offset > span)
      throw InputError("lut: input code " + std::to_string(x[e]) + " is outside the table's domain [" +
                       std::to_string(p.in_min) + ", " + std::to_string(p.in_min + span) + "]");
    int64_t v;
    if (p.shift == 0) {
      v = p.table[offset];
    } else if (!p.interpolate) {
      v = p.table[std::min(entries - 1, (offset + (int64_t{1} << (p.shift - 1))) >> p.shift)];
    } else {
      const int64_t i = offset >> p.shift, r = offset & ((int64_t{1} << p.shift) - 1);
      v = p.table[i];
      if (r != 0)
        v += rounding_shift_right((int64_t{p.table[i + 1]} - p.table[i]) * r, p.shift, RoundingMode::half_even);
    }
    y[e] = static_cast<int32_t>(p.out.saturate(v));
  }
}

}  // namespace chipref::kernels
