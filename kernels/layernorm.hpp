#pragma once
// Integer LayerNorm over the last axis (spec: docs/numerics.md §10). Per row of n input codes x:
//   d_i = x_i − z_x;  c_i = n·d_i − Σd            (exact centring, in units of 1/n code)
//   V = Σ c_i²                                     (128-bit)
//   S = isqrt(round_half_up(V·4^g / n) + E)        (≈ 2^g · the standard deviation in c units; E carries ε)
//   z_i = rounding_divide(c_i · 2^(15+g), S)       (the normalised value, 15 fractional bits)
//   y_i = sat_out(z_y + b_i + R(z_i · G_i)),  G_i ≈ γ_i / (s_y · 2^15), b_i = round(β_i / s_y), R half to even
// isqrt is the exact floor square root by Newton's iteration (I-BERT's i-sqrt).

#include <cstdint>
#include <vector>

#include "numerics/requant.hpp"

namespace chipref::kernels {

inline constexpr int kLayerNormZBits = 15;
inline constexpr int64_t kLayerNormMaxLength = 4096;

struct LayerNorm {
  int64_t in_zero_point = 0;
  int extra_bits = 16;   // g
  uint64_t epsilon = 0;  // E = round(ε · n² · 4^g / s_x²), in the units of V·4^g / n
  Requantizer requantizer =
      Requantizer::make(RequantFlavour::single, RoundingMode::half_even, IntFormat::make(8, true), 0);
  std::vector<RequantChannel> gamma;    // |G_j|, one per element of the last axis
  std::vector<uint8_t> gamma_negative;  // 1: the sign of G_j (half-to-even rounding is odd-symmetric: R(−a) = −R(a))
  std::vector<int64_t> beta;
};

// floor(√v), exactly, for every v (Newton's iteration from a power-of-two overestimate).
uint64_t integer_sqrt(unsigned __int128 v);

void layernorm(const LayerNorm& p, const int32_t* x, int64_t rows, int64_t n, int32_t* y);

}  // namespace chipref::kernels
