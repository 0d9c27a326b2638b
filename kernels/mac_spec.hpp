#pragma once
// The MAC kernels' spec (docs/numerics.md §4, §5): each output a sum through the accumulator, one
// addition at a time, in the reduction order that defines saturation and the overflow counts. These loops
// are the definition; kernels/mac.cpp's fast paths (portable, avx2) are used only where they provably
// give the same integers, and tests/sim/test_simd.cpp checks them against these.

#include <cstdint>
#include <vector>

#include "kernels/mac.hpp"

namespace chipref::kernels::spec {

// conv_mac's channel m of image n: acc[n][m][oy][ox] = bias[m] + Σ (x − z_x)·w[m][c][ky][kx], the bias
// first, then c, ky, kx ascending; a padded position reads z_x and adds exactly 0. `w` is [M, C/G, KH, KW].
void conv_mac_channel(const ConvGeometry& g, const int32_t* x, int32_t x_zero_point, const int32_t* w,
                      const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow,
                      int64_t n, int64_t m, int32_t* out);

// One output of linear_mac: bias + Σ_k (a[k] − z_a)·w[k], the bias first, then k ascending.
int64_t linear_mac_output(const int32_t* a, int32_t a_zero_point, const int32_t* w, int64_t in_features,
                          const int32_t* bias, const AccumulatorSpec& acc, OverflowCounter& overflow);

// One output of matmul_mac: Σ_t (a[t] − z_a)·c[t], t ascending, `c` already offset by its zero point.
int64_t matmul_mac_output(const int32_t* a, int32_t a_zero_point, const int64_t* c_offset, int64_t k,
                          const AccumulatorSpec& acc, OverflowCounter& overflow);

}  // namespace chipref::kernels::spec
