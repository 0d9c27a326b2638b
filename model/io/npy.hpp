#pragma once
// NumPy .npy files (format versions 1.0-3.0, C order, little-endian), for tensors chipref reads and writes.

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

}  // namespace chipref
