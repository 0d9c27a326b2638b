#include "kernels/resize.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace chipref::kernels {

void resize_linear(const ResizeLinear& p, const Shape& x_shape, const int32_t* x, Shape& y_shape,
                   std::vector<int32_t>& y) {
  const int64_t one = int64_t{1} << p.fraction_bits;
  Shape shape = x_shape;
  std::vector<int64_t> cur(static_cast<size_t>(element_count(shape)));
  for (size_t e = 0; e < cur.size(); ++e) cur[e] = int64_t{x[e]} - p.zero_point_x;
  for (const ResizeLinearAxis& a : p.axes) {
    if (a.axis < 0 || a.axis >= static_cast<int64_t>(shape.size()))
      throw InputError("resize_linear: axis " + std::to_string(a.axis) + " is outside " + shape_to_string(shape));
    const int64_t in = shape[a.axis];
    for (size_t i = 0; i < a.lo.size(); ++i)
      if (a.lo[i] < 0 || a.lo[i] >= in || a.hi[i] < 0 || a.hi[i] >= in || a.weight_hi[i] < 0 || a.weight_hi[i] > one)
        throw InputError("resize_linear: output " + std::to_string(i) + " of axis " + std::to_string(a.axis) +
                         " reads outside the input's " + std::to_string(in) + " or weighs outside [0, 2^F]");
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < a.axis; ++d) outer *= shape[d];
    for (size_t d = static_cast<size_t>(a.axis) + 1; d < shape.size(); ++d) inner *= shape[d];
    shape[a.axis] = a.out;
    std::vector<int64_t> next(static_cast<size_t>(outer * a.out * inner));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < a.out; ++i) {
        const int64_t w = a.weight_hi[i];
        const int64_t* lo = cur.data() + (o * in + a.lo[i]) * inner;
        const int64_t* hi = cur.data() + (o * in + a.hi[i]) * inner;
        int64_t* out = next.data() + (o * a.out + i) * inner;
        for (int64_t j = 0; j < inner; ++j) out[j] = (one - w) * lo[j] + w * hi[j];
      }
    cur = std::move(next);
  }
  y_shape = shape;
  y.resize(cur.size());
  for (size_t e = 0; e < cur.size(); ++e) {
    if (cur[e] > INT32_MAX || cur[e] < INT32_MIN)
      throw InputError("resize_linear: a blended sum exceeds 32 bits (fewer fraction bits are needed)");
    y[e] = static_cast<int32_t>(
        std::clamp(p.requantizer.apply(static_cast<int32_t>(cur[e]), p.scale), p.clamp_lo, p.clamp_hi));
  }
}

}  // namespace chipref::kernels
