#include "model/io/samples.hpp"

#include <algorithm>
#include <stdexcept>

namespace chipref {

int64_t rows_per_batch(const Shape& shape, DType dtype, int64_t most) {
  int64_t row_bytes = dtype == DType::float32 ? 4 : 8;  // as a Tensor holds them
  for (size_t d = 1; d < shape.size(); ++d) row_bytes *= std::max<int64_t>(shape[d], 1);
  return std::clamp<int64_t>((int64_t{4} << 20) / row_bytes, 1, std::max<int64_t>(most, 1));
}

NpySamples::NpySamples(const std::string& path, int64_t limit)
    : path_(path), file_(path), count_(limit > 0 && limit < file_.shape()[0] ? limit : file_.shape()[0]) {}

Shape NpySamples::shape() const {
  Shape s = file_.shape();
  s[0] = count_;
  return s;
}

Tensor NpySamples::rows(int64_t first, int64_t n) const {
  if (first + n > count_)
    throw std::logic_error("NpySamples::rows beyond the first " + std::to_string(count_) + " rows of " + path_);
  return file_.rows(first, n);
}

}  // namespace chipref
