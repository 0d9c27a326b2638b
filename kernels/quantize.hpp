#pragma once
// The input boundary: float inputs to integer codes, y = clamp(round_half_even(fl(x / scale)) + zp, lo, hi)
// with the quotient in float32 (docs/numerics.md §1). The one implementation, for every engine.

#include <cstdint>

namespace chipref::kernels {

struct FloatQuantize {
  float scale;
  int64_t zero_point;
  int64_t lo, hi;  // the code format's range
};

// Quantizes x[0, n) into y. Returns the index of the first non-finite input (whose code and those after it
// are not written), or n when every input is finite.
int64_t quantize_floats(const FloatQuantize& p, const float* x, int64_t n, int32_t* y);

}  // namespace chipref::kernels
