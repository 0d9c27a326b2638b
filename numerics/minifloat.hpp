#pragma once
// Small floating-point formats (OCP FP8 E4M3 and E5M2, FP6 E3M2 and E2M3, FP4 E2M1) and FP32 itself, as
// integer fields: a code decodes to sign × significand × 2^exponent, and an exact value rounds into a
// format by one procedure (guard, half and sticky bits, a rounding mode, an overflow policy) that every
// conversion in chipref uses: float input into MX elements, block sums into FP32, FP32 into the next
// layer. No host floating-point arithmetic anywhere. Spec: docs/numerics.md §15.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "numerics/rounding.hpp"

namespace chipref {

// What the top exponent field means.
enum class FloatSpecials {
  ieee,      // all-ones exponent: zero mantissa = ±infinity, else NaN (FP32, OCP E5M2)
  nan_only,  // only S.1..1.1..1 is NaN; no infinities; the rest of the top binade is finite (OCP E4M3)
  none,      // every code is a finite number (OCP FP6 and FP4)
};

// A binary floating-point format of 1 sign, `exponent_bits` and `mantissa_bits` (stored fraction) bits.
struct FloatFormat {
  int exponent_bits;
  int mantissa_bits;
  int bias;
  FloatSpecials specials;
  std::string_view name;

  constexpr int bits() const { return 1 + exponent_bits + mantissa_bits; }
  constexpr int min_exponent() const { return 1 - bias; }  // of the smallest normal (and of subnormals)
  constexpr uint32_t sign_bit() const { return uint32_t{1} << (bits() - 1); }
  constexpr uint32_t top_exponent_field() const { return (uint32_t{1} << exponent_bits) - 1; }
  // The largest finite magnitude, as a code (sign clear).
  constexpr uint32_t max_finite_code() const {
    const uint32_t all_mantissa = (uint32_t{1} << mantissa_bits) - 1;
    switch (specials) {
      case FloatSpecials::ieee:
        return ((top_exponent_field() - 1) << mantissa_bits) | all_mantissa;
      case FloatSpecials::nan_only:
        return (top_exponent_field() << mantissa_bits) | (all_mantissa - 1);
      case FloatSpecials::none:
        break;
    }
    return (top_exponent_field() << mantissa_bits) | all_mantissa;
  }
  constexpr uint32_t nan_code() const {  // the positive NaN; only for formats that have one
    return (top_exponent_field() << mantissa_bits) | ((uint32_t{1} << mantissa_bits) - 1);
  }
  constexpr uint32_t infinity_code() const { return top_exponent_field() << mantissa_bits; }  // ieee only
};

inline constexpr FloatFormat kFp8E4M3{4, 3, 7, FloatSpecials::nan_only, "fp8_e4m3"};
inline constexpr FloatFormat kFp8E5M2{5, 2, 15, FloatSpecials::ieee, "fp8_e5m2"};
inline constexpr FloatFormat kFp6E3M2{3, 2, 3, FloatSpecials::none, "fp6_e3m2"};
inline constexpr FloatFormat kFp6E2M3{2, 3, 1, FloatSpecials::none, "fp6_e2m3"};
inline constexpr FloatFormat kFp4E2M1{2, 1, 1, FloatSpecials::none, "fp4_e2m1"};
inline constexpr FloatFormat kFp32{8, 23, 127, FloatSpecials::ieee, "fp32"};

// sign × significand × 2^exponent, or an infinity, or a NaN. `sticky` (only with the significand's bit 63
// set): the magnitude exceeds significand × 2^exponent by something in (0, 2^exponent) -- a wider value cut
// to 64 bits (WideAccumulator), which rounds into any format of at most 62 significant bits exactly as the
// whole value would. Decoded codes are exact.
struct ExactValue {
  enum class Kind { finite, infinity, nan };
  Kind kind = Kind::finite;
  bool negative = false;
  uint64_t significand = 0;
  int exponent = 0;
  bool sticky = false;
  bool is_zero() const { return kind == Kind::finite && significand == 0 && !sticky; }
};

ExactValue decode(const FloatFormat& format, uint32_t code);
// floor(log2|v|) of a nonzero finite value, read off the bits (never a float log2, which returns k for the
// largest float below 2^k).
int floor_log2(const ExactValue& v);

// How rounding picks a neighbour: a deterministic mode, or stochastic (round the magnitude up with the
// probability of the discarded fraction, read to 32 bits, against a 32-bit random word).
struct Rounding {
  RoundingMode mode = RoundingMode::half_even;
  bool stochastic = false;
};

// What a value beyond the largest finite one becomes.
enum class Overflow {
  saturate,  // ± the largest finite value (MX element conversion)
  ieee,      // ±infinity, or the largest finite value when the rounding goes toward zero (IEEE 754 §7.4)
  nan,       // NaN (OCP E4M3's non-saturating conversion)
};

// The magnitude of finite v rounded to a multiple of 2^quantum_exponent, as the multiple; 2^62 or more
// stands for "too large for any format" (callers clamp). `random` is used only when rounding.stochastic.
uint64_t round_to_quantum(const ExactValue& v, int quantum_exponent, Rounding rounding, uint32_t random = 0);

// Finite v rounded into `format`: subnormals kept, overflow as `overflow` says. A zero result keeps v's
// sign (IEEE: −tiny rounds to −0).
uint32_t round_to_float(const FloatFormat& format, const ExactValue& v, Rounding rounding, Overflow overflow,
                        uint32_t random = 0);
uint32_t encode_nan(const FloatFormat& format, bool negative);  // throws for a format without NaN

// round(v / d) to an integer in `mode`, exactly, for finite v and a finite positive divisor d of at most 24
// significant bits (a float32 scale's value): how a block MAC's exact output becomes a uniform integer code.
// When |v| / 2^exponent(d) >= 2^63 (then |v / d| >= 2^39, beyond every integer format) it returns ±2^62.
int64_t round_quotient(const ExactValue& v, const ExactValue& d, RoundingMode mode);

// A float's value as a double, exactly (every code of every format here fits a double): for reports and the
// fake-quant side only.
double to_double(const ExactValue& v);

const FloatFormat& parse_float_format(std::string_view name);

// A float32's bit pattern (what every conversion here takes as FP32 input), and back.
inline uint32_t float32_bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}
inline float float32_from_bits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}  // throws InputError listing the names

// Deterministic per-element random words for stochastic rounding: a hash of (seed, index), so the same
// element gets the same word whatever the thread split or the order of evaluation.
uint32_t stochastic_word(uint64_t seed, uint64_t index);

}  // namespace chipref
