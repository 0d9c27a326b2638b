#include "sim/kernels/movement.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/error.hpp"

namespace chipref::kernels {

void transpose(const Shape& x_shape, const int32_t* x, const std::vector<int64_t>& perm_in, Shape& y_shape, std::vector<int32_t>& y) {
  const int64_t rank = static_cast<int64_t>(x_shape.size());
  std::vector<int64_t> perm = perm_in;
  if (perm.empty()) {
    perm.resize(static_cast<size_t>(rank));
    std::iota(perm.rbegin(), perm.rend(), 0);
  }
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < static_cast<int64_t>(sorted.size()); ++i)
    if (sorted[i] != i || static_cast<int64_t>(perm.size()) != rank)
      throw InputError("transpose: perm is not a permutation of the " + std::to_string(rank) + " axes of " + shape_to_string(x_shape));
  y_shape.assign(perm.size(), 0);
  for (int64_t i = 0; i < rank; ++i) y_shape[i] = x_shape[perm[i]];
  std::vector<int64_t> x_strides(static_cast<size_t>(rank), 1);
  for (int64_t d = rank - 2; d >= 0; --d) x_strides[d] = x_strides[d + 1] * x_shape[d + 1];
  y.resize(static_cast<size_t>(element_count(y_shape)));
  // Walk y in order with an odometer over its index, keeping the matching x offset.
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  int64_t offset = 0;
  for (size_t e = 0; e < y.size(); ++e) {
    y[e] = x[offset];
    for (int64_t d = rank - 1; d >= 0; --d) {
      offset += x_strides[perm[d]];
      if (++index[d] < y_shape[d]) break;
      offset -= x_strides[perm[d]] * y_shape[d];
      index[d] = 0;
    }
  }
}

void concat(const std::vector<const Shape*>& shapes, const std::vector<const int32_t*>& inputs, int64_t axis, Shape& y_shape,
            std::vector<int32_t>& y) {
  const Shape& first = *shapes.at(0);
  const int64_t rank = static_cast<int64_t>(first.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) throw InputError("concat: axis out of range for " + shape_to_string(first));
  y_shape = first;
  y_shape[axis] = 0;
  for (const Shape* s : shapes) {
    for (int64_t d = 0; d < rank; ++d)
      if (static_cast<int64_t>(s->size()) != rank || (d != axis && (*s)[d] != first[d]))
        throw InputError("concat: input " + shape_to_string(*s) + " does not match " + shape_to_string(first) + " outside axis " + std::to_string(axis));
    y_shape[axis] += (*s)[axis];
  }
  const int64_t outer = std::accumulate(first.begin(), first.begin() + axis, int64_t{1}, std::multiplies<>());
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= first[d];
  y.resize(static_cast<size_t>(element_count(y_shape)));
  int32_t* out = y.data();
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int64_t block = (*shapes[i])[axis] * inner;
      out = std::copy_n(inputs[i] + o * block, block, out);
    }
}

}  // namespace chipref::kernels
