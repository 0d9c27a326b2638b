#pragma once
// A dense tensor of the float IR: shape, element type, data. Float tensors keep float32 values (the
// precision the ONNX reference computes in); every integer type (and bool) is held widened in int64,
// with the element type recording what it really is.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/shape.hpp"

namespace chipref {

enum class DType { float32, int8, uint8, int16, uint16, int32, int64, boolean };

std::string_view to_string(DType dtype);
bool is_integer(DType dtype);  // every type but float32 (bool counts as integer here)
// Range of an integer dtype (bool: 0..1). Meaningless for float32.
int64_t dtype_min(DType dtype);
int64_t dtype_max(DType dtype);

// InputError naming `what`, the first non-finite element and its coordinates, for a float32 tensor
// holding a NaN or an infinity (data entering chipref: calibration and run inputs, weights).
struct Tensor;
void require_finite(const Tensor& t, const std::string& what);

struct Tensor {
  DType dtype = DType::float32;
  Shape shape;
  std::vector<float> floats;  // when dtype == float32
  std::vector<int64_t> ints;  // otherwise

  static Tensor of_floats(Shape shape, std::vector<float> data);
  static Tensor of_ints(DType dtype, Shape shape, std::vector<int64_t> data);
  static Tensor zeros(DType dtype, Shape shape);  // checked_element_count first

  bool is_float() const { return dtype == DType::float32; }
  int64_t numel() const { return element_count(shape); }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  // Element i as double / as int64 whatever the storage (for scalars and shape arithmetic).
  double value(int64_t i) const { return is_float() ? floats[i] : static_cast<double>(ints[i]); }
  int64_t int_value(int64_t i) const { return is_float() ? static_cast<int64_t>(floats[i]) : ints[i]; }
  std::vector<int64_t> to_int_vector() const;
};

// Rows [first, first + count) of axis 0 (images of a batch), any dtype.
Tensor rows_of(const Tensor& t, int64_t first, int64_t count);
// Appends `rows` to `into` along axis 0: an empty `into` becomes a copy; otherwise the dtypes and the
// other axes must agree (std::logic_error: callers stack the runs of one graph).
void append_rows(Tensor& into, const Tensor& rows);

}  // namespace chipref
