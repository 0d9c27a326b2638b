#pragma once
// Rounding: the one implementation of every rounding step in chipref. Requantization, quantization
// of floats and the fixed-point primitives below are all built from these two functions.
// Spec and worked examples (negative ties included): docs/numerics.md §2.

#include <cassert>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace chipref {

enum class RoundingMode {
  half_even,    // ties to the even neighbour (IEEE default; ONNX, ONNX Runtime)
  half_away,    // ties away from zero (C round(); gemmlowp RoundingDivideByPOT; NVDLA)
  half_up,      // ties toward +inf: floor(x + 1/2) (ARM VQRDMULH; TFLite single rounding)
  floor,        // toward -inf: arithmetic shift right, no rounding logic in hardware
  toward_zero,  // truncation: C integer division
};

inline constexpr RoundingMode kAllRoundingModes[] = {RoundingMode::half_even, RoundingMode::half_away,
                                                     RoundingMode::half_up, RoundingMode::floor,
                                                     RoundingMode::toward_zero};

std::string_view to_string(RoundingMode mode);
// Throws InputError listing the valid names.
RoundingMode parse_rounding_mode(std::string_view name);

// round(x / 2^shift) in `mode`, exactly, for every int64 x and 0 <= shift <= 62.
// Never overflows: for shift >= 1 the floor quotient has magnitude <= 2^62, so adding 1 is safe.
// Hardware: an arithmetic right shift plus a rounding increment decided from the shifted-out bits.
constexpr int64_t rounding_shift_right(int64_t x, int shift, RoundingMode mode) {
  assert(shift >= 0 && shift <= 62);
  if (shift == 0) return x;
  const int64_t floor_q = x >> shift;  // arithmetic shift (defined as such by GCC and Clang)
  const int64_t rem = static_cast<int64_t>(static_cast<uint64_t>(x) & ((uint64_t{1} << shift) - 1));
  const int64_t half = int64_t{1} << (shift - 1);  // rem/2^shift compared against 1/2
  switch (mode) {
    case RoundingMode::floor:
      return floor_q;
    case RoundingMode::toward_zero:
      return floor_q + (x < 0 && rem != 0);
    case RoundingMode::half_up:
      return floor_q + (rem >= half);
    case RoundingMode::half_away:
      return floor_q + (x < 0 ? rem > half : rem >= half);
    case RoundingMode::half_even:
      return floor_q + ((rem > half) | ((rem == half) & (floor_q & 1)));  // | and &: no branch to mispredict
  }
  return floor_q;
}

// The rounded quotient from the floor quotient q and remainder r in [0, b) of a / b (a < 0: `negative`):
// r compared with b − r, as rounding_shift_right compares the shifted-out bits with one half.
constexpr int64_t round_floor_quotient(int64_t q, int64_t r, int64_t b, bool negative, RoundingMode mode) {
  if (r == 0) return q;
  const int64_t rest = b - r;  // r/b > 1/2 exactly when r > rest
  switch (mode) {
    case RoundingMode::floor:
      return q;
    case RoundingMode::toward_zero:
      return q + negative;
    case RoundingMode::half_up:
      return q + (r >= rest);
    case RoundingMode::half_away:
      return q + (negative ? r > rest : r >= rest);
    case RoundingMode::half_even:
      return q + ((r > rest) | ((r == rest) & (q & 1)));
  }
  return q;
}

// round(a / b) in `mode`, exactly, for every int64 a and b > 0 (an integer divider with a rounding
// step): the floor quotient q and remainder r in [0, b) decide it as above, r compared with b − r.
constexpr int64_t rounding_divide(int64_t a, int64_t b, RoundingMode mode) {
  assert(b > 0);
  int64_t q = a / b, r = a % b;  // C truncates toward zero
  if (r < 0) q -= 1, r += b;     // floor quotient, 0 <= r < b
  return round_floor_quotient(q, r, b, a < 0, mode);
}

// rounding_divide(a, b, mode) for many a over one b > 0, without an integer division per call (softmax
// divides each element of a row by the row's sum, LayerNorm by its deviation). The floor quotient is
// estimated from a double reciprocal and then corrected by its remainder until 0 <= r < b, so the
// result is exact whatever the estimate; for |a|, b < 2^52 (a exact in double) the estimate's relative
// error is below 2^-51, so the truncated estimate is off by at most one or two and as many correction
// steps suffice. Beyond that, integer division.
class RoundingDivider {
 public:
  explicit RoundingDivider(int64_t b) : b_(b), inverse_(1.0 / static_cast<double>(b)) { assert(b > 0); }
  int64_t divide(int64_t a, RoundingMode mode) const {
    constexpr int64_t kExact = int64_t{1} << 52;
    if (a >= kExact || a <= -kExact || b_ >= kExact) return rounding_divide(a, b_, mode);
    // truncated, not floored (std::floor is a libm call without SSE4.1): one more correction below zero
    int64_t q = static_cast<int64_t>(static_cast<double>(a) * inverse_);
    int64_t r = a - q * b_;  // |q·b| <= |a| + 2b: no overflow
    // one step without a branch (a negative a's truncation is below its floor half the time: a branch on
    // it would be mispredicted that often), then, never in practice, more steps
    const int64_t step = int64_t{r >= b_} - int64_t{r < 0};
    q += step, r -= step * b_;
    while (r < 0) q -= 1, r += b_;
    while (r >= b_) q += 1, r -= b_;
    return round_floor_quotient(q, r, b_, a < 0, mode);
  }

 private:
  int64_t b_;
  double inverse_;
};

// x rounded to an integer value in `mode` (x finite). Exact: x - floor(x) is exact in binary floating point.
inline double round_to_integer(double x, RoundingMode mode) {
  const double fl = std::floor(x);
  const double frac = x - fl;  // in [0, 1)
  switch (mode) {
    case RoundingMode::floor:
      return fl;
    case RoundingMode::toward_zero:
      return (x < 0 && frac != 0) ? fl + 1 : fl;
    case RoundingMode::half_up:
      return frac >= 0.5 ? fl + 1 : fl;
    case RoundingMode::half_away:
      return (x < 0 ? frac > 0.5 : frac >= 0.5) ? fl + 1 : fl;
    case RoundingMode::half_even:
      // fl is odd when halving it leaves a fraction (exact: halving and floor are exact in binary floating
      // point); cheaper than fmod, which is a loop in libm.
      return (frac > 0.5 || (frac == 0.5 && std::floor(fl * 0.5) * 2.0 != fl)) ? fl + 1 : fl;
  }
  return fl;
}

// gemmlowp's SaturatingRoundingDoublingHighMul (ARM VQRDMULH): round_half_up(a·b / 2^31), saturated to
// int32. The only saturating input pair is (INT32_MIN, INT32_MIN), whose exact result is 2^31.
constexpr int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  const int64_t r = rounding_shift_right(int64_t{a} * int64_t{b}, 31, RoundingMode::half_up);
  return r > INT32_MAX ? INT32_MAX : static_cast<int32_t>(r);
}

// gemmlowp's RoundingDivideByPOT: round_half_away(x / 2^exponent), 0 <= exponent <= 31. Never saturates.
constexpr int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  assert(exponent >= 0 && exponent <= 31);
  return static_cast<int32_t>(rounding_shift_right(x, exponent, RoundingMode::half_away));
}

}  // namespace chipref
