#pragma once
// Integer softmax over the last axis (spec: docs/numerics.md §9). Per row of input codes x:
//   m = max x;  T_i = exp_table[m − x_i]  (round_half_even(2^E · exp(−s_x · (m − x_i))), T of the max is 2^E)
//   S = Σ T_i;  y_i = sat_out(z_y + rounding_divide(T_i · M, S, half_even))
// with the output scale 1/M (M an integer: 2^b for b-bit unsigned codes, as TFLite's 1/256). Rows sum
// to M within ±n/2 unless an element saturates.

#include <cstdint>
#include <vector>

#include "numerics/int_format.hpp"

namespace chipref::kernels {

struct Softmax {
  std::vector<int32_t> exp_table;  // indexed by m − x >= 0; entries past the end are 0
  int64_t one_over_scale = 256;    // M: the output code of probability 1
  int64_t zero_point = 0;
  IntFormat out = IntFormat::make(8, false);
};

// With `mask` (codes of x's shape, or null): an element whose mask code is `masked_code` takes no part
// (exp(−∞) = 0, an attention mask's −∞ added to a score): the max and the sum run over the others, and
// its output is z_y (probability 0). A row with every element masked outputs z_y throughout (float
// softmax gives NaN there; docs/numerics.md §9).
void softmax(const Softmax& p, const int32_t* x, int64_t rows, int64_t cols, int32_t* y, const int32_t* mask = nullptr,
             int32_t masked_code = 1);

}  // namespace chipref::kernels
