#include "sim/kernels/mac.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cstdlib>

namespace chipref::kernels {

namespace {
// The MAC kernels hand int32 accumulators to MulShift; a wider accumulator has to be narrowed by a
// documented step first, which does not exist yet.
void require_int32_accumulator(const AccumulatorSpec& acc) {
  if (acc.bits() > 32)
    throw InputError("accumulator width " + std::to_string(acc.bits()) + " is not supported by the MAC kernels yet; expected <= 32");
}
// Largest |x − zp| in the input: with Σ|w| per output it bounds every partial sum.
int64_t max_abs_offset(const int32_t* x, int64_t n, int32_t zp) {
  int64_t m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max<int64_t>(m, std::abs(int64_t{x[i]} - zp));
  return m;
}

// True when no partial sum of output `o` can leave the accumulator: |b| + max|x − zp| · Σ|w| fits. Then
// an unchecked int64 sum is exactly what the checked one computes, with no overflow events.
bool provably_in_range(const AccumulatorSpec& acc, int64_t bias, int64_t max_abs_x, const int32_t* w, int64_t k) {
  int64_t abs_sum = 0;
  for (int64_t i = 0; i < k; ++i) abs_sum += std::abs(int64_t{w[i]});
  const int64_t bound = std::abs(bias) + max_abs_x * abs_sum;  // < 2^62 for 16-bit codes and K < 2^28
  return bound <= acc.max() && -bound >= acc.min();
}

void require_valid(const ConvGeometry& g) {
  if (!g.valid()) throw InputError("invalid convolution geometry (kernel larger than the padded input, or inconsistent groups)");
}
}  // namespace

bool ConvGeometry::valid() const {
  for (int64_t v : {batch, in_channels, in_h, in_w, out_channels, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, groups})
    if (v < 1) return false;
  if (pad_top < 0 || pad_left < 0 || pad_bottom < 0 || pad_right < 0) return false;
  if (in_channels % groups || out_channels % groups) return false;
  return in_h + pad_top + pad_bottom >= (kernel_h - 1) * dilation_h + 1 && in_w + pad_left + pad_right >= (kernel_w - 1) * dilation_w + 1;
}

void conv_mac(const ConvGeometry& g, const int32_t* x, int32_t x_zero_point, const int32_t* w,
              const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow, int32_t* out) {
  require_int32_accumulator(acc);
  require_valid(g);
  const int64_t oh = g.out_h(), ow = g.out_w();
  const int64_t c_per_group = g.in_channels / g.groups, m_per_group = g.out_channels / g.groups;
  const int64_t k = c_per_group * g.kernel_h * g.kernel_w, pixels = oh * ow;
  const int64_t max_abs_x = max_abs_offset(x, g.batch * g.in_channels * g.in_h * g.in_w, x_zero_point);

  // Fast path for groups whose every channel is provably in range: im2col of (x − zp), then an int32
  // GEMM. Every partial sum, in any order the GEMM chooses, is bounded by Σ|terms| <= the proven bound
  // <= 2^31 − 1, so int32 arithmetic is exact and equals the ordered per-addition sum. Other groups take
  // the per-addition path below.
  using IntMatrix = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  IntMatrix col(k, pixels);
  std::vector<bool> group_fast(static_cast<size_t>(g.groups), true);
  for (int64_t m = 0; m < g.out_channels; ++m)
    if (!provably_in_range(acc, bias.empty() ? 0 : bias[m], max_abs_x, w + m * k, k)) group_fast[m / m_per_group] = false;
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      if (!group_fast[grp]) continue;
      for (int64_t c = 0; c < c_per_group; ++c) {
        const int32_t* plane = x + ((n * g.in_channels) + grp * c_per_group + c) * g.in_h * g.in_w;
        for (int64_t ky = 0; ky < g.kernel_h; ++ky)
          for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
            int32_t* row = col.data() + ((c * g.kernel_h + ky) * g.kernel_w + kx) * pixels;
            for (int64_t oy = 0; oy < oh; ++oy) {
              const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
              for (int64_t ox = 0; ox < ow; ++ox) {
                const int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
                const bool inside = iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w;
                row[oy * ow + ox] = inside ? plane[iy * g.in_w + ix] - x_zero_point : 0;  // padding holds zp: contributes 0
              }
            }
          }
      }
      Eigen::Map<const IntMatrix> wg(w + grp * m_per_group * k, m_per_group, k);
      Eigen::Map<IntMatrix> yg(out + (n * g.out_channels + grp * m_per_group) * pixels, m_per_group, pixels);
      yg.noalias() = wg * col;
      if (!bias.empty())
        for (int64_t m = 0; m < m_per_group; ++m) yg.row(m).array() += bias[grp * m_per_group + m];
    }

  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t m = 0; m < g.out_channels; ++m) {
      const int64_t group = m / m_per_group;
      if (group_fast[group]) continue;
      const int32_t* wm = w + m * k;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t sum = bias.empty() ? 0 : acc.add(0, bias[m], overflow);
          for (int64_t c = 0; c < c_per_group; ++c) {
            const int32_t* plane = x + ((n * g.in_channels) + group * c_per_group + c) * g.in_h * g.in_w;
            for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
              const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
              for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
                const int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
                const bool inside = iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w;
                const int64_t xv = (inside ? plane[iy * g.in_w + ix] : x_zero_point) - int64_t{x_zero_point};
                sum = acc.add(sum, xv * wm[(c * g.kernel_h + ky) * g.kernel_w + kx], overflow);
              }
            }
          }
          out[((n * g.out_channels + m) * oh + oy) * ow + ox] = static_cast<int32_t>(sum);
        }
    }
}

void linear_mac(int64_t rows, int64_t in_features, int64_t out_features, const int32_t* a, int32_t a_zero_point,
                const int32_t* w, const std::vector<int32_t>& bias, const AccumulatorSpec& acc,
                OverflowCounter& overflow, int32_t* out) {
  require_int32_accumulator(acc);
  const int64_t max_abs_a = max_abs_offset(a, rows * in_features, a_zero_point);
  for (int64_t o = 0; o < out_features; ++o) {
    const int32_t* wo = w + o * in_features;
    const bool unchecked = provably_in_range(acc, bias.empty() ? 0 : bias[o], max_abs_a, wo, in_features);
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t* ar = a + r * in_features;
      int64_t sum;
      if (unchecked) {
        sum = bias.empty() ? 0 : bias[o];
        for (int64_t k = 0; k < in_features; ++k) sum += (int64_t{ar[k]} - a_zero_point) * wo[k];
      } else {
        sum = bias.empty() ? 0 : acc.add(0, bias[o], overflow);
        for (int64_t k = 0; k < in_features; ++k) sum = acc.add(sum, (int64_t{ar[k]} - a_zero_point) * wo[k], overflow);
      }
      out[r * out_features + o] = static_cast<int32_t>(sum);
    }
  }
}

}  // namespace chipref::kernels
