#pragma once
// Table lookup: the integer form of an elementwise non-linear (GELU, sigmoid, exp, ...). Spec:
// docs/numerics.md §8. The table is built by quant/lut.hpp from the float function and the input and
// output quantization; this kernel only indexes it.
//   i = (x − in_min) >> shift,  r = (x − in_min) mod 2^shift
//   direct (shift = 0):         y = T[i]
//   nearest entry:              y = T[(x − in_min + 2^(shift−1)) >> shift]
//   interpolated:               y = T[i] + R_half_even((T[i+1] − T[i]) · r / 2^shift)
// T has 2^(input bits − shift) + 1 entries (the last one closes the final interval); y is saturated to
// the output format. Inputs outside [in_min, in_min + (entries − 1)·2^shift] are an InputError.

#include <cstdint>
#include <vector>

#include "numerics/int_format.hpp"

namespace chipref::kernels {

struct Lut {
  std::vector<int32_t> table;
  int64_t in_min = 0;
  int shift = 0;
  bool interpolate = false;
  IntFormat out = IntFormat::int_bits(8);
};

void lut(const Lut& p, const int32_t* x, int64_t n, int32_t* y);

}  // namespace chipref::kernels
