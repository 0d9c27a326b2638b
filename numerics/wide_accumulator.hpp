#pragma once
// An exact accumulator for block-format dot products (a Kulisch accumulator): a 768-bit two's-complement
// fixed-point register whose least significant bit weighs 2^-384. Every product of two MX or BFP values
// (scales 2^±127, elements down to 2^-16, mantissas up to 16 bits) lies between 2^-300 and 2^300, so sums of
// up to 2^80 of them are exact: no rounding happens until the result is read out. Spec: docs/numerics.md §15.

#include <array>
#include <cstdint>

#include "numerics/minifloat.hpp"

namespace chipref {

class WideAccumulator {
 public:
  static constexpr int kLimbs = 12;
  static constexpr int kLsbExponent = -384;

  // += ±magnitude × 2^exponent. Throws std::out_of_range when a bit of it falls outside the register.
  void add(bool negative, unsigned __int128 magnitude, int exponent);
  void add(const ExactValue& finite_value);  // sticky must be false
  bool is_zero() const;
  // The value as sign, a 64-bit significand with its top bit set, and a sticky bit for the bits below it
  // (ExactValue's contract): rounds into any format exactly as the full register would.
  ExactValue value() const;

 private:
  std::array<uint64_t, kLimbs> limbs_{};  // little-endian; limbs_[kLimbs - 1]'s top bit is the sign
};

}  // namespace chipref
