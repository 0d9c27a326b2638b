#pragma once
// NumPy .npy files (format versions 1.0-3.0, C order, little-endian), for tensors chipref reads and writes.

#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include "model/tensor.hpp"

namespace chipref {

// Supported element types: float32 (<f4), int8/uint8/int16/uint16/int32/int64 (<i1 |u1 <i2 <u2 <i4 <i8),
// bool (|b1). Errors name the file and the problem.
Tensor read_npy(const std::string& path);
Tensor parse_npy(const std::string& bytes, const std::string& source_name);
// Writes format 1.0; the file appears complete or not at all (written to a temporary name, then renamed).
void write_npy(const std::string& path, const Tensor& tensor);
std::string serialize_npy(const Tensor& tensor);

// Rows of an .npy array [N, ...] read from the file when asked (calibration and evaluation over more
// inputs than memory should hold): the header is checked when opened, as read_npy checks it; `rows` is
// safe to call from several threads.
class NpyRows {
 public:
  explicit NpyRows(const std::string& path);
  ~NpyRows();
  NpyRows(const NpyRows&) = delete;
  NpyRows& operator=(const NpyRows&) = delete;
  DType dtype() const;
  const Shape& shape() const;  // the whole array's, N first
  Tensor rows(int64_t first, int64_t count) const;

 private:
  struct Layout;
  std::string path_;
  mutable std::ifstream file_;
  mutable std::mutex mutex_;
  std::unique_ptr<Layout> layout_;
  int64_t row_elements_ = 0;
};

}  // namespace chipref
