#include "numerics/minifloat.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>

#include "core/error.hpp"

namespace chipref {

namespace {
int highest_bit(uint64_t x) { return 63 - __builtin_clzll(x); }  // x != 0

// Whether the kept multiple goes up by one, from the bits below it.
bool rounds_up(Rounding rounding, bool negative, uint64_t kept, bool half, bool rest, uint32_t fraction32,
               uint32_t random) {
  if (rounding.stochastic) return uint64_t{fraction32} + random >= (uint64_t{1} << 32);
  switch (rounding.mode) {
    case RoundingMode::toward_zero:
      return false;
    case RoundingMode::floor:
      return negative && (half || rest);
    case RoundingMode::half_away:
      return half;
    case RoundingMode::half_up:
      return negative ? half && rest : half;
    case RoundingMode::half_even:
      return half && (rest || (kept & 1) != 0);
  }
  return false;
}
}  // namespace

ExactValue decode(const FloatFormat& f, uint32_t code) {
  ExactValue v;
  v.negative = (code & f.sign_bit()) != 0;
  const uint32_t field = (code >> f.mantissa_bits) & f.top_exponent_field();
  const uint32_t mantissa = code & ((uint32_t{1} << f.mantissa_bits) - 1);
  const bool top = field == f.top_exponent_field();
  if (top && f.specials == FloatSpecials::ieee) {
    v.kind = mantissa == 0 ? ExactValue::Kind::infinity : ExactValue::Kind::nan;
    return v;
  }
  if (top && f.specials == FloatSpecials::nan_only && mantissa == (uint32_t{1} << f.mantissa_bits) - 1) {
    v.kind = ExactValue::Kind::nan;
    return v;
  }
  if (field == 0) {  // zero or subnormal: 0.m × 2^emin
    v.significand = mantissa;
    v.exponent = f.min_exponent() - f.mantissa_bits;
  } else {  // 1.m × 2^(field − bias)
    v.significand = (uint64_t{1} << f.mantissa_bits) | mantissa;
    v.exponent = static_cast<int>(field) - f.bias - f.mantissa_bits;
  }
  return v;
}

int floor_log2(const ExactValue& v) { return highest_bit(v.significand) + v.exponent; }

namespace {
// v's magnitude as a 64-bit window with its top bit set (when nonzero), and the same exponent scale.
struct Window {
  uint64_t bits = 0;
  int exponent = 0;
};
Window window_of(const ExactValue& v) {
  if (v.significand == 0) return {};
  assert(!v.sticky || (v.significand >> 63) != 0);
  const int up = 63 - highest_bit(v.significand);
  return {v.significand << up, v.exponent - up};
}
}  // namespace

namespace {
// v's magnitude cut at 2^quantum_exponent: the whole quanta, the first bit below them, whether anything
// lies below that, and the cut-off fraction read to 32 bits. `huge`: 2^62 quanta or more.
struct QuantumSplit {
  uint64_t kept = 0;
  bool half = false, rest = false, huge = false;
  uint32_t fraction32 = 0;
};
QuantumSplit split_at_quantum(const ExactValue& value, int quantum_exponent) {
  QuantumSplit q;
  const Window v = window_of(value);
  if (v.bits == 0) return q;  // a sticky bit without a significand never arises (see ExactValue)
  // Shifting exponents apart by more than any window: keep the difference in 64 bits.
  const int64_t s = int64_t{quantum_exponent} - v.exponent;  // bits of the window below the quantum
  if (s <= 0) {                                              // an integer number of quanta
    q.huge = s < -62 || (v.bits >> (62 + s)) != 0;
    q.kept = q.huge ? uint64_t{1} << 62 : v.bits << -s;
    return q;
  }
  q.kept = s >= 64 ? 0 : v.bits >> s;
  const uint64_t discarded = s >= 64 ? v.bits : v.bits & ((uint64_t{1} << s) - 1);
  q.half = s > 64 ? false : ((discarded >> (s - 1)) & 1) != 0;
  const uint64_t below_half = s > 64 ? discarded : discarded & ~(uint64_t{1} << (s - 1));
  q.rest = below_half != 0 || value.sticky;
  if (s < 32)  // floor(discarded / 2^s × 2^32)
    q.fraction32 = static_cast<uint32_t>(discarded << (32 - s));
  else if (s - 32 < 64)
    q.fraction32 = static_cast<uint32_t>(discarded >> (s - 32));
  return q;
}
}  // namespace

uint64_t round_to_quantum(const ExactValue& value, int quantum_exponent, Rounding rounding, uint32_t random) {
  const QuantumSplit q = split_at_quantum(value, quantum_exponent);
  if (q.huge) return q.kept;  // beyond any format: the caller clamps
  return q.kept + (rounds_up(rounding, value.negative, q.kept, q.half, q.rest, q.fraction32, random) ? 1 : 0);
}

int64_t round_quotient(const ExactValue& v, const ExactValue& d, RoundingMode mode) {
  if (v.kind != ExactValue::Kind::finite || d.kind != ExactValue::Kind::finite || d.significand == 0 || d.sticky ||
      d.significand >= (uint64_t{1} << 24))
    throw std::logic_error("round_quotient: needs a finite value and a finite nonzero divisor of <= 24 bits");
  constexpr int64_t kHuge = int64_t{1} << 62;
  if (v.significand == 0) return 0;
  // |v| / 2^d.exponent must have fewer than 63 integer bits, so that v's 64-bit window holds every bit
  // down to the quantum and one below it; else |v / d| >= 2^63 / 2^24 = 2^39.
  if (floor_log2(v) - d.exponent >= 63) return v.negative ? -kHuge : kHuge;
  // |v| / d = (Q + φ) / D with Q whole quanta of 2^d.exponent, φ in [0, 1) their cut-off fraction and D
  // d's significand. With q, r the quotient and remainder of Q / D, the fraction of the quotient is
  // (r + φ) / D, and 2φ = half + (something in [0, 1), nonzero exactly when `rest`), so comparing
  // 2r + half with D (integers) decides below, at or above one half.
  const QuantumSplit s = split_at_quantum(v, d.exponent);
  const uint64_t D = d.significand, q = s.kept / D, r = s.kept % D;
  const unsigned __int128 twice = static_cast<unsigned __int128>(2) * r + (s.half ? 1 : 0);
  const bool exact = r == 0 && !s.half && !s.rest;
  const bool tie = twice == D && !s.rest, above = twice > D || (twice == D && s.rest);
  bool up = false;  // the magnitude rounds up
  switch (mode) {
    case RoundingMode::toward_zero:
      break;
    case RoundingMode::floor:
      up = v.negative && !exact;
      break;
    case RoundingMode::half_away:
      up = above || tie;
      break;
    case RoundingMode::half_up:
      up = above || (tie && !v.negative);
      break;
    case RoundingMode::half_even:
      up = above || (tie && (q & 1) != 0);
      break;
  }
  const auto magnitude = static_cast<int64_t>(std::min<uint64_t>(q + (up ? 1 : 0), kHuge));
  return v.negative ? -magnitude : magnitude;
}

uint32_t encode_nan(const FloatFormat& f, bool negative) {
  const uint32_t sign = negative ? f.sign_bit() : 0;
  switch (f.specials) {
    case FloatSpecials::ieee:  // quiet NaN: the top fraction bit set
      return sign | f.infinity_code() | (uint32_t{1} << (f.mantissa_bits - 1));
    case FloatSpecials::nan_only:
      return sign | f.nan_code();
    case FloatSpecials::none:
      break;
  }
  throw std::logic_error(std::string(f.name) + " has no NaN encoding");
}

uint32_t round_to_float(const FloatFormat& f, const ExactValue& v, Rounding rounding, Overflow overflow,
                        uint32_t random) {
  const uint32_t sign = v.negative ? f.sign_bit() : 0;
  if (v.significand == 0) return sign;
  const int M = f.mantissa_bits;
  int exponent = std::max(floor_log2(v), f.min_exponent());
  uint64_t kept = round_to_quantum(v, exponent - M, rounding, random);
  if (kept >> (M + 1)) kept >>= 1, ++exponent;  // rounded up into the next binade: exactly 2^(M+1) before
  if (kept == 0) return sign;
  const bool normal = kept >> M;  // else subnormal, and exponent == min_exponent
  const uint64_t magnitude = normal ? (uint64_t(exponent + f.bias) << M) | (kept & ((uint64_t{1} << M) - 1)) : kept;
  if (magnitude <= f.max_finite_code()) return sign | static_cast<uint32_t>(magnitude);
  switch (overflow) {
    case Overflow::saturate:
      return sign | f.max_finite_code();
    case Overflow::nan:
      return encode_nan(f, v.negative);
    case Overflow::ieee: {
      if (f.specials != FloatSpecials::ieee) throw std::logic_error(std::string(f.name) + " has no infinity");
      const bool toward_zero = !rounding.stochastic && (rounding.mode == RoundingMode::toward_zero ||
                                                        (rounding.mode == RoundingMode::floor && !v.negative));
      return sign | (toward_zero ? f.max_finite_code() : f.infinity_code());
    }
  }
  return sign | f.max_finite_code();
}

double to_double(const ExactValue& v) {
  const double sign = v.negative ? -1.0 : 1.0;
  if (v.kind == ExactValue::Kind::nan) return std::nan("");
  if (v.kind == ExactValue::Kind::infinity) return sign * HUGE_VAL;
  return sign * std::ldexp(static_cast<double>(v.significand), v.exponent);
}

const FloatFormat& parse_float_format(std::string_view name) {
  static constexpr const FloatFormat* kAll[] = {&kFp8E4M3, &kFp8E5M2, &kFp6E3M2, &kFp6E2M3, &kFp4E2M1, &kFp32};
  std::string names;
  for (const FloatFormat* f : kAll) {
    if (f->name == name) return *f;
    names += (names.empty() ? "" : ", ") + std::string(f->name);
  }
  throw InputError("unknown floating-point format '" + std::string(name) + "'; expected one of: " + names);
}

uint32_t stochastic_word(uint64_t seed, uint64_t index) {
  // splitmix64's finaliser over the seed and the index: every output bit depends on every input bit.
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<uint32_t>((z ^ (z >> 31)) >> 32);
}

}  // namespace chipref
