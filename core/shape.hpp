#pragma once
// A tensor's shape and the arithmetic on it that every floor needs (kernels, the float IR, the
// IntGraph, vectors): element counts, checked against the most elements chipref allocates, and the
// text that names a shape or an element's coordinates in messages.

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace chipref {

using Shape = std::vector<int64_t>;

// The most elements a tensor chipref creates may have (4 GiB of float32): a model or file declaring
// more (an absurd or corrupt shape) is refused before anything is allocated.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 30;

inline std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// The coordinates of row-major element `flat` of a tensor of `shape`, as "[n,c,h,w]".
inline std::string index_to_string(const Shape& shape, int64_t flat) {
  Shape at(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    at[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? flat / shape[d] : 0;
  }
  return shape_to_string(at);
}

inline int64_t element_count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// element_count, or an InputError for a negative dimension or more than kMaxTensorElements elements
// (overflow included); `what` names the tensor in the message.
inline int64_t checked_element_count(const Shape& shape, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw InputError(what + " has shape " + shape_to_string(shape) + ": a negative dimension");
    if (d != 0 && n > kMaxTensorElements / d)
      throw InputError(what + " has shape " + shape_to_string(shape) +
                       ": more than the 2^30 elements a tensor may have in chipref");
    n *= d;
  }
  return n;
}

}  // namespace chipref
