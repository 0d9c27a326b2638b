#include "model/tensor.hpp"

#include <cmath>

#include <limits>
#include <stdexcept>

#include "core/error.hpp"

namespace chipref {

std::string_view to_string(DType dtype) {
  switch (dtype) {
    case DType::float32:
      return "float32";
    case DType::int8:
      return "int8";
    case DType::uint8:
      return "uint8";
    case DType::int16:
      return "int16";
    case DType::uint16:
      return "uint16";
    case DType::int32:
      return "int32";
    case DType::int64:
      return "int64";
    case DType::boolean:
      return "bool";
  }
  return "?";
}

bool is_integer(DType dtype) { return dtype != DType::float32; }

int64_t dtype_min(DType dtype) {
  switch (dtype) {
    case DType::int8:
      return -128;
    case DType::int16:
      return -32768;
    case DType::int32:
      return std::numeric_limits<int32_t>::min();
    case DType::int64:
      return std::numeric_limits<int64_t>::min();
    default:
      return 0;
  }
}

int64_t dtype_max(DType dtype) {
  switch (dtype) {
    case DType::int8:
      return 127;
    case DType::uint8:
      return 255;
    case DType::int16:
      return 32767;
    case DType::uint16:
      return 65535;
    case DType::int32:
      return std::numeric_limits<int32_t>::max();
    case DType::int64:
      return std::numeric_limits<int64_t>::max();
    case DType::boolean:
      return 1;
    default:
      return 0;
  }
}

void require_finite(const Tensor& t, const std::string& what) {
  if (!t.is_float()) return;
  for (size_t i = 0; i < t.floats.size(); ++i)
    if (!std::isfinite(t.floats[i]))
      throw InputError(what + ": element " + std::to_string(i) + " " +
                       index_to_string(t.shape, static_cast<int64_t>(i)) + " is " +
                       (std::isnan(t.floats[i]) ? "NaN"
                        : t.floats[i] > 0       ? "+infinity"
                                                : "-infinity") +
                       "; expected finite numbers");
}

Tensor Tensor::of_floats(Shape shape, std::vector<float> data) {
  Tensor t;
  t.dtype = DType::float32;
  t.shape = std::move(shape);
  t.floats = std::move(data);
  return t;
}

Tensor Tensor::of_ints(DType dtype, Shape shape, std::vector<int64_t> data) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.ints = std::move(data);
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  const auto n = static_cast<size_t>(checked_element_count(shape, "a tensor"));
  return dtype == DType::float32 ? of_floats(std::move(shape), std::vector<float>(n))
                                 : of_ints(dtype, std::move(shape), std::vector<int64_t>(n));
}

std::vector<int64_t> Tensor::to_int_vector() const {
  std::vector<int64_t> v(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) v[i] = int_value(i);
  return v;
}

Tensor rows_of(const Tensor& t, int64_t first, int64_t count) {
  if (t.rank() == 0 || first < 0 || count < 0 || first + count > t.shape[0])
    throw std::logic_error("rows_of: rows [" + std::to_string(first) + ", " + std::to_string(first + count) + ") of " +
                           shape_to_string(t.shape));
  const int64_t per = t.shape[0] ? t.numel() / t.shape[0] : 0;
  Shape shape = t.shape;
  shape[0] = count;
  Tensor out;
  out.dtype = t.dtype, out.shape = std::move(shape);
  if (t.is_float())
    out.floats.assign(t.floats.begin() + first * per, t.floats.begin() + (first + count) * per);
  else
    out.ints.assign(t.ints.begin() + first * per, t.ints.begin() + (first + count) * per);
  return out;
}

void append_rows(Tensor& into, const Tensor& rows) {
  if (into.shape.empty() && into.floats.empty() && into.ints.empty()) {
    into = rows;
    return;
  }
  if (into.dtype != rows.dtype || into.rank() == 0 || rows.rank() != into.rank() ||
      !std::equal(into.shape.begin() + 1, into.shape.end(), rows.shape.begin() + 1))
    throw std::logic_error("append_rows: " + shape_to_string(rows.shape) + " onto " + shape_to_string(into.shape));
  into.shape[0] += rows.shape[0];
  into.floats.insert(into.floats.end(), rows.floats.begin(), rows.floats.end());
  into.ints.insert(into.ints.end(), rows.ints.begin(), rows.ints.end());
}

}  // namespace chipref
