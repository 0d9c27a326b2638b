#pragma once
// Independent reference for rounding x / d (and x / 2^shift): written with C's truncating division and the
// remainder's magnitude (|r| compared against d/2), not with the floor-and-mask scheme the library uses.

#include <cstdint>

#include "numerics/rounding.hpp"

namespace chipref::testing {

// round(x / d) for d > 0.
inline __int128 reference_round_div(__int128 x, __int128 d, RoundingMode mode) {
  const __int128 q = x / d;  // truncated toward zero
  const __int128 r = x % d;  // same sign as x, |r| < d
  const __int128 twice_abs_r = 2 * (r < 0 ? -r : r);
  const int away = r > 0 ? 1 : -1;  // direction of the other neighbour of q
  if (r == 0) return q;
  switch (mode) {
    case RoundingMode::toward_zero:
      return q;
    case RoundingMode::floor:
      return r < 0 ? q - 1 : q;
    case RoundingMode::half_up:
      if (twice_abs_r == d) return r > 0 ? q + 1 : q;  // tie: toward +inf
      return twice_abs_r > d ? q + away : q;
    case RoundingMode::half_away:
      return twice_abs_r >= d ? q + away : q;
    case RoundingMode::half_even:
      if (twice_abs_r == d) return (q % 2 == 0) ? q : q + away;
      return twice_abs_r > d ? q + away : q;
  }
  return q;
}

inline __int128 reference_round_div_pow2(__int128 x, int shift, RoundingMode mode) {
  return reference_round_div(x, static_cast<__int128>(1) << shift, mode);
}

}  // namespace chipref::testing
