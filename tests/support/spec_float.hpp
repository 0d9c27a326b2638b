#pragma once
// A small float's code read by the OCP specs' definitions (MX v1.0 §5.3, the OCP FP8 table), with no chipref
// decoding: the oracle the minifloat and block-format tests compare with.

#include <cmath>
#include <cstdint>

#include "numerics/minifloat.hpp"

namespace chipref::testing {

// (−1)^s · 2^(1−bias) · m/2^M for a zero exponent field, (−1)^s · 2^(e−bias) · (1 + m/2^M) otherwise; the
// format's infinities and NaNs as such.
inline long double spec_float_value(const FloatFormat& f, uint32_t code) {
  const int M = f.mantissa_bits;
  const int e = static_cast<int>((code >> M) & ((1u << f.exponent_bits) - 1));
  const int m = static_cast<int>(code & ((1u << M) - 1));
  const long double sign = (code >> (f.bits() - 1)) & 1 ? -1 : 1;
  const int top = (1 << f.exponent_bits) - 1;
  if (f.specials == FloatSpecials::ieee && e == top) return m == 0 ? sign * INFINITY : NAN;
  if (f.specials == FloatSpecials::nan_only && e == top && m == (1 << M) - 1) return NAN;
  if (e == 0) return sign * std::ldexp(static_cast<long double>(m), 1 - f.bias - M);
  return sign * std::ldexp(static_cast<long double>((1 << M) + m), e - f.bias - M);
}

}  // namespace chipref::testing
