#pragma once
// Requantization of an int32 accumulator to an output integer format:
//   y = saturate_out(zero_point + R(acc · scale))
// where the real `scale` is carried as an integer multiplier and a power-of-two shift, and R is one of
// three flavours that hardware and reference runtimes use. Spec: docs/numerics.md §3.

#include <cstdint>
#include <string_view>
#include <vector>

#include "numerics/int_format.hpp"
#include "numerics/rounding.hpp"

namespace chipref {

enum class RequantFlavour {
  gemmlowp,  // SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT: bit-exact to gemmlowp/TFLite
  single,    // int64 product acc·M, one rounding shift in the configured RoundingMode
  float32,   // float32 acc·scale, clamp, round half to even: ONNX Runtime's QLinear requantization
};
inline constexpr RequantFlavour kAllRequantFlavours[] = {RequantFlavour::gemmlowp, RequantFlavour::single,
                                                         RequantFlavour::float32};
std::string_view to_string(RequantFlavour flavour);           // "gemmlowp", "single", "float"
RequantFlavour parse_requant_flavour(std::string_view name);  // throws InputError

// scale ≈ multiplier · 2^(shift − bits), with multiplier in [2^(bits−1), 2^bits) (normalised: its top bit
// is set) or multiplier = shift = 0 for scale 0. shift > 0 exactly when the represented value is >= 1
// (a left shift in the gemmlowp flavour; a scale just below 1 may round up to exactly 1). With bits = 31 this is
// TFLite's (quantized_multiplier, shift) pair. Relative error |multiplier·2^(shift−bits) − scale| / scale <= 2^−bits
// (docs/numerics.md §3.1).
struct FixedMultiplier {
  int32_t multiplier = 0;
  int shift = 0;
  int bits = 31;
  double value() const;  // the real number represented (for reports and tests)
};

inline constexpr int kMinMultiplierBits = 8;
inline constexpr int kMaxMultiplierBits = 31;
inline constexpr int kMinScaleExponent = -31;  // scales >= 2^-32 (gemmlowp shifts right by at most 31)
inline constexpr int kMaxScaleExponent = 31;   // scales  < 2^31

// Throws InputError for bits outside 8..31, a negative or non-finite scale, or a scale outside
// [2^-32, 2^31) (zero is allowed and gives a zero multiplier).
FixedMultiplier derive_multiplier(double scale, int bits);

// Everything one output channel needs, for every flavour: the fixed-point pair for `gemmlowp` and
// `single`, and the float32 scale for `float32` (ONNX Runtime computes it as a float32 product of
// float32 scales; whoever builds the channel decides how, see make_requant_channel).
struct RequantChannel {
  FixedMultiplier fixed;
  float scale_f32 = 0.0f;
};
RequantChannel make_requant_channel(double scale, int multiplier_bits);

// Every positive normal float32 is exactly M·2^e with a 24-bit M whose top bit is set, so a 24-bit
// FixedMultiplier carries the `float32` flavour's scale without loss: an IntGraph stores only integers
// for every flavour, and the `float32` flavour's channel is rebuilt from them bit for bit.
inline constexpr int kFloat32MultiplierBits = 24;
// The multiplier width a flavour stores: the configured one, or 24 for `float32`.
int stored_multiplier_bits(RequantFlavour flavour, int configured_bits);
// The channel an IntGraph's (multiplier, shift) pair stands for under `flavour`. Throws InputError for a
// pair derive_multiplier would not give (bits outside 8..31, a multiplier not normalised, a shift outside
// [kMinScaleExponent, kMaxScaleExponent]) and for a `float32` pair that is not 24 bits wide (it would
// not be a float32 scale).
RequantChannel requant_channel_of(const FixedMultiplier& fixed, RequantFlavour flavour);
std::vector<RequantChannel> make_requant_channels(const std::vector<double>& scales, int multiplier_bits);

// The output stage after the accumulator: flavour, rounding (used by `single` only; `gemmlowp` has its
// fixed half_up-then-half_away and `float32` its fixed half_even), output zero point and format.
class Requantizer {
 public:
  // Throws InputError if the zero point is outside the output format.
  static Requantizer make(RequantFlavour flavour, RoundingMode rounding, IntFormat out, int64_t zero_point);

  RequantFlavour flavour() const { return flavour_; }
  RoundingMode rounding() const { return rounding_; }
  IntFormat output_format() const { return out_; }
  int64_t zero_point() const { return zero_point_; }

  // R(acc · scale) before the zero point and the output saturation.
  inline int64_t scale_only(int32_t acc, const RequantChannel& ch) const;
  // The full stage: saturate_out(zero_point + R(acc · scale)).
  int64_t apply(int32_t acc, const RequantChannel& ch) const {
    return out_.saturate(zero_point_ + scale_only(acc, ch));
  }

 private:
  Requantizer(RequantFlavour f, RoundingMode r, IntFormat out, int64_t zp)
      : flavour_(f), rounding_(r), out_(out), zero_point_(zp) {}
  int64_t scale_float32(int32_t acc, float scale) const;
  RequantFlavour flavour_;
  RoundingMode rounding_;
  IntFormat out_;
  int64_t zero_point_;
};

namespace requant_detail {
// x · 2^n for n >= 0, saturated to ±2^62 (far outside every output format, so the final saturation is
// unchanged, and adding a 32-bit zero point can never overflow int64).
constexpr int64_t saturating_shift_left(int64_t x, int n) {
  constexpr int64_t kLimit = int64_t{1} << 62;
  if (n >= 62) return x > 0 ? kLimit : (x < 0 ? -kLimit : 0);
  const int64_t bound = kLimit >> n;
  if (x >= bound) return kLimit;
  if (x <= -bound) return -kLimit;
  return x * (int64_t{1} << n);
}
constexpr int32_t saturate_int32(int64_t x) {
  return x > INT32_MAX ? INT32_MAX : (x < INT32_MIN ? INT32_MIN : static_cast<int32_t>(x));
}
}  // namespace requant_detail

inline int64_t Requantizer::scale_only(int32_t acc, const RequantChannel& ch) const {
  const FixedMultiplier& m = ch.fixed;
  switch (flavour_) {
    case RequantFlavour::gemmlowp: {
      // TFLite's double-rounding MultiplyByQuantizedMultiplier. The left shift saturates to int32
      // (TFLite overflows there, which is undefined behaviour; saturation is chipref's defined choice).
      const int left = m.shift > 0 ? m.shift : 0;
      const int right = m.shift > 0 ? 0 : -m.shift;
      const int32_t x = requant_detail::saturate_int32(requant_detail::saturating_shift_left(acc, left));
      const int32_t q31 = m.multiplier << (kMaxMultiplierBits - m.bits);  // exact: top bits are free
      return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, q31), right);
    }
    case RequantFlavour::single: {
      const int64_t product = int64_t{acc} * m.multiplier;  // |product| < 2^62
      const int right = m.bits - m.shift;                   // in [-23, 62] for the supported scales
      return right >= 0 ? rounding_shift_right(product, right, rounding_)
                        : requant_detail::saturating_shift_left(product, -right);
    }
    case RequantFlavour::float32:
      return scale_float32(acc, ch.scale_f32);
  }
  return 0;
}

}  // namespace chipref
