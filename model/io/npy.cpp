#include "model/io/npy.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
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

namespace {
// What the bytes before an array's data say: element type, shape and where the data starts. `b` holds at
// least the magic, the length fields and the header (a prefix of the file is enough).
struct NpyLayout {
  const NpyType* type;
  Shape shape;
  size_t data_start;
  int64_t elements;
};

// The header's length field: 2 bytes in format 1, 4 in formats 2 and 3 (numpy's format spec).
size_t header_start_of(const std::string& b, const std::string& src, size_t& header_len) {
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0)
    throw InputError(src + ": not a .npy file (missing the \\x93NUMPY magic)");
  const int major = static_cast<uint8_t>(b[6]);
  if (major == 1) {
    header_len = uint8_t(b[8]) | (size_t(uint8_t(b[9])) << 8);
    return 10;
  }
  if (major == 2 || major == 3) {
    if (b.size() < 12) throw InputError(src + ": truncated .npy header");
    header_len =
        uint8_t(b[8]) | (size_t(uint8_t(b[9])) << 8) | (size_t(uint8_t(b[10])) << 16) | (size_t(uint8_t(b[11])) << 24);
    return 12;
  }
  throw InputError(src + ": .npy format version " + std::to_string(major) + " is not supported; expected 1, 2 or 3");
}

NpyLayout parse_layout(const std::string& b, const std::string& src) {
  size_t header_len = 0;
  const size_t header_start = header_start_of(b, src, header_len);
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
  NpyLayout layout{nullptr, {}, header_start + header_len, 1};
  std::stringstream dims(*shape_text);
  for (std::string item; std::getline(dims, item, ',');) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \tL") + 1);
    if (item.empty()) continue;
    if (item.find_first_not_of("0123456789") != std::string::npos || item.size() > 12)
      throw InputError(src + ": bad dimension '" + item + "' in .npy shape");
    layout.shape.push_back(std::stoll(item));
  }
  for (const auto& t : kTypes)
    if (descr == t.descr) layout.type = &t;
  if (!layout.type)
    throw InputError(src + ": .npy element type '" + descr +
                     "' is not supported; expected <f4, |i1, |u1, <i2, <u2, <i4, <i8 or |b1");
  for (int64_t d : layout.shape) {
    if (d > 0 && layout.elements > (int64_t{1} << 40) / d)
      throw InputError(src + ": .npy shape " + shape_to_string(layout.shape) + " is too large");
    layout.elements *= d;
  }
  return layout;
}

void require_data_size(const NpyLayout& layout, size_t data_bytes, const std::string& src) {
  if (data_bytes != static_cast<size_t>(layout.elements) * layout.type->size)
    throw InputError(src + ": .npy data holds " + std::to_string(data_bytes) + " bytes; shape " +
                     shape_to_string(layout.shape) + " of " + layout.type->descr + " needs " +
                     std::to_string(layout.elements * static_cast<int64_t>(layout.type->size)));
}

// n elements of `type` at p into a tensor of `shape`.
Tensor decode(const NpyType& type, const char* p, int64_t n, Shape shape) {
  Tensor t;
  t.dtype = type.dtype;
  t.shape = std::move(shape);
  switch (type.dtype) {
    case DType::float32:
      t.floats.resize(static_cast<size_t>(n));
      if (n) std::memcpy(t.floats.data(), p, static_cast<size_t>(n) * 4);
      break;
    case DType::int8:
      widen<int8_t>(p, n, t.ints);
      break;
    case DType::uint8:
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
}  // namespace

Tensor parse_npy(const std::string& b, const std::string& src) {
  const NpyLayout layout = parse_layout(b, src);
  require_data_size(layout, b.size() - layout.data_start, src);
  return decode(*layout.type, b.data() + layout.data_start, layout.elements, layout.shape);
}

struct NpyRows::Layout : NpyLayout {};

NpyRows::NpyRows(const std::string& path) : path_(path), file_(path, std::ios::binary) {
  if (!file_) throw InputError(path + ": cannot open (" + std::strerror(errno) + ")");
  // The header is at most 4 GiB by the format, in practice a few hundred bytes: read its length first.
  std::string prefix(12, '\0');
  file_.read(prefix.data(), 12);
  prefix.resize(static_cast<size_t>(file_.gcount()));
  size_t header_len = 0;
  const size_t header_start = header_start_of(prefix, path, header_len);
  if (header_len > (size_t{1} << 20))
    throw InputError(path + ": .npy header of " + std::to_string(header_len) + " bytes; expected at most 1 MiB");
  prefix.resize(header_start + header_len);
  file_.clear();
  file_.seekg(0);
  file_.read(prefix.data(), static_cast<std::streamsize>(prefix.size()));
  prefix.resize(static_cast<size_t>(file_.gcount()));
  layout_ = std::make_unique<Layout>(Layout{parse_layout(prefix, path)});
  file_.clear();
  file_.seekg(0, std::ios::end);
  require_data_size(*layout_, static_cast<size_t>(file_.tellg()) - layout_->data_start, path);
  if (layout_->shape.empty()) throw InputError(path + ": a .npy scalar has no rows; expected an array [N, ...]");
  row_elements_ = layout_->shape[0] ? layout_->elements / layout_->shape[0] : 0;
}

NpyRows::~NpyRows() = default;

DType NpyRows::dtype() const { return layout_->type->dtype; }
const Shape& NpyRows::shape() const { return layout_->shape; }

Tensor NpyRows::rows(int64_t first, int64_t count) const {
  if (first < 0 || count < 0 || first + count > layout_->shape[0])
    throw std::logic_error("NpyRows::rows: rows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                           ") of " + std::to_string(layout_->shape[0]));
  const size_t row_bytes = static_cast<size_t>(row_elements_) * layout_->type->size;
  std::string bytes(row_bytes * static_cast<size_t>(count), '\0');
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    file_.clear();
    file_.seekg(static_cast<std::streamoff>(layout_->data_start + row_bytes * static_cast<size_t>(first)));
    file_.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (static_cast<size_t>(file_.gcount()) != bytes.size())
      throw InputError(path_ + ": read failed at row " + std::to_string(first) + " (was the file changed?)");
  }
  Shape shape = layout_->shape;
  shape[0] = count;
  return decode(*layout_->type, bytes.data(), row_elements_ * count, std::move(shape));
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
