#include "kernels/block_dot.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "numerics/wide_accumulator.hpp"

namespace chipref {

namespace {
constexpr Rounding kHalfEven{RoundingMode::half_even, false};

// The exponent of an element format's least significant bit (subnormal or integer quantum).
int element_lsb(const BlockFormat& f) {
  return f.element == BlockFormat::Element::floating ? f.fp.min_exponent() - f.fp.mantissa_bits : -(f.int_bits - 2);
}

// ±magnitude × 2^exponent as an ExactValue: exact up to 64 bits, else its top 64 bits and a sticky bit.
ExactValue from_wide(bool negative, unsigned __int128 magnitude, int exponent) {
  ExactValue v;
  v.negative = negative;
  const auto hi = static_cast<uint64_t>(magnitude >> 64);
  if (hi == 0) {
    v.significand = static_cast<uint64_t>(magnitude), v.exponent = exponent;
    return v;
  }
  const int drop = 64 - __builtin_clzll(hi);  // bits below the top 64
  v.significand = static_cast<uint64_t>(magnitude >> drop);
  v.sticky = (magnitude & ((static_cast<unsigned __int128>(1) << drop) - 1)) != 0;
  v.exponent = exponent + drop;
  return v;
}

ExactValue special(ExactValue::Kind kind, bool negative = false) {
  ExactValue v;
  v.kind = kind, v.negative = negative;
  return v;
}

// What infinities and NaNs a sum has met: the IEEE outcome of adding them all.
struct Specials {
  bool nan = false, plus_infinity = false, minus_infinity = false;
  void add(const ExactValue& v) {
    if (v.kind == ExactValue::Kind::nan) nan = true;
    if (v.kind == ExactValue::Kind::infinity) (v.negative ? minus_infinity : plus_infinity) = true;
  }
  bool any() const { return nan || plus_infinity || minus_infinity; }
  ExactValue result() const {
    if (nan || (plus_infinity && minus_infinity)) return special(ExactValue::Kind::nan);
    return special(ExactValue::Kind::infinity, minus_infinity);
  }
};

// IEEE binary32 addition rounded half to even (x + (−x) = +0; −0 + −0 = −0).
uint32_t fp32_add(uint32_t x, uint32_t y) {
  const ExactValue a = decode(kFp32, x), b = decode(kFp32, y);
  Specials s;
  s.add(a), s.add(b);
  if (s.any()) {
    const ExactValue r = s.result();
    return r.kind == ExactValue::Kind::nan ? encode_nan(kFp32, false)
                                           : (r.negative ? kFp32.sign_bit() : 0) | kFp32.infinity_code();
  }
  if (a.is_zero() && b.is_zero()) return a.negative && b.negative ? kFp32.sign_bit() : 0;
  WideAccumulator sum;
  sum.add(a), sum.add(b);
  return round_to_float(kFp32, sum.value(), kHalfEven, Overflow::ieee);
}
}  // namespace

std::string_view to_string(BlockAccumulation accumulation) {
  return accumulation == BlockAccumulation::exact ? "exact" : "fp32";
}

BlockAccumulation parse_block_accumulation(std::string_view name) {
  if (name == "exact") return BlockAccumulation::exact;
  if (name == "fp32") return BlockAccumulation::fp32;
  throw InputError("unknown block accumulation '" + std::string(name) + "'; expected one of: exact, fp32");
}

ExactValue block_dot(const BlockVector& a, const BlockVector& b, int64_t length, BlockAccumulation accumulation) {
  const BlockFormat &fa = *a.format, &fb = *b.format;
  if (fa.block_size != fb.block_size)
    throw InputError("block dot product of " + fa.name + " (block " + std::to_string(fa.block_size) + ") and " +
                     fb.name + " (block " + std::to_string(fb.block_size) + "): the blocks must line up");
  const int64_t block = fa.block_size;
  const int lsb_a = element_lsb(fa), lsb_b = element_lsb(fb);
  WideAccumulator exact;
  Specials specials;
  uint32_t running = 0;  // fp32 model: +0
  for (int64_t start = 0, index = 0; start < length; start += block, ++index) {
    const uint32_t scale_a = a.scales[index], scale_b = b.scales[index];
    Specials block_specials;
    if (scale_a == fa.scale_nan_code() || scale_b == fb.scale_nan_code()) block_specials.nan = true;
    __int128 partial = 0;  // Σ products in units of 2^(lsb_a + lsb_b)
    for (int64_t i = start; i < std::min(length, start + block); ++i) {
      const ExactValue x = element_value(fa, a.codes[i]), y = element_value(fb, b.codes[i]);
      if (x.kind != ExactValue::Kind::finite || y.kind != ExactValue::Kind::finite) {
        const bool zero_times_infinity = (x.kind == ExactValue::Kind::infinity && y.is_zero()) ||
                                         (y.kind == ExactValue::Kind::infinity && x.is_zero());
        if (x.kind == ExactValue::Kind::nan || y.kind == ExactValue::Kind::nan || zero_times_infinity)
          block_specials.nan = true;
        else
          block_specials.add(special(ExactValue::Kind::infinity, x.negative != y.negative));
        continue;
      }
      // Element products stay below 2^76 for blocks of up to 4096 (docs/numerics.md §15): 128 bits hold the sum.
      const __int128 product = static_cast<__int128>(x.significand * y.significand)
                               << ((x.exponent - lsb_a) + (y.exponent - lsb_b));
      partial += x.negative != y.negative ? -product : product;
    }
    const int exponent =
        lsb_a + lsb_b + static_cast<int>(scale_a) - fa.scale_bias() + static_cast<int>(scale_b) - fb.scale_bias();
    const bool negative = partial < 0;
    const auto magnitude = static_cast<unsigned __int128>(negative ? -partial : partial);
    if (accumulation == BlockAccumulation::exact) {
      if (block_specials.any())
        specials.add(block_specials.result());
      else
        exact.add(negative, magnitude, exponent);
      continue;
    }
    uint32_t block_sum = 0;
    if (block_specials.any()) {
      const ExactValue r = block_specials.result();
      block_sum = r.kind == ExactValue::Kind::nan ? encode_nan(kFp32, false)
                                                  : (r.negative ? kFp32.sign_bit() : 0) | kFp32.infinity_code();
    } else {
      block_sum = round_to_float(kFp32, from_wide(negative, magnitude, exponent), kHalfEven, Overflow::ieee);
    }
    running = fp32_add(running, block_sum);
  }
  if (accumulation == BlockAccumulation::fp32) return decode(kFp32, running);
  if (specials.any()) return specials.result();
  return exact.value();
}

}  // namespace chipref
