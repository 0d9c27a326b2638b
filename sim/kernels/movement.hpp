#pragma once
// Data movement on integer codes: the ops that change where codes are, never their values (spec:
// docs/numerics.md §5). Shapes are checked here; a mismatch is an InputError.

#include <cstdint>
#include <vector>

#include "model/tensor.hpp"

namespace chipref::kernels {

// y = x with its axes permuted: y.shape[i] = x.shape[perm[i]] (an empty perm reverses the axes, as ONNX).
void transpose(const Shape& x_shape, const int32_t* x, const std::vector<int64_t>& perm, Shape& y_shape, std::vector<int32_t>& y);

// y = the inputs joined along `axis` (negative counts from the end); every other dimension must agree.
void concat(const std::vector<const Shape*>& shapes, const std::vector<const int32_t*>& inputs, int64_t axis, Shape& y_shape,
            std::vector<int32_t>& y);

}  // namespace chipref::kernels
