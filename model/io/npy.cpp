#include "model/io/npy.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/error.hpp"
#include "core/files.hpp"

namespace chipref {

namespace {
struct NpyType {
  const char* descr;
  DType dtype;
  size_t size;
};
constexpr NpyType kTypes[] = {{"<f4", DType::float32, 4}, {"|i1", DType::int8, 1},   {"|u1", DType::uint8, 1},
                              {"<i2", DType::int16, 2},   {"<u2", DType::uint16, 2}, {"<i4", DType::int32, 4},
                              {"<i8", DType::int64, 8},   {"|b1", DType::boolean, 1}};

// The value text after `'key':` in the header's Python dict literal, up to (not including) `end_char`.
std::optional<std::string> header_value(const std::string& header, const std::string& key, char open_char,
                                        char end_char) {
  const size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return std::nullopt;
  size_t p = header.find(':', k);
  if (p == std::string::npos) return std::nullopt;
  p = header.find_first_not_of(" \t", p + 1);
  if (p == std::string::npos) return std::nullopt;
  if (open_char) {
    if (header[p] != open_char) return std::nullopt;
    ++p;
  }
  const size_t e = header.find(end_char, p);
  if (e == std::string::npos) return std::nullopt;
  return header.substr(p, e - p);
}

template <class T>
void widen(const char* p, int64_t n, std::vector<int64_t>& out) {
  out.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, p + i * sizeof(T), sizeof(T));
    out[i] = static_cast<int64_t>(v);
  }
}

template <class T>
void narrow(const std::vector<int64_t>& in, std::string& out) {
  for (int64_t v : in) {
    const T t = static_cast<T>(v);
    out.append(reinterpret_cast<const char*>(&t), sizeof(T));
  }
}
}  // namespace

Tensor parse_npy(const std::string& b, const std::string& src) {
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0)
    throw InputError(src + ": not a .npy file (missing the \\x93NUMPY magic)");
  const int major = static_cast<uint8_t>(b[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = uint8_t(b[8]) | (size_t(uint8_t(b[9])) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw InputError(src + ": truncated .npy header");
    header_len =
        uint8_t(b[8]) | (size_t(uint8_t(b[9])) << 8) | (size_t(uint8_t(b[10])) << 16) | (size_t(uint8_t(b[11])) << 24);
    header_start = 12;
  } else {
    throw InputError(src + ": .npy format version " + std::to_string(major) + " is not supported; expected 1, 2 or 3");
  }
  if (b.size() < header_start + header_len) throw InputError(src + ": truncated .npy header");
  const std::string header = b.substr(header_start, header_len);
  const auto descr_value = header_value(header, "descr", '\'', '\'');
  if (!descr_value) throw InputError(src + ": .npy header has no 'descr'");
  const std::string descr = *descr_value;
  const auto fortran = header_value(header, "fortran_order", 0, ',');
  if (!fortran || (fortran->rfind("False", 0) != 0 && fortran->rfind("True", 0) != 0))
    throw InputError(src + ": .npy header has no 'fortran_order' True/False");
  if (fortran->rfind("True", 0) == 0)
    throw InputError(src + ": Fortran-ordered .npy arrays are not supported; save with C order");
  const auto shape_text = header_value(header, "shape", '(', ')');
  if (!shape_text) throw InputError(src + ": .npy header has no 'shape'");
  Shape shape;
  std::stringstream dims(*shape_text);
  for (std::string item; std::getline(dims, item, ',');) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \tL") + 1);
    if (item.empty()) continue;
    if (item.find_first_not_of("0123456789") != std::string::npos || item.size() > 12)
      throw InputError(src + ": bad dimension '" + item + "' in .npy shape");
    shape.push_back(std::stoll(item));
  }
  const NpyType* type = nullptr;
  for (const auto& t : kTypes)
    if (descr == t.descr) type = &t;
  if (!type)
    throw InputError(src + ": .npy element type '" + descr +
                     "' is not supported; expected <f4, |i1, |u1, <i2, <u2, <i4, <i8 or |b1");
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d > 0 && n > (int64_t{1} << 40) / d)
      throw InputError(src + ": .npy shape " + shape_to_string(shape) + " is too large");
    n *= d;
  }
  const size_t data_start = header_start + header_len;
  if (b.size() - data_start != static_cast<size_t>(n) * type->size)
    throw InputError(src + ": .npy data holds " + std::to_string(b.size() - data_start) + " bytes; shape " +
                     shape_to_string(shape) + " of " + descr + " needs " +
                     std::to_string(n * static_cast<int64_t>(type->size)));
  const char* p = b.data() + data_start;
  Tensor t;
  t.dtype = type->dtype;
  t.shape = shape;
  switch (type->dtype) {
    case DType::float32:
      t.floats.resize(static_cast<size_t>(n));
      if (n) std::memcpy(t.floats.data(), p, static_cast<size_t>(n) * 4);
      break;
    case DType::int8:
      widen<int8_t>(p, n, t.ints);
      break;
    case DType::uint8:
      widen<uint8_t>(p, n, t.ints);
      break;
    case DType::boolean:
      widen<uint8_t>(p, n, t.ints);
      break;
    case DType::int16:
      widen<int16_t>(p, n, t.ints);
      break;
    case DType::uint16:
      widen<uint16_t>(p, n, t.ints);
      break;
    case DType::int32:
      widen<int32_t>(p, n, t.ints);
      break;
    case DType::int64:
      widen<int64_t>(p, n, t.ints);
      break;
  }
  return t;
}

Tensor read_npy(const std::string& path) { return parse_npy(read_file_bytes(path), path); }

std::string serialize_npy(const Tensor& t) {
  const NpyType* type = nullptr;
  for (const auto& k : kTypes)
    if (k.dtype == t.dtype) type = &k;
  // Python's tuple repr, as numpy writes it: (), (3,), (1, 3)
  std::string shape = "(";
  for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape[i]);
  shape += t.shape.size() == 1 ? ",)" : ")";
  std::string header =
      std::string("{'descr': '") + type->descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so that magic + length + header + '\n' is a multiple of 64 bytes (numpy's alignment).
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>((header.size() >> 8) & 0xFF);
  out += header;
  switch (t.dtype) {
    case DType::float32:
      out.append(reinterpret_cast<const char*>(t.floats.data()), t.floats.size() * 4);
      break;
    case DType::int8:
      narrow<int8_t>(t.ints, out);
      break;
    case DType::uint8:
      narrow<uint8_t>(t.ints, out);
      break;
    case DType::boolean:
      narrow<uint8_t>(t.ints, out);
      break;
    case DType::int16:
      narrow<int16_t>(t.ints, out);
      break;
    case DType::uint16:
      narrow<uint16_t>(t.ints, out);
      break;
    case DType::int32:
      narrow<int32_t>(t.ints, out);
      break;
    case DType::int64:
      narrow<int64_t>(t.ints, out);
      break;
  }
  return out;
}

void write_npy(const std::string& path, const Tensor& tensor) { write_file_atomically(path, serialize_npy(tensor)); }

}  // namespace chipref
