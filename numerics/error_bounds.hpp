#pragma once
// Documented worst-case distance between a requantized result and the exact real acc·scale, before the
// output saturation (saturation only moves a value toward the exact one's clamp). docs/numerics.md §3.2.

#include <cmath>
#include <cstdint>

#include "numerics/requant.hpp"

namespace chipref {

// |R(acc·scale) − acc·scale| <= bound, for accumulators whose gemmlowp left shift does not saturate int32.
inline double requant_error_bound(RequantFlavour flavour, RoundingMode single_rounding, int32_t acc,
                                  const RequantChannel& ch, double scale) {
  const double magnitude = std::fabs(static_cast<double>(acc) * scale);
  switch (flavour) {
    case RequantFlavour::gemmlowp: {
      // Multiplier error, then two roundings: half a unit at 2^-right of the result, then half a unit.
      const int right = ch.fixed.shift > 0 ? 0 : -ch.fixed.shift;
      return magnitude * std::ldexp(1.0, -ch.fixed.bits) + 0.5 + std::ldexp(0.5, -right);
    }
    case RequantFlavour::single: {
      const bool nearest = single_rounding != RoundingMode::floor && single_rounding != RoundingMode::toward_zero;
      return magnitude * std::ldexp(1.0, -ch.fixed.bits) + (nearest ? 0.5 : 1.0);
    }
    case RequantFlavour::float32:
      // float(acc), float(scale) and the float32 product each add at most 2^-24 relative error.
      return magnitude * 3.0000001 * std::ldexp(1.0, -24) + 0.5;
  }
  return 0;
}

}  // namespace chipref
