#include "kernels/movement.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/error.hpp"

namespace chipref::kernels {

void transpose(const Shape& x_shape, const int32_t* x, const std::vector<int64_t>& perm_in, Shape& y_shape,
               std::vector<int32_t>& y) {
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
      throw InputError("transpose: perm is not a permutation of the " + std::to_string(rank) + " axes of " +
                       shape_to_string(x_shape));
  y_shape.assign(perm.size(), 0);
  for (int64_t i = 0; i < rank; ++i) y_shape[i] = x_shape[perm[i]];
  std::vector<int64_t> x_strides(static_cast<size_t>(rank), 1);
  for (int64_t d = rank - 2; d >= 0; --d) x_strides[d] = x_strides[d + 1] * x_shape[d + 1];
  y.resize(static_cast<size_t>(element_count(y_shape)));
  if (y.empty()) return;
  // y's axes as (extent, stride in x), in y's order, with size-1 axes dropped and neighbours that are also
  // neighbours in x merged: [B, 197, 3, 4, 16] -> [3, B, 4, 197, 16] becomes three or four axes, the last
  // a contiguous run.
  std::vector<std::pair<int64_t, int64_t>> axes;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t extent = y_shape[d], stride = x_strides[perm[d]];
    if (extent == 1) continue;
    if (!axes.empty() && axes.back().second == extent * stride)
      axes.back() = {axes.back().first * extent, stride};
    else
      axes.emplace_back(extent, stride);
  }
  if (axes.empty()) axes.emplace_back(1, 1);
  const auto n = static_cast<int64_t>(axes.size());
  const auto [inner, inner_stride] = axes.back();
  // The axis of y that is x's contiguous one, when it is not y's last: then y's last two such axes are a
  // matrix transpose, done in tiles so that both sides stay in cache lines already read.
  int64_t column = -1;
  for (int64_t d = 0; d + 1 < n; ++d)
    if (axes[d].second == 1) column = d;
  // Walk every axis but the innermost (and `column`) with an odometer, keeping the offsets into x and y.
  std::vector<int64_t> y_strides(static_cast<size_t>(n), 1);
  for (int64_t d = n - 2; d >= 0; --d) y_strides[d] = y_strides[d + 1] * axes[d + 1].first;
  std::vector<int64_t> index(static_cast<size_t>(n), 0);
  const int64_t outer_end = n - 1;
  int64_t x_offset = 0, y_offset = 0;
  int32_t* out = y.data();
  for (;;) {
    if (inner_stride == 1) {
      std::copy_n(x + x_offset, inner, out + y_offset);
    } else if (column < 0) {
      for (int64_t i = 0; i < inner; ++i) out[y_offset + i] = x[x_offset + i * inner_stride];
    } else {
      // y[r][c] = x[r + c·inner_stride] over r < rows (axis `column`, stride y_strides[column] in y) and
      // c < inner, 16 × 16 at a time
      constexpr int64_t kTile = 16;
      const int64_t rows = axes[column].first, y_row = y_strides[column];
      for (int64_t r0 = 0; r0 < rows; r0 += kTile)
        for (int64_t c0 = 0; c0 < inner; c0 += kTile)
          for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
            for (int64_t c = c0; c < std::min(inner, c0 + kTile); ++c)
              out[y_offset + r * y_row + c] = x[x_offset + r + c * inner_stride];
    }
    int64_t d = outer_end - 1;
    for (; d >= 0; --d) {
      if (d == column) continue;
      x_offset += axes[d].second, y_offset += y_strides[d];
      if (++index[d] < axes[d].first) break;
      x_offset -= axes[d].second * axes[d].first, y_offset -= y_strides[d] * axes[d].first;
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

void concat(const std::vector<const Shape*>& shapes, const std::vector<const int32_t*>& inputs, int64_t axis,
            Shape& y_shape, std::vector<int32_t>& y) {
  const Shape& first = *shapes.at(0);
  const int64_t rank = static_cast<int64_t>(first.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) throw InputError("concat: axis out of range for " + shape_to_string(first));
  y_shape = first;
  y_shape[axis] = 0;
  for (const Shape* s : shapes) {
    for (int64_t d = 0; d < rank; ++d)
      if (static_cast<int64_t>(s->size()) != rank || (d != axis && (*s)[d] != first[d]))
        throw InputError("concat: input " + shape_to_string(*s) + " does not match " + shape_to_string(first) +
                         " outside axis " + std::to_string(axis));
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

void slice(const Shape& x_shape, const int32_t* x, const std::vector<int64_t>& axes, const std::vector<int64_t>& starts,
           const std::vector<int64_t>& steps, const std::vector<int64_t>& counts, Shape& y_shape,
           std::vector<int32_t>& y) {
  const int64_t rank = static_cast<int64_t>(x_shape.size());
  if (starts.size() != axes.size() || steps.size() != axes.size() || counts.size() != axes.size())
    throw InputError("slice: axes, starts, steps and counts differ in length");
  std::vector<int64_t> begin(static_cast<size_t>(rank), 0), step(static_cast<size_t>(rank), 1);
  y_shape = x_shape;
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t a = axes[i], last = starts[i] + (counts[i] - 1) * steps[i];
    if (a < 0 || a >= rank || counts[i] < 0 || steps[i] == 0 ||
        (counts[i] > 0 && (starts[i] < 0 || starts[i] >= x_shape[a] || last < 0 || last >= x_shape[a])))
      throw InputError("slice: axis " + std::to_string(a) + " start " + std::to_string(starts[i]) + " step " +
                       std::to_string(steps[i]) + " count " + std::to_string(counts[i]) + " does not fit " +
                       shape_to_string(x_shape));
    begin[a] = starts[i], step[a] = steps[i], y_shape[a] = counts[i];
  }
  std::vector<int64_t> x_strides(static_cast<size_t>(rank), 1);
  for (int64_t d = rank - 2; d >= 0; --d) x_strides[d] = x_strides[d + 1] * x_shape[d + 1];
  int64_t base = 0;
  for (int64_t d = 0; d < rank; ++d) base += begin[d] * x_strides[d];
  y.resize(static_cast<size_t>(element_count(y_shape)));
  if (y.empty()) return;
  // The innermost run: the trailing axes taken whole (start 0, step 1, every element) are one contiguous
  // block of x, and so is the axis before them when its step is 1. The odometer walks the axes outside it.
  int64_t run = 1, outer = rank;
  while (outer > 0 && begin[outer - 1] == 0 && step[outer - 1] == 1 && y_shape[outer - 1] == x_shape[outer - 1])
    run *= y_shape[--outer];
  int64_t run_step = 1;  // x's distance between the run's elements
  if (outer > 0 && (run == 1 || step[outer - 1] == 1)) {
    run_step = run == 1 ? step[outer - 1] * x_strides[outer - 1] : 1;
    run *= y_shape[--outer];
  }
  std::vector<int64_t> index(static_cast<size_t>(outer), 0);
  int64_t offset = base;
  for (int64_t e = 0; e < static_cast<int64_t>(y.size()); e += run) {
    if (run_step == 1)
      std::copy_n(x + offset, run, y.data() + e);
    else
      for (int64_t i = 0; i < run; ++i) y[static_cast<size_t>(e + i)] = x[offset + i * run_step];
    for (int64_t d = outer - 1; d >= 0; --d) {
      offset += step[d] * x_strides[d];
      if (++index[d] < y_shape[d]) break;
      offset -= step[d] * x_strides[d] * y_shape[d];
      index[d] = 0;
    }
  }
}

void gather(const Shape& x_shape, const int32_t* x, int64_t axis, const std::vector<int64_t>& indices, bool drop_axis,
            Shape& y_shape, std::vector<int32_t>& y) {
  const int64_t rank = static_cast<int64_t>(x_shape.size());
  if (axis < 0 || axis >= rank || (drop_axis && indices.size() != 1))
    throw InputError("gather: axis " + std::to_string(axis) + " invalid for " + shape_to_string(x_shape));
  const int64_t dim = x_shape[axis];
  const int64_t outer = std::accumulate(x_shape.begin(), x_shape.begin() + axis, int64_t{1}, std::multiplies<>());
  const int64_t inner = std::accumulate(x_shape.begin() + axis + 1, x_shape.end(), int64_t{1}, std::multiplies<>());
  for (int64_t j : indices)
    if (j < 0 || j >= dim)
      throw InputError("gather: index " + std::to_string(j) + " is outside axis " + std::to_string(axis) + " of " +
                       shape_to_string(x_shape));
  y_shape = x_shape;
  if (drop_axis)
    y_shape.erase(y_shape.begin() + axis);
  else
    y_shape[axis] = static_cast<int64_t>(indices.size());
  y.resize(static_cast<size_t>(outer * static_cast<int64_t>(indices.size()) * inner));
  int32_t* out = y.data();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j : indices) out = std::copy_n(x + (o * dim + j) * inner, inner, out);
}

void take_rows(const Shape& table_shape, const int32_t* table, const Shape& ids_shape, const int32_t* ids,
               Shape& y_shape, std::vector<int32_t>& y) {
  if (table_shape.empty()) throw InputError("take_rows: the table is a scalar; it needs rows");
  const int64_t rows = table_shape[0], row = element_count(table_shape) / std::max<int64_t>(rows, 1);
  const int64_t count = element_count(ids_shape);
  y_shape = ids_shape;
  y_shape.insert(y_shape.end(), table_shape.begin() + 1, table_shape.end());
  y.resize(static_cast<size_t>(count * row));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t id = ids[i] < 0 ? int64_t{ids[i]} + rows : ids[i];
    if (id < 0 || id >= rows)
      throw InputError("id " + std::to_string(ids[i]) + " at " + index_to_string(ids_shape, i) +
                       " is outside the table's " + std::to_string(rows) + " rows (valid: " + std::to_string(-rows) +
                       " to " + std::to_string(rows - 1) + ")");
    std::copy_n(table + id * row, row, y.data() + i * row);
  }
}

void expand(const Shape& x_shape, const int32_t* x, const Shape& target, Shape& y_shape, std::vector<int32_t>& y) {
  const size_t rank = std::max(x_shape.size(), target.size());
  Shape xs = x_shape, ts = target;
  xs.insert(xs.begin(), rank - xs.size(), 1);
  ts.insert(ts.begin(), rank - ts.size(), 1);
  y_shape.assign(rank, 0);
  for (size_t d = 0; d < rank; ++d) {
    if (xs[d] != ts[d] && xs[d] != 1 && ts[d] != 1)
      throw InputError("expand: " + shape_to_string(x_shape) + " does not broadcast to " + shape_to_string(target));
    y_shape[d] = xs[d] == 1 ? ts[d] : xs[d];
  }
  // The offset of x for each output element: axes of x of size 1 have stride 0.
  std::vector<int64_t> x_strides(rank, 0);
  for (int64_t d = static_cast<int64_t>(rank) - 1, stride = 1; d >= 0; --d) {
    x_strides[d] = xs[d] == 1 ? 0 : stride;
    stride *= xs[d];
  }
  y.resize(static_cast<size_t>(element_count(y_shape)));
  std::vector<int64_t> index(rank, 0);
  int64_t offset = 0;
  for (size_t e = 0; e < y.size(); ++e) {
    y[e] = x[offset];
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      offset += x_strides[d];
      if (++index[d] < y_shape[d]) break;
      offset -= x_strides[d] * y_shape[d];
      index[d] = 0;
    }
  }
}

void dilate(const Shape& x_shape, const int32_t* x, const std::vector<int64_t>& strides, int32_t fill, Shape& y_shape,
            std::vector<int32_t>& y) {
  const size_t rank = x_shape.size();
  if (strides.size() != rank || std::any_of(strides.begin(), strides.end(), [](int64_t s) { return s < 1; }))
    throw InputError("dilate: " + std::to_string(strides.size()) + " strides (each ≥ 1) for a tensor of rank " +
                     std::to_string(rank));
  y_shape = x_shape;
  for (size_t d = 0; d < rank; ++d) y_shape[d] = x_shape[d] == 0 ? 0 : (x_shape[d] - 1) * strides[d] + 1;
  y.assign(static_cast<size_t>(element_count(y_shape)), fill);
  const std::vector<int64_t> y_strides = [&] {
    std::vector<int64_t> st(rank, 1);
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) st[d] = st[d + 1] * y_shape[d + 1];
    return st;
  }();
  std::vector<int64_t> index(rank, 0);
  const int64_t n = element_count(x_shape);
  for (int64_t e = 0; e < n; ++e) {
    int64_t at = 0;
    for (size_t d = 0; d < rank; ++d) at += index[d] * strides[d] * y_strides[d];
    y[static_cast<size_t>(at)] = x[e];
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      if (++index[d] < x_shape[d]) break;
      index[d] = 0;
    }
  }
}

void batch_broadcast(const Shape& x_shape, const int32_t* x, int64_t batch, Shape& y_shape, std::vector<int32_t>& y) {
  if (x_shape.empty() || x_shape[0] != 1 || batch < 0)
    throw InputError("batch_broadcast: expects [1, ...], got " + shape_to_string(x_shape));
  const int64_t per = element_count(x_shape);
  y_shape = x_shape;
  y_shape[0] = batch;
  y.resize(static_cast<size_t>(per * batch));
  for (int64_t b = 0; b < batch; ++b) std::copy_n(x, per, y.data() + b * per);
}

void pad(const Shape& x_shape, const int32_t* x, const std::vector<int64_t>& begins, const std::vector<int64_t>& ends,
         PadMode mode, int32_t fill, Shape& y_shape, std::vector<int32_t>& y) {
  const size_t rank = x_shape.size();
  if (begins.size() != rank || ends.size() != rank)
    throw InputError("pad: " + std::to_string(begins.size()) + " and " + std::to_string(ends.size()) +
                     " pads for a tensor of rank " + std::to_string(rank));
  y_shape = x_shape;
  for (size_t d = 0; d < rank; ++d) {
    if (begins[d] < 0 || ends[d] < 0 || begins[d] > (int64_t{1} << 30) || ends[d] > (int64_t{1} << 30))
      throw InputError("pad: pads " + std::to_string(begins[d]) + " and " + std::to_string(ends[d]) + " on axis " +
                       std::to_string(d) + " are negative or beyond 2^30");
    if (mode != PadMode::constant && x_shape[d] == 0 && begins[d] + ends[d] > 0)
      throw InputError("pad: edge or reflect padding of the empty axis " + std::to_string(d));
    y_shape[d] += begins[d] + ends[d];
  }
  if (checked_element_count(y_shape, "pad: the output") == 0) {
    y.clear();
    return;
  }
  // Along each axis, the x index each y index reads (−1: the fill).
  std::vector<std::vector<int64_t>> source(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t dim = x_shape[d];
    for (int64_t i = 0; i < y_shape[d]; ++i) {
      int64_t j = i - begins[d];
      if (j < 0 || j >= dim) {
        if (mode == PadMode::constant) {
          j = -1;
        } else if (mode == PadMode::edge || dim == 1) {
          j = std::clamp<int64_t>(j, 0, dim - 1);
        } else {  // reflect, repeatedly for pads longer than the axis (period 2·(dim − 1))
          const int64_t period = 2 * (dim - 1);
          j = ((j % period) + period) % period;
          if (j >= dim) j = period - j;
        }
      }
      source[d].push_back(j);
    }
  }
  std::vector<int64_t> x_strides(rank, 1);
  for (size_t d = rank; d-- > 1;) x_strides[d - 1] = x_strides[d] * x_shape[d];
  y.resize(static_cast<size_t>(element_count(y_shape)));
  std::vector<int64_t> index(rank, 0);
  for (size_t e = 0; e < y.size(); ++e) {
    int64_t offset = 0;
    bool inside = true;
    for (size_t d = 0; d < rank && inside; ++d) {
      const int64_t j = source[d][static_cast<size_t>(index[d])];
      inside = j >= 0;
      offset += j * x_strides[d];
    }
    y[e] = inside ? x[offset] : fill;
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < y_shape[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace chipref::kernels
