#include "numerics/requant.hpp"

#include <cmath>
#include <string>

#include "numerics/enum_names.hpp"

namespace chipref {

namespace {
constexpr enum_names::Entry<RoundingMode> kRoundingNames[] = {{RoundingMode::half_even, "half_even"},
                                                              {RoundingMode::half_away, "half_away"},
                                                              {RoundingMode::half_up, "half_up"},
                                                              {RoundingMode::floor, "floor"},
                                                              {RoundingMode::toward_zero, "toward_zero"}};
constexpr enum_names::Entry<RequantFlavour> kFlavourNames[] = {
    {RequantFlavour::gemmlowp, "gemmlowp"}, {RequantFlavour::single, "single"}, {RequantFlavour::float32, "float"}};
}  // namespace

std::string_view to_string(RoundingMode mode) { return enum_names::name_of(mode, kRoundingNames); }
RoundingMode parse_rounding_mode(std::string_view name) {
  return enum_names::parse("rounding mode", name, kRoundingNames);
}
std::string_view to_string(RequantFlavour flavour) { return enum_names::name_of(flavour, kFlavourNames); }
RequantFlavour parse_requant_flavour(std::string_view name) {
  return enum_names::parse("requant flavour", name, kFlavourNames);
}

double FixedMultiplier::value() const { return std::ldexp(static_cast<double>(multiplier), shift - bits); }

FixedMultiplier derive_multiplier(double scale, int bits) {
  if (bits < kMinMultiplierBits || bits > kMaxMultiplierBits)
    throw InputError("multiplier width " + std::to_string(bits) + " is out of range; expected " +
                     std::to_string(kMinMultiplierBits) + ".." + std::to_string(kMaxMultiplierBits) + " bits");
  if (!std::isfinite(scale) || scale < 0)
    throw InputError("requantization scale " + std::to_string(scale) + " is invalid; expected a finite value >= 0");
  if (scale == 0) return FixedMultiplier{0, 0, bits};

  int exponent = 0;
  const double fraction = std::frexp(scale, &exponent);  // scale = fraction · 2^exponent, fraction in [0.5, 1)
  // fraction · 2^bits is exact (a power-of-two scaling); rounding it is the only error, <= 1/2 unit.
  int64_t m = static_cast<int64_t>(std::round(std::ldexp(fraction, bits)));
  if (m == (int64_t{1} << bits)) {  // rounded up to the next power of two: renormalise
    m >>= 1;
    ++exponent;
  }
  if (exponent < kMinScaleExponent || exponent > kMaxScaleExponent)
    throw InputError("requantization scale " + std::to_string(scale) +
                     " is outside the supported range [2^-32, 2^31) for integer multiplier + shift");
  return FixedMultiplier{static_cast<int32_t>(m), exponent, bits};
}

RequantChannel make_requant_channel(double scale, int multiplier_bits) {
  return RequantChannel{derive_multiplier(scale, multiplier_bits), static_cast<float>(scale)};
}

int stored_multiplier_bits(RequantFlavour flavour, int configured_bits) {
  return flavour == RequantFlavour::float32 ? kFloat32MultiplierBits : configured_bits;
}

RequantChannel requant_channel_of(const FixedMultiplier& fixed, RequantFlavour flavour) {
  // What derive_multiplier can produce, and so what the kernels' shifts are bounded by (a right shift of
  // at most 62 in `single`, 31 in `gemmlowp`): a pair read from a file is held to it.
  if (fixed.bits < kMinMultiplierBits || fixed.bits > kMaxMultiplierBits)
    throw InputError("multiplier width " + std::to_string(fixed.bits) + " is out of range; expected " +
                     std::to_string(kMinMultiplierBits) + ".." + std::to_string(kMaxMultiplierBits) + " bits");
  const bool zero = fixed.multiplier == 0 && fixed.shift == 0;
  if (!zero && (fixed.multiplier < (int64_t{1} << (fixed.bits - 1)) || fixed.multiplier >= (int64_t{1} << fixed.bits)))
    throw InputError("multiplier " + std::to_string(fixed.multiplier) + " is not a normalised " +
                     std::to_string(fixed.bits) + "-bit multiplier in [2^" + std::to_string(fixed.bits - 1) + ", 2^" +
                     std::to_string(fixed.bits) + "), nor 0 with shift 0");
  if (fixed.shift < kMinScaleExponent || fixed.shift > kMaxScaleExponent)
    throw InputError("shift " + std::to_string(fixed.shift) + " is out of range; expected " +
                     std::to_string(kMinScaleExponent) + ".." + std::to_string(kMaxScaleExponent));
  if (flavour != RequantFlavour::float32) return RequantChannel{fixed, static_cast<float>(fixed.value())};
  if (fixed.bits != kFloat32MultiplierBits)
    throw InputError("the float requant flavour stores its float32 scale as a 24-bit multiplier; got " +
                     std::to_string(fixed.bits) + " bits");
  return RequantChannel{fixed,
                        static_cast<float>(fixed.value())};  // exact: 24 significant bits, exponent in float range
}

std::vector<RequantChannel> make_requant_channels(const std::vector<double>& scales, int multiplier_bits) {
  std::vector<RequantChannel> channels;
  channels.reserve(scales.size());
  for (double s : scales) channels.push_back(make_requant_channel(s, multiplier_bits));
  return channels;
}

Requantizer Requantizer::make(RequantFlavour flavour, RoundingMode rounding, IntFormat out, int64_t zero_point) {
  if (!out.contains(zero_point))
    throw InputError("output zero point " + std::to_string(zero_point) + " is outside " + out.name() + " [" +
                     std::to_string(out.min()) + ", " + std::to_string(out.max()) + "]");
  return Requantizer(flavour, rounding, out, zero_point);
}

// ONNX Runtime (MlasRequantizeOutput): float(acc) rounds to nearest even, one float32 multiply, clamp to
// [qmin − zp, qmax − zp], round half to even, add zp. Clamping an integer-bounded range before or after
// rounding gives the same integer, so the clamp is left to apply()'s final saturation; the ±2^62 guard
// only keeps the conversion to int64 defined.
int64_t Requantizer::scale_float32(int32_t acc, float scale) const {
  const float product = static_cast<float>(acc) * scale;
  constexpr double kLimit = 4611686018427387904.0;  // 2^62
  const double clamped = std::fmax(-kLimit, std::fmin(kLimit, static_cast<double>(product)));
  return static_cast<int64_t>(round_to_integer(clamped, RoundingMode::half_even));
}

}  // namespace chipref
