#pragma once
// Two's-complement and unsigned integer formats, and the two ways a value is forced into one:
// saturate (clamp to [min, max]) and wrap (keep the low `bits` bits, as a register does).
// Spec: docs/numerics.md §1.

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace chipref {

namespace bits_detail {
// Valid for 1 <= bits <= 63. Signed range [-2^(bits-1), 2^(bits-1) - 1]; unsigned [0, 2^bits - 1].
constexpr int64_t min_of(int bits, bool is_signed) { return is_signed ? -(int64_t{1} << (bits - 1)) : 0; }
constexpr int64_t max_of(int bits, bool is_signed) {
  return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
}
constexpr int64_t saturate(int64_t v, int bits, bool is_signed) {
  const int64_t lo = min_of(bits, is_signed), hi = max_of(bits, is_signed);
  return v < lo ? lo : (v > hi ? hi : v);
}
// v mod 2^bits, read back as signed (sign-extended) or unsigned. Exact for every int64 v.
constexpr int64_t wrap(int64_t v, int bits, bool is_signed) {
  const uint64_t low = static_cast<uint64_t>(v) & ((uint64_t{1} << bits) - 1);
  if (!is_signed) return static_cast<int64_t>(low);
  const uint64_t sign_bit = uint64_t{1} << (bits - 1);
  // (low ^ sign) - sign sign-extends without relying on implementation-defined shifts.
  return static_cast<int64_t>(low ^ sign_bit) - static_cast<int64_t>(sign_bit);
}
}  // namespace bits_detail

// An integer format of 1..32 bits, signed (two's complement) or unsigned.
class IntFormat {
 public:
  static constexpr int kMaxBits = 32;

  // Throws InputError naming the bad width; formats are checked once where they enter.
  static IntFormat make(int bits, bool is_signed) {
    if (bits < 1 || bits > kMaxBits)
      throw InputError("integer format width " + std::to_string(bits) + " is out of range; expected 1.." +
                       std::to_string(kMaxBits) + " bits");
    return IntFormat(bits, is_signed);
  }
  static IntFormat int_bits(int bits) { return make(bits, true); }
  static IntFormat uint_bits(int bits) { return make(bits, false); }

  constexpr int bits() const { return bits_; }
  constexpr bool is_signed() const { return is_signed_; }
  constexpr int64_t min() const { return bits_detail::min_of(bits_, is_signed_); }
  constexpr int64_t max() const { return bits_detail::max_of(bits_, is_signed_); }
  constexpr bool contains(int64_t v) const { return v >= min() && v <= max(); }
  constexpr int64_t saturate(int64_t v) const { return bits_detail::saturate(v, bits_, is_signed_); }
  constexpr int64_t wrap(int64_t v) const { return bits_detail::wrap(v, bits_, is_signed_); }
  // "int8", "uint4": the spelling used in configs, manifests and reports.
  std::string name() const { return (is_signed_ ? "int" : "uint") + std::to_string(bits_); }

  friend constexpr bool operator==(IntFormat a, IntFormat b) {
    return a.bits_ == b.bits_ && a.is_signed_ == b.is_signed_;
  }
  friend constexpr bool operator!=(IntFormat a, IntFormat b) { return !(a == b); }

 private:
  constexpr IntFormat(int bits, bool is_signed) : bits_(bits), is_signed_(is_signed) {}
  int bits_;
  bool is_signed_;
};

}  // namespace chipref
