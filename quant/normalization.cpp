#include "quant/normalization.hpp"

#include <cmath>
#include <string>

#include "numerics/rounding.hpp"

namespace chipref {

kernels::LayerNorm build_layernorm(const QuantParams& in, const std::vector<float>& gamma,
                                   const std::vector<float>& beta, double epsilon, const QuantParams& out,
                                   int multiplier_bits) {
  const int64_t n = static_cast<int64_t>(gamma.size());
  if (n < 1 || n > kernels::kLayerNormMaxLength)
    throw InputError("LayerNorm over " + std::to_string(n) + " elements; expected 1..4096");
  if (static_cast<int64_t>(beta.size()) != n)
    throw InputError("LayerNorm: γ has " + std::to_string(n) + " values, β " + std::to_string(beta.size()));
  if (!(in.scale > 0) || !(out.scale > 0) || !(epsilon >= 0))
    throw InputError("LayerNorm needs positive scales and ε >= 0");
  kernels::LayerNorm p;
  p.in_zero_point = in.zero_point;
  p.requantizer = Requantizer::make(RequantFlavour::single, RoundingMode::half_even, out.format, out.zero_point);
  const double e =
      std::ldexp(epsilon * static_cast<double>(n) * static_cast<double>(n) / (in.scale * in.scale), 2 * p.extra_bits);
  p.epsilon = static_cast<uint64_t>(std::min(round_to_integer(e, RoundingMode::half_even), 1.8e19));
  for (int64_t j = 0; j < n; ++j) {
    const double g = static_cast<double>(gamma[j]) / (out.scale * std::ldexp(1.0, kernels::kLayerNormZBits));
    p.gamma.push_back(
        RequantChannel{derive_multiplier(std::fabs(g), multiplier_bits), static_cast<float>(std::fabs(g))});
    p.gamma_negative.push_back(g < 0);
    p.beta.push_back(
        static_cast<int64_t>(round_to_integer(static_cast<double>(beta[j]) / out.scale, RoundingMode::half_even)));
  }
  return p;
}

}  // namespace chipref
