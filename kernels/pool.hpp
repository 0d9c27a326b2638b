#pragma once
// Pooling on integer codes. Average pooling is a window sum of (x − zp) here, followed by a MulShift
// whose scale carries 1/count; max pooling is pure comparison (monotone in the code, so exact).

#include <cstdint>

#include "kernels/mac.hpp"

namespace chipref::kernels {

// sum[n][c][oy][ox] = Σ over the window positions inside the input of (x − zp). Geometry as for a
// depthwise conv with in_channels == out_channels == groups; padded positions contribute nothing.
void window_sum(const ConvGeometry& g, const int32_t* x, int32_t zero_point, int32_t* out);
// max over the window positions inside the input (padding excluded).
void window_max(const ConvGeometry& g, const int32_t* x, int32_t* out);
// The same from codes stored as bytes (code = x[i] + base: kernels::CodesIn), int32 codes out.
void window_max(const ConvGeometry& g, const uint8_t* x, int32_t base, int32_t* out);
// Whether every window holds at least one input element (each pad narrower than the dilated window): then each
// maximum is one of the input's codes.
bool every_window_reaches_input(const ConvGeometry& g);
// Bytes in, bytes out with the same base (a maximum of codes is one of them); needs every_window_reaches_input.
void window_max(const ConvGeometry& g, const uint8_t* x, uint8_t* out);

}  // namespace chipref::kernels
