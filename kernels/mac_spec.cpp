#include "kernels/mac_spec.hpp"

namespace chipref::kernels::spec {

void conv_mac_channel(const ConvGeometry& g, const int32_t* x, int32_t x_zero_point, const int32_t* w,
                      const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow,
                      int64_t n, int64_t m, int32_t* out) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  const int64_t c_per_group = g.in_channels / g.groups, m_per_group = g.out_channels / g.groups,
                group = m / m_per_group;
  const int32_t* wm = w + m * c_per_group * g.kernel_h * g.kernel_w;
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

int64_t linear_mac_output(const int32_t* a, int32_t a_zero_point, const int32_t* w, int64_t in_features,
                          const int32_t* bias, const AccumulatorSpec& acc, OverflowCounter& overflow) {
  int64_t sum = bias ? acc.add(0, *bias, overflow) : 0;
  for (int64_t k = 0; k < in_features; ++k) sum = acc.add(sum, (int64_t{a[k]} - a_zero_point) * w[k], overflow);
  return sum;
}

int64_t matmul_mac_output(const int32_t* a, int32_t a_zero_point, const int64_t* c_offset, int64_t k,
                          const AccumulatorSpec& acc, OverflowCounter& overflow) {
  int64_t sum = 0;
  for (int64_t t = 0; t < k; ++t) sum = acc.add(sum, (int64_t{a[t]} - a_zero_point) * c_offset[t], overflow);
  return sum;
}

}  // namespace chipref::kernels::spec
