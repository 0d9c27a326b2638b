#include "kernels/pool.hpp"

#include <algorithm>
#include <limits>

namespace chipref::kernels {

namespace {
template <bool kPadded, class Reduce>
void for_each_window(const ConvGeometry& g, const int32_t* x, int32_t* out, int64_t init, Reduce reduce) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  for (int64_t p = 0; p < g.batch * g.in_channels; ++p) {
    const int32_t* plane = x + p * g.in_h * g.in_w;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        int64_t v = init;
        for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
          const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
          for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
            const int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
            // without padding every window position of a valid geometry lies inside the input
            if (!kPadded || (iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w)) v = reduce(v, plane[iy * g.in_w + ix]);
          }
        }
        out[(p * oh + oy) * ow + ox] = static_cast<int32_t>(v);
      }
  }
}
template <class Reduce>
void for_each_window(const ConvGeometry& g, const int32_t* x, int32_t* out, int64_t init, Reduce reduce) {
  if (!g.valid()) throw InputError("invalid pooling geometry (window larger than the padded input)");
  if (g.pad_top == 0 && g.pad_left == 0 && g.pad_bottom == 0 && g.pad_right == 0)
    for_each_window<false>(g, x, out, init, reduce);
  else
    for_each_window<true>(g, x, out, init, reduce);
}
}  // namespace

void window_sum(const ConvGeometry& g, const int32_t* x, int32_t zero_point, int32_t* out) {
  // |x − zp| < 2^17 for 16-bit codes, and windows hold far fewer than 2^14 elements: no int32 overflow.
  for_each_window(g, x, out, 0, [zero_point](int64_t s, int32_t v) { return s + (int64_t{v} - zero_point); });
}

void window_max(const ConvGeometry& g, const int32_t* x, int32_t* out) {
  for_each_window(g, x, out, std::numeric_limits<int32_t>::min(),
                  [](int64_t m, int32_t v) { return std::max<int64_t>(m, v); });
}

}  // namespace chipref::kernels
