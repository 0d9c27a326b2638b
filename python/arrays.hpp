#pragma once
// numpy arrays in and out of chipref's tensors. In: chipref's Tensor owns its elements (float32, or every
// integer type widened to int64), so an array is copied once into it, in C order. Out: the tensor's
// storage is moved into the array (a capsule owns it), so a result is never copied; integer tensors come
// out in the dtype their DType names.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "model/tensor.hpp"
#include "ops/op_def.hpp"

namespace chipref::python {

namespace py = pybind11;

// InputError naming `what` for an array chipref does not take: float64 or float16 (converting would round
// silently: the message says how to convert), complex, object, or a non-numeric dtype.
Tensor tensor_from_array(const py::array& array, const std::string& what);

// The tensor as an array of its dtype, its storage handed over (`tensor` is left empty).
py::array array_from_tensor(Tensor&& tensor);

// An integer code tensor as an array of `dtype` (one of chipref's integer DTypes): handed over when it is
// int32, else converted (a narrower dtype holds every code of its format: the caller picks it so).
py::array array_from_codes(CodeTensor&& codes, DType dtype);

}  // namespace chipref::python
