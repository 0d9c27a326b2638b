#include "kernels/softmax.hpp"

#include <algorithm>
#include <vector>

#include "kernels/avx512.hpp"
#include "kernels/simd.hpp"
#include "numerics/rounding.hpp"

namespace chipref::kernels {

void softmax(const Softmax& p, const int32_t* x, int64_t rows, int64_t cols, int32_t* y, const int32_t* mask,
             int32_t masked_code) {
  const int64_t table_size = static_cast<int64_t>(p.exp_table.size());
  // locals, not p's members, so that the loops need not reload them after each store to y
  const int32_t* table = p.exp_table.data();
  const IntFormat out_format = p.out;
  const int64_t zero_point = p.zero_point, one = p.one_over_scale;
  thread_local std::vector<int64_t> t;
  t.resize(static_cast<size_t>(cols));
  // The avx512_vnni level's unmasked rows (avx512.hpp): the same integers, 16 codes at a time.
  thread_local std::vector<int32_t> t32;
  // Its division's bound T_i · M / S <= M needs every entry in [0, 2^30] (chipref's tables are 0..2^E).
  const bool vector_rows = !mask && simd_level() >= SimdLevel::avx512_vnni &&
                           std::all_of(table, table + table_size, [](int32_t e) { return e >= 0 && e <= (1 << 30); });
  if (vector_rows) t32.resize(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* row = x + r * cols;
    if (vector_rows && avx512::softmax_row(table, table_size, one, zero_point, out_format.min(), out_format.max(), row,
                                           cols, t32.data(), y + r * cols))
      continue;
    const int32_t* row_mask = mask ? mask + r * cols : nullptr;
    auto kept = [&](int64_t c) { return !row_mask || row_mask[c] != masked_code; };
    bool any = false;
    int32_t m = 0;
    if (!row_mask) {
      if (cols > 0) m = *std::max_element(row, row + cols), any = true;
    } else {
      for (int64_t c = 0; c < cols; ++c)
        if (kept(c)) m = any ? std::max(m, row[c]) : row[c], any = true;
    }
    int64_t sum = 0;  // <= cols · 2^E: far inside int64 for E <= 30
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t d = int64_t{m} - row[c];
      t[c] = kept(c) && d < table_size ? table[d] : 0;
      sum += t[c];
    }
    int32_t* out = y + r * cols;
    if (sum == 0) {
      std::fill(out, out + cols, static_cast<int32_t>(out_format.saturate(zero_point)));
      continue;
    }
    const RoundingDivider by_sum(sum);
    for (int64_t c = 0; c < cols; ++c)
      out[c] =
          static_cast<int32_t>(out_format.saturate(zero_point + by_sum.divide(t[c] * one, RoundingMode::half_even)));
  }
}

}  // namespace chipref::kernels
