#include "python/arrays.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>

#include "core/error.hpp"

namespace chipref::python {

namespace {

// chipref's DType of a numpy dtype, by its name (numpy and chipref spell them alike).
bool dtype_of(const py::dtype& numpy, DType& out) {
  for (DType d : {DType::float32, DType::int8, DType::uint8, DType::int16, DType::uint16, DType::int32, DType::int64,
                  DType::boolean})
    if (numpy.is(py::dtype(std::string(to_string(d))))) {
      out = d;
      return true;
    }
  return false;
}

template <class T>
void widen_into(const py::array& c_order, std::vector<int64_t>& ints) {
  const T* data = static_cast<const T*>(c_order.data());
  ints.assign(data, data + c_order.size());
}

// An array of `shape` whose elements are `storage`'s, owned by a capsule.
template <class T>
py::array hand_over(std::vector<T>&& storage, const Shape& shape, const py::dtype& dtype) {
  auto* owned = new std::vector<T>(std::move(storage));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array(dtype, std::vector<py::ssize_t>(shape.begin(), shape.end()), {}, owned->data(), owner);
}

py::dtype numpy_dtype(DType d) { return py::dtype(std::string(to_string(d))); }

// A new array of `dtype` holding `values` (each fits it: integer tensors hold values of their type).
template <class Source>
py::array converted(const std::vector<Source>& values, const Shape& shape, DType dtype) {
  py::array out(numpy_dtype(dtype), std::vector<py::ssize_t>(shape.begin(), shape.end()));
  const auto copy_as = [&](auto* into) {
    using Element = std::remove_pointer_t<decltype(into)>;
    std::transform(values.begin(), values.end(), into, [](Source v) { return static_cast<Element>(v); });
  };
  switch (dtype) {
    case DType::int8:
      copy_as(static_cast<int8_t*>(out.mutable_data()));
      break;
    case DType::uint8:
      copy_as(static_cast<uint8_t*>(out.mutable_data()));
      break;
    case DType::int16:
      copy_as(static_cast<int16_t*>(out.mutable_data()));
      break;
    case DType::uint16:
      copy_as(static_cast<uint16_t*>(out.mutable_data()));
      break;
    case DType::int32:
      copy_as(static_cast<int32_t*>(out.mutable_data()));
      break;
    case DType::int64:
      copy_as(static_cast<int64_t*>(out.mutable_data()));
      break;
    case DType::boolean:
      copy_as(static_cast<bool*>(out.mutable_data()));
      break;
    case DType::float32:
      copy_as(static_cast<float*>(out.mutable_data()));
      break;
  }
  return out;
}

}  // namespace

Tensor tensor_from_array(const py::array& array, const std::string& what) {
  DType dtype{};
  if (!dtype_of(array.dtype(), dtype)) {
    const std::string given = py::str(array.dtype()).cast<std::string>();
    if (array.dtype().kind() == 'f')
      throw InputError(what + ": a " + given +
                       " array; chipref computes in float32 and does not round silently: pass x.astype(numpy.float32)");
    throw InputError(what + ": a " + given +
                     " array; expected float32, or integers (int8/16/32/64, uint8/16, bool) for a model whose input "
                     "is token ids or codes");
  }
  // A view when the array is already in C order; a C-order copy of a strided view otherwise.
  const py::array c_order = py::array::ensure(array, py::array::c_style);
  if (!c_order) throw InputError(what + ": cannot read the array in C order");
  Shape shape(c_order.shape(), c_order.shape() + c_order.ndim());
  if (dtype == DType::float32) {
    const float* data = static_cast<const float*>(c_order.data());
    return Tensor::of_floats(std::move(shape), std::vector<float>(data, data + c_order.size()));
  }
  std::vector<int64_t> ints;
  switch (dtype) {
    case DType::int8:
      widen_into<int8_t>(c_order, ints);
      break;
    case DType::uint8:
      widen_into<uint8_t>(c_order, ints);
      break;
    case DType::int16:
      widen_into<int16_t>(c_order, ints);
      break;
    case DType::uint16:
      widen_into<uint16_t>(c_order, ints);
      break;
    case DType::int32:
      widen_into<int32_t>(c_order, ints);
      break;
    case DType::boolean:
      widen_into<bool>(c_order, ints);
      break;
    default:
      widen_into<int64_t>(c_order, ints);
  }
  return Tensor::of_ints(dtype, std::move(shape), std::move(ints));
}

py::array array_from_tensor(Tensor&& tensor) {
  if (tensor.is_float()) return hand_over(std::move(tensor.floats), tensor.shape, numpy_dtype(DType::float32));
  if (tensor.dtype == DType::int64) return hand_over(std::move(tensor.ints), tensor.shape, numpy_dtype(DType::int64));
  py::array out = converted(tensor.ints, tensor.shape, tensor.dtype);
  tensor = Tensor{};
  return out;
}

py::array array_from_codes(CodeTensor&& codes, DType dtype) {
  if (dtype == DType::int32) return hand_over(std::move(codes.data), codes.shape, numpy_dtype(DType::int32));
  py::array out = converted(codes.data, codes.shape, dtype);
  codes = CodeTensor{};
  return out;
}

}  // namespace chipref::python
