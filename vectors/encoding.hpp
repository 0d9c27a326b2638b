#pragma once
// How one tensor of integer codes becomes the bytes of a vector file (docs/vectors.md), and back:
//   mem  one element per line, ⌈bits/4⌉ lowercase hex digits of its two's complement in `bits` bits, every
//        line ending in '\n' (Verilator 5.006's $readmemh drops a last line without one)
//   bin  each element in the smallest of 1, 2, 4, 8 bytes that holds `bits`, little-endian two's
//        complement at that width (sign-extended), no header
//   npy  NumPy's format with the matching integer dtype (int8/uint8/int16/uint16/int32/int64)
//   h    a C header: one static const array of the matching <stdint.h> type, 16 decimal literals a line

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/tensor.hpp"

namespace chipref::vectors {

enum class Format { mem, bin, npy, h };
inline constexpr Format kAllFormats[] = {Format::mem, Format::bin, Format::npy, Format::h};
std::string_view to_string(Format f);        // also the file extension
Format parse_format(std::string_view name);  // InputError listing the names

// The element type of a vector: `bits` (1..64) wide, two's complement when signed.
struct ElementType {
  int bits = 8;
  bool is_signed = true;
  int64_t min() const;
  int64_t max() const;
  int bin_bytes() const;   // 1, 2, 4 or 8
  int hex_digits() const;  // ⌈bits / 4⌉
};

// The .npy element type a vector of `type` is written in: the narrowest of int8/16/32 (uint8/16) holding
// it, int64 for unsigned 32-bit words and anything wider.
DType npy_dtype(ElementType type);

// InputError naming `what` if a value does not fit the element type. A header's array is named after
// `what`'s file name (c_identifier).
// `order` says, in a C header's comment, how the values are arranged (a layout, a packing).
std::string encode(const std::vector<int64_t>& values, const Shape& shape, ElementType type, Format format,
                   const std::string& what, const std::string& order = "row-major");

// The values of a file of `count` elements; InputError naming `what` and the element for malformed
// content (a bad hex digit, a value outside the type, a wrong length).
std::vector<int64_t> decode(const std::string& bytes, ElementType type, Format format, int64_t count,
                            const std::string& what);

// "v_" + the file name of `path` without its extension, every character outside [A-Za-z0-9_] as '_'.
std::string c_identifier(const std::string& path);

// SHA-256 of bytes, lowercase hex.
std::string sha256_hex(const std::string& bytes);

}  // namespace chipref::vectors
