#include "kernels/sparse.hpp"

#include <algorithm>
#include <cstdlib>

#include "core/error.hpp"
#include "kernels/simd.hpp"

namespace chipref::kernels {

int NmPattern::index_bits() const {
  int bits = 1;
  while ((1 << bits) < m) ++bits;
  return bits;
}

uint32_t NmWeights::index(int64_t t) const {
  const int b = pattern.index_bits();
  const int64_t bit = t * b;
  const uint64_t low = index_words[static_cast<size_t>(bit / 32)];
  const uint64_t high =
      bit / 32 + 1 < static_cast<int64_t>(index_words.size()) ? index_words[static_cast<size_t>(bit / 32 + 1)] : 0;
  return static_cast<uint32_t>(((high << 32 | low) >> (bit % 32)) & ((uint64_t{1} << b) - 1));
}

NmWeights encode_nm(NmPattern pattern, int64_t rows, int64_t k, const std::vector<int32_t>& values,
                    const std::vector<uint32_t>& indices) {
  if (!pattern.valid())
    throw InputError("N:M pattern " + std::to_string(pattern.n) + ":" + std::to_string(pattern.m) +
                     " is invalid; expected 1 <= N <= M, 2 <= M <= 256");
  NmWeights w;
  w.pattern = pattern, w.rows = rows, w.k = k, w.values = values;
  if (static_cast<int64_t>(values.size()) != w.index_count() || static_cast<int64_t>(indices.size()) != w.index_count())
    throw InputError("encode_nm: " + std::to_string(values.size()) + " values and " + std::to_string(indices.size()) +
                     " indices for " + std::to_string(w.index_count()) + " kept positions");
  const int b = pattern.index_bits();
  w.index_words.assign(static_cast<size_t>(w.words()), 0);
  for (int64_t t = 0; t < w.index_count(); ++t) {
    const uint64_t v = indices[t];
    const int64_t bit = t * b;
    w.index_words[static_cast<size_t>(bit / 32)] |= static_cast<uint32_t>(v << (bit % 32));
    if (bit % 32 + b > 32)
      w.index_words[static_cast<size_t>(bit / 32 + 1)] |= static_cast<uint32_t>(v >> (32 - bit % 32));
  }
  return w;
}

NmWeights compress_nm(NmPattern pattern, int64_t rows, int64_t k, const std::vector<int32_t>& dense,
                      const std::string& what) {
  if (!pattern.valid())
    throw InputError(what + ": N:M pattern " + std::to_string(pattern.n) + ":" + std::to_string(pattern.m) +
                     " is invalid; expected 1 <= N <= M, 2 <= M <= 256");
  if (static_cast<int64_t>(dense.size()) != rows * k)
    throw InputError(what + ": " + std::to_string(dense.size()) + " weights for [" + std::to_string(rows) + ", " +
                     std::to_string(k) + "]");
  const int64_t groups = (k + pattern.m - 1) / pattern.m;
  std::vector<int32_t> values;
  std::vector<uint32_t> indices;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      std::vector<bool> keep(static_cast<size_t>(pattern.m), false);
      int kept = 0;
      for (int i = 0; i < pattern.m; ++i) {
        const int64_t position = g * pattern.m + i;
        if (position < k && dense[r * k + position] != 0) keep[i] = true, ++kept;
      }
      if (kept > pattern.n)
        throw InputError(what + ": row " + std::to_string(r) + ", group " + std::to_string(g) + " has " +
                         std::to_string(kept) + " non-zero weights; " + std::to_string(pattern.n) + ":" +
                         std::to_string(pattern.m) + " allows " + std::to_string(pattern.n));
      for (int i = 0; i < pattern.m && kept < pattern.n; ++i)
        if (!keep[i]) keep[i] = true, ++kept;
      for (int i = 0; i < pattern.m; ++i)
        if (keep[i]) {
          const int64_t position = g * pattern.m + i;
          values.push_back(position < k ? dense[r * k + position] : 0);
          indices.push_back(static_cast<uint32_t>(i));
        }
    }
  return encode_nm(pattern, rows, k, values, indices);
}

void validate_nm(const NmWeights& w, const std::string& what) {
  const NmPattern& p = w.pattern;
  if (!p.valid())
    throw InputError(what + ": N:M pattern " + std::to_string(p.n) + ":" + std::to_string(p.m) +
                     " is invalid; expected 1 <= N <= M, 2 <= M <= 256");
  if (w.rows < 0 || w.k < 1)
    throw InputError(what + ": invalid dense shape [" + std::to_string(w.rows) + ", " + std::to_string(w.k) + "]");
  if (static_cast<int64_t>(w.values.size()) != w.index_count())
    throw InputError(what + ": " + std::to_string(w.values.size()) + " kept values; " + std::to_string(w.rows) +
                     " rows × " + std::to_string(w.groups()) + " groups × N = " + std::to_string(p.n) + " need " +
                     std::to_string(w.index_count()));
  if (static_cast<int64_t>(w.index_words.size()) != w.words())
    throw InputError(what + ": " + std::to_string(w.index_words.size()) + " index words; " +
                     std::to_string(w.index_count()) + " indices of " + std::to_string(p.index_bits()) + " bits need " +
                     std::to_string(w.words()));
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t g = 0; g < w.groups(); ++g) {
      const std::string where = what + ": row " + std::to_string(r) + ", group " + std::to_string(g);
      int64_t previous = -1;
      for (int j = 0; j < p.n; ++j) {
        const int64_t t = (r * w.groups() + g) * p.n + j;
        const int64_t i = w.index(t);
        if (i >= p.m)
          throw InputError(where + ": index " + std::to_string(i) + " is outside [0, " + std::to_string(p.m) + ")");
        if (i <= previous)
          throw InputError(where + ": indices must ascend strictly; " + std::to_string(i) +
                           (i == previous ? " repeats" : " follows " + std::to_string(previous)));
        if (g * p.m + i >= w.k && w.values[t] != 0)
          throw InputError(where + ": index " + std::to_string(i) + " is padding (position " +
                           std::to_string(g * p.m + i) + " >= " + std::to_string(w.k) + ") but holds " +
                           std::to_string(w.values[t]));
        previous = i;
      }
    }
}

std::vector<int32_t> decode_nm(const NmWeights& w, const std::string& what) {
  validate_nm(w, what);
  std::vector<int32_t> dense(static_cast<size_t>(w.rows * w.k), 0);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t g = 0; g < w.groups(); ++g)
      for (int j = 0; j < w.pattern.n; ++j) {
        const int64_t t = (r * w.groups() + g) * w.pattern.n + j, position = g * w.pattern.m + w.index(t);
        if (position < w.k) dense[r * w.k + position] = w.values[t];
      }
  return dense;
}

namespace {
// The kept (position, value) pairs of each row, ascending, zero values and padding dropped.
struct KeptRow {
  std::vector<int64_t> positions;
  std::vector<int64_t> values;
  int64_t abs_sum = 0;
};
std::vector<KeptRow> kept_rows(const NmWeights& w) {
  std::vector<KeptRow> rows(static_cast<size_t>(w.rows));
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t g = 0; g < w.groups(); ++g)
      for (int j = 0; j < w.pattern.n; ++j) {
        const int64_t t = (r * w.groups() + g) * w.pattern.n + j, position = g * w.pattern.m + w.index(t);
        if (position >= w.k || w.values[t] == 0) continue;
        rows[r].positions.push_back(position), rows[r].values.push_back(w.values[t]);
        rows[r].abs_sum += std::abs(int64_t{w.values[t]});
      }
  return rows;
}

// The sum over the kept pairs of (x at the pair's position − zp) · value, bias first, ascending; a plain
// int64 sum when `unchecked` (every partial sum provably in the accumulator's range), else per addition.
template <class InputAt>
int64_t kept_sum(const KeptRow& row, int64_t bias, bool unchecked, const AccumulatorSpec& acc,
                 OverflowCounter& overflow, InputAt input_at) {
  const size_t n = row.positions.size();
  if (unchecked) {
    int64_t sum = bias;
    for (size_t i = 0; i < n; ++i) sum += input_at(row.positions[i]) * row.values[i];
    return sum;
  }
  int64_t sum = acc.add(0, bias, overflow);
  for (size_t i = 0; i < n; ++i) sum = acc.add(sum, input_at(row.positions[i]) * row.values[i], overflow);
  return sum;
}

}  // namespace

void conv_mac_skip_zero(const ConvGeometry& g, const int32_t* x, int32_t x_zero_point, const NmWeights& w,
                        const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow,
                        int32_t* out) {
  if (!g.valid()) throw InputError("conv_mac_skip_zero: invalid convolution geometry");
  if (w.rows != g.out_channels || w.k != g.reduction_length())
    throw InputError("conv_mac_skip_zero: sparse weights are [" + std::to_string(w.rows) + ", " + std::to_string(w.k) +
                     "]; the geometry needs [" + std::to_string(g.out_channels) + ", " +
                     std::to_string(g.reduction_length()) + "]");
  const std::vector<KeptRow> rows = kept_rows(w);
  const int64_t oh = g.out_h(), ow = g.out_w(), c_per_group = g.in_channels / g.groups,
                m_per_group = g.out_channels / g.groups;
  const int64_t kernel = g.kernel_h * g.kernel_w;
  const int64_t max_abs_x = max_abs_offset(x, g.batch * g.in_channels * g.in_h * g.in_w, x_zero_point);
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t m = 0; m < g.out_channels; ++m) {
      const int64_t b = bias.empty() ? 0 : bias[m];
      const KeptRow& row = rows[m];
      const int32_t* group_input = x + (n * g.in_channels + (m / m_per_group) * c_per_group) * g.in_h * g.in_w;
      int32_t* plane = out + (n * g.out_channels + m) * oh * ow;
      if (simd_level() != SimdLevel::per_addition && provably_in_range(acc, b, max_abs_x, row.abs_sum)) {
        // Weight-stationary: each kept weight adds value · (x − zp) of its shifted input window to the
        // whole output plane. Every partial sum is within the proven bound (< 2^31): int32 is exact, in
        // any order.
        std::fill(plane, plane + oh * ow, static_cast<int32_t>(b));
        for (size_t i = 0; i < row.positions.size(); ++i) {
          const int64_t c = row.positions[i] / kernel, ky = row.positions[i] % kernel / g.kernel_w,
                        kx = row.positions[i] % g.kernel_w;
          const int32_t value = static_cast<int32_t>(row.values[i]);
          // the output columns whose input column is inside the image: ix = ox·sw − pl + kx·dw in [0, in_w)
          const int64_t shift = kx * g.dilation_w - g.pad_left;
          const int64_t ox_lo = shift >= 0 ? 0 : (-shift + g.stride_w - 1) / g.stride_w;
          const int64_t ox_hi = std::min<int64_t>(ow, shift >= g.in_w ? 0 : (g.in_w - 1 - shift) / g.stride_w + 1);
          for (int64_t oy = 0; oy < oh; ++oy) {
            const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
            if (iy < 0 || iy >= g.in_h) continue;  // zero-point padding contributes 0
            const int32_t* in_row = group_input + (c * g.in_h + iy) * g.in_w + shift;
            int32_t* out_row = plane + oy * ow;
            for (int64_t ox = ox_lo; ox < ox_hi; ++ox) out_row[ox] += value * (in_row[ox * g.stride_w] - x_zero_point);
          }
        }
        continue;
      }
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          auto input_at = [&](int64_t position) -> int64_t {  // position = (c · KH + ky) · KW + kx
            const int64_t c = position / kernel, ky = position % kernel / g.kernel_w, kx = position % g.kernel_w;
            const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h,
                          ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
            if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) return 0;  // zero-point padding contributes 0
            return int64_t{group_input[(c * g.in_h + iy) * g.in_w + ix]} - x_zero_point;
          };
          plane[oy * ow + ox] = static_cast<int32_t>(kept_sum(row, b, false, acc, overflow, input_at));
        }
    }
}

void linear_mac_skip_zero(int64_t rows, const int32_t* a, int32_t a_zero_point, const NmWeights& w,
                          const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow,
                          int32_t* out) {
  const std::vector<KeptRow> kept = kept_rows(w);
  const int64_t max_abs_a = max_abs_offset(a, rows * w.k, a_zero_point);
  for (int64_t o = 0; o < w.rows; ++o) {
    const int64_t b = bias.empty() ? 0 : bias[o];
    const bool unchecked =
        simd_level() != SimdLevel::per_addition && provably_in_range(acc, b, max_abs_a, kept[o].abs_sum);
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t* ar = a + r * w.k;
      out[r * w.rows + o] = static_cast<int32_t>(
          kept_sum(kept[o], b, unchecked, acc, overflow, [&](int64_t k) { return int64_t{ar[k]} - a_zero_point; }));
    }
  }
}

}  // namespace chipref::kernels
