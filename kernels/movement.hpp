#pragma once
// Data movement on integer codes: the ops that change where codes are, never their values (spec:
// docs/numerics.md §5). Shapes are checked here; a mismatch is an InputError.

#include <cstdint>
#include <vector>

#include "core/shape.hpp"

namespace chipref::kernels {

// y = x with its axes permuted: y.shape[i] = x.shape[perm[i]] (an empty perm reverses the axes, as ONNX).
void transpose(const Shape& x_shape, const int32_t* x, const std::vector<int64_t>& perm, Shape& y_shape,
               std::vector<int32_t>& y);

// y = the inputs joined along `axis` (negative counts from the end); every other dimension must agree.
void concat(const std::vector<const Shape*>& shapes, const std::vector<const int32_t*>& inputs, int64_t axis,
            Shape& y_shape, std::vector<int32_t>& y);

// y = x[starts[i] + k·steps[i] for k < counts[i]] along each axes[i] (starts already resolved to
// indices in range, steps ≠ 0); the other axes whole. Indices outside x are an InputError.
void slice(const Shape& x_shape, const int32_t* x, const std::vector<int64_t>& axes, const std::vector<int64_t>& starts,
           const std::vector<int64_t>& steps, const std::vector<int64_t>& counts, Shape& y_shape,
           std::vector<int32_t>& y);

// y = x at `indices` (each in [0, dim)) along `axis`; `drop_axis` removes the axis (a scalar index).
void gather(const Shape& x_shape, const int32_t* x, int64_t axis, const std::vector<int64_t>& indices, bool drop_axis,
            Shape& y_shape, std::vector<int32_t>& y);

// How pad fills outside x: with one code, with the nearest edge element, or mirrored about the edge
// element (numpy's and ONNX's reflect: x[1], x[0] | x[0], x[1], …; an axis of size 1 repeats its element).
enum class PadMode { constant, edge, reflect };

// y = x with begins[d] elements before and ends[d] after it along each axis d (both ≥ 0).
void pad(const Shape& x_shape, const int32_t* x, const std::vector<int64_t>& begins, const std::vector<int64_t>& ends,
         PadMode mode, int32_t fill, Shape& y_shape, std::vector<int32_t>& y);

// y = rows of `table` (any rank ≥ 1, rows along axis 0) picked by run-time `ids`: y.shape = ids.shape +
// table.shape[1:]. An id in [−rows, −1] counts from the end (ONNX Gather); any other id outside the rows
// is an InputError naming its position.
void take_rows(const Shape& table_shape, const int32_t* table, const Shape& ids_shape, const int32_t* ids,
               Shape& y_shape, std::vector<int32_t>& y);

// y = x broadcast to `target` the way ONNX Expand does (numpy rules, both ways): y.shape is the broadcast
// of x.shape and target; an axis of x of size 1 repeats. Shapes that do not broadcast are an InputError.
void expand(const Shape& x_shape, const int32_t* x, const Shape& target, Shape& y_shape, std::vector<int32_t>& y);

// y = x with strides[d] − 1 `fill` codes between neighbours along each axis d (strides ≥ 1, one per axis):
// y.shape[d] = (x.shape[d] − 1)·strides[d] + 1. A transposed convolution's input, zero points between.
void dilate(const Shape& x_shape, const int32_t* x, const std::vector<int64_t>& strides, int32_t fill, Shape& y_shape,
            std::vector<int32_t>& y);

// y = x [1, ...] repeated `batch` times along axis 0.
void batch_broadcast(const Shape& x_shape, const int32_t* x, int64_t batch, Shape& y_shape, std::vector<int32_t>& y);

}  // namespace chipref::kernels
