#include "vectors/encoding.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <cstring>

#include "core/error.hpp"
#include "model/io/npy.hpp"
#include "numerics/enum_names.hpp"

namespace chipref::vectors {

namespace {
constexpr enum_names::Entry<Format> kNames[] = {
    {Format::mem, "mem"}, {Format::bin, "bin"}, {Format::npy, "npy"}, {Format::h, "h"}};

// The <stdint.h> type a header declares for an element type.
std::string c_type(ElementType t) {
  const int width = t.bin_bytes() * 8;
  return (t.is_signed ? "int" : "uint") + std::to_string(width) + "_t";
}

uint64_t low_bits(int64_t v, int bits) {
  return bits >= 64 ? static_cast<uint64_t>(v) : static_cast<uint64_t>(v) & ((uint64_t{1} << bits) - 1);
}

int64_t sign_extend(uint64_t v, int bits, bool is_signed) {
  if (bits >= 64) return static_cast<int64_t>(v);
  v &= (uint64_t{1} << bits) - 1;
  if (is_signed && (v >> (bits - 1)) & 1) return static_cast<int64_t>(v | ~((uint64_t{1} << bits) - 1));
  return static_cast<int64_t>(v);
}
}  // namespace

DType npy_dtype(ElementType t) {
  if (t.bits <= 8) return t.is_signed ? DType::int8 : DType::uint8;
  if (t.bits <= 16) return t.is_signed ? DType::int16 : DType::uint16;
  if (t.bits <= 32 && t.is_signed) return DType::int32;
  return DType::int64;  // unsigned words up to 32 bits, and anything wider
}

std::string_view to_string(Format f) { return enum_names::name_of(f, kNames); }
Format parse_format(std::string_view name) { return enum_names::parse("vector format", name, kNames); }

int64_t ElementType::min() const { return is_signed ? (bits >= 64 ? INT64_MIN : -(int64_t{1} << (bits - 1))) : 0; }
int64_t ElementType::max() const {
  if (bits >= 64) return INT64_MAX;
  return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (bits == 63 ? INT64_MAX : (int64_t{1} << bits) - 1);
}
int ElementType::bin_bytes() const { return bits <= 8 ? 1 : bits <= 16 ? 2 : bits <= 32 ? 4 : 8; }
int ElementType::hex_digits() const { return (bits + 3) / 4; }

std::string encode(const std::vector<int64_t>& values, const Shape& shape, ElementType type, Format format,
                   const std::string& what, const std::string& order) {
  if (type.bits < 1 || type.bits > 64)
    throw InputError(what + ": element width " + std::to_string(type.bits) + " is outside 1..64");
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] < type.min() || values[i] > type.max())
      throw InputError(what + ": element " + std::to_string(i) + " = " + std::to_string(values[i]) + " does not fit " +
                       std::to_string(type.bits) + "-bit " + (type.is_signed ? "signed" : "unsigned"));
  std::string out;
  switch (format) {
    case Format::mem: {
      static constexpr char kHex[] = "0123456789abcdef";
      const int digits = type.hex_digits();
      out.resize(values.size() * static_cast<size_t>(digits + 1));
      char* p = out.data();
      for (int64_t v : values) {
        const uint64_t u = low_bits(v, type.bits);
        for (int d = digits - 1; d >= 0; --d) *p++ = kHex[(u >> (4 * d)) & 0xF];
        *p++ = '\n';
      }
      break;
    }
    case Format::bin: {
      const int bytes = type.bin_bytes();
      out.resize(values.size() * static_cast<size_t>(bytes));
      char* p = out.data();
      for (int64_t v : values) {
        const uint64_t u =
            static_cast<uint64_t>(v);  // two's complement at 64 bits: its low bytes are the narrower ones
        for (int b = 0; b < bytes; ++b) *p++ = static_cast<char>((u >> (8 * b)) & 0xFF);
      }
      break;
    }
    case Format::npy:
      out = serialize_npy(Tensor::of_ints(npy_dtype(type), shape, values));
      break;
    case Format::h: {
      std::string dims;
      for (size_t d = 0; d < shape.size(); ++d) dims += (d ? "," : "") + std::to_string(shape[d]);
      out = "// chipref golden vector " + what + ": " + std::to_string(type.bits) + "-bit " +
            (type.is_signed ? "signed" : "unsigned") + " [" + dims + "], " + order +
            " (docs/vectors.md)\n#pragma once\n#include <stdint.h>\nstatic const " + c_type(type) + " " +
            c_identifier(what) + "[" + std::to_string(std::max<size_t>(values.size(), 1)) + "] = {";
      for (size_t i = 0; i < values.size(); ++i) {
        out += i % 16 == 0 ? "\n  " : " ";
        // the most negative int64 has no literal: write it as an expression
        out += values[i] == INT64_MIN
                   ? "(-9223372036854775807LL - 1)"
                   : std::to_string(values[i]) + (type.bin_bytes() == 8 ? (type.is_signed ? "LL" : "ULL") : "");
        out += ",";
      }
      out += "\n};\n";
      break;
    }
  }
  return out;
}

std::string c_identifier(const std::string& path) {
  std::string stem = path.substr(path.find_last_of('/') + 1);
  stem = stem.substr(0, stem.find_last_of('.'));
  std::string id = "v_";
  for (char c : stem) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return id;
}

std::vector<int64_t> decode(const std::string& bytes, ElementType type, Format format, int64_t count,
                            const std::string& what) {
  std::vector<int64_t> values;
  values.reserve(static_cast<size_t>(count));
  switch (format) {
    case Format::mem: {
      const size_t line = static_cast<size_t>(type.hex_digits()) + 1;
      if (bytes.size() != line * static_cast<size_t>(count))
        throw InputError(what + ": " + std::to_string(bytes.size()) + " bytes; " + std::to_string(count) +
                         " lines of " + std::to_string(line) + " expected");
      for (int64_t i = 0; i < count; ++i) {
        uint64_t u = 0;
        for (size_t d = 0; d + 1 < line; ++d) {
          const char c = bytes[i * line + d];
          const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
          if (digit < 0)
            throw InputError(what + ": line " + std::to_string(i + 1) + " has '" + std::string(1, c) +
                             "', not a lowercase hex digit");
          u = u << 4 | static_cast<uint64_t>(digit);
        }
        if (bytes[i * line + line - 1] != '\n')
          throw InputError(what + ": line " + std::to_string(i + 1) + " does not end in a newline");
        if (type.bits < 64 && (u >> type.bits) != 0)
          throw InputError(what + ": line " + std::to_string(i + 1) + " exceeds " + std::to_string(type.bits) +
                           " bits");
        values.push_back(sign_extend(u, type.bits, type.is_signed));
      }
      break;
    }
    case Format::bin: {
      const int width = type.bin_bytes();
      if (bytes.size() != static_cast<size_t>(width) * static_cast<size_t>(count))
        throw InputError(what + ": " + std::to_string(bytes.size()) + " bytes; " + std::to_string(count) +
                         " elements of " + std::to_string(width) + " expected");
      for (int64_t i = 0; i < count; ++i) {
        uint64_t u = 0;
        for (int b = width - 1; b >= 0; --b) u = u << 8 | static_cast<uint8_t>(bytes[i * width + b]);
        const int64_t v = sign_extend(u, width * 8, type.is_signed);
        if (v < type.min() || v > type.max())
          throw InputError(what + ": element " + std::to_string(i) + " = " + std::to_string(v) +
                           " is outside the element type");
        values.push_back(v);
      }
      break;
    }
    case Format::h: {
      const size_t open = bytes.find('{'), close = bytes.rfind('}');
      if (open == std::string::npos || close == std::string::npos || close < open)
        throw InputError(what + ": no array initializer { ... }");
      std::string body = bytes.substr(open + 1, close - open - 1);
      for (const char* literal : {"(-9223372036854775807LL - 1)"})
        for (size_t at = body.find(literal); at != std::string::npos; at = body.find(literal))
          body.replace(at, std::strlen(literal), "-9223372036854775808");
      for (size_t at = 0; at < body.size();) {
        while (at < body.size() && (std::isspace(static_cast<unsigned char>(body[at])) || body[at] == ',')) ++at;
        if (at >= body.size()) break;
        size_t end = at;
        while (end < body.size() && body[end] != ',' && !std::isspace(static_cast<unsigned char>(body[end]))) ++end;
        std::string token = body.substr(at, end - at);
        while (!token.empty() && (token.back() == 'L' || token.back() == 'U')) token.pop_back();
        try {
          size_t used = 0;
          const int64_t v =
              token[0] == '-' ? std::stoll(token, &used) : static_cast<int64_t>(std::stoull(token, &used));
          if (used != token.size()) throw std::invalid_argument(token);
          values.push_back(v);
        } catch (const std::exception&) {
          throw InputError(what + ": element " + std::to_string(values.size()) + " is '" + token +
                           "', not an integer literal");
        }
        at = end;
      }
      if (static_cast<int64_t>(values.size()) != count)
        throw InputError(what + ": " + std::to_string(values.size()) + " elements; " + std::to_string(count) +
                         " expected");
      break;
    }
    case Format::npy: {
      const Tensor t = parse_npy(bytes, what);
      if (t.is_float() || t.numel() != count)
        throw InputError(what + ": expected " + std::to_string(count) + " integer elements");
      values = t.ints;
      break;
    }
  }
  return values;
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1)
    throw InputError("SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += kHex[digest[i] >> 4], hex += kHex[digest[i] & 0xF];
  return hex;
}

}  // namespace chipref::vectors
