#pragma once
// Linear resizing of integer codes (ONNX Resize, mode linear), separable: along each resized axis every
// output index blends two input indices with a weight of `fraction_bits` fractional bits; one rounding
// at the end (spec: docs/numerics.md §6).

#include <cstdint>
#include <vector>

#include "core/shape.hpp"
#include "numerics/requant.hpp"

namespace chipref::kernels {

// One resized axis: for output index i, input indices lo[i] and hi[i] and hi's weight w[i] in units of
// 2^−F (lo's is 2^F − w[i]), 0 ≤ w[i] ≤ 2^F.
struct ResizeLinearAxis {
  int64_t axis = 0, out = 0;
  std::vector<int64_t> lo, hi, weight_hi;
};

struct ResizeLinear {
  std::vector<ResizeLinearAxis> axes;  // in the order they are applied
  int fraction_bits = 0;
  int32_t zero_point_x = 0;
  Requantizer requantizer;  // acc · S with S = s_x / (2^(F·axes) · s_y), the output zero point and format
  RequantChannel scale;
  int64_t clamp_lo = 0, clamp_hi = 0;
};

// y = clamp(sat_out(zp_y + R(acc · S)), lo, hi) with acc = Σ over the 2^axes taps of Π weights · (x − zp_x),
// computed axis by axis in int64; the lowering chooses F so that |acc| < 2^31 (InputError otherwise).
void resize_linear(const ResizeLinear& p, const Shape& x_shape, const int32_t* x, Shape& y_shape,
                   std::vector<int32_t>& y);

}  // namespace chipref::kernels
