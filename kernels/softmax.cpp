#include "kernels/softmax.hpp"

#include <algorithm>

#include "numerics/rounding.hpp"

namespace chipref::kernels {

void softmax(const Softmax& p, const int32_t* x, int64_t rows, int64_t cols, int32_t* y) {
  const int64_t table_size = static_cast<int64_t>(p.exp_table.size());
  std::vector<int64_t> t(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* row = x + r * cols;
    const int32_t m = *std::max_element(row, row + cols);
    int64_t sum = 0;  // <= cols · 2^E: far inside int64 for E <= 30
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t d = int64_t{m} - row[c];
      t[c] = d < table_size ? p.exp_table[d] : 0;
      sum += t[c];
    }
    for (int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = static_cast<int32_t>(
          p.out.saturate(p.zero_point + rounding_divide(t[c] * p.one_over_scale, sum, RoundingMode::half_even)));
  }
}

}  // namespace chipref::kernels
