#pragma once
// Integer LayerNorm (docs/numerics.md §10): the kernels::LayerNorm for an input quantization, the
// float affine parameters γ, β and ε, and an output quantization.

#include <vector>

#include "kernels/layernorm.hpp"
#include "model/int_graph.hpp"

namespace chipref {

// The requantization of z·γ is the `single` flavour, rounding half to even (odd-symmetric, so that
// negative γ are exact), with `multiplier_bits`. Throws InputError for rows longer than 4096 elements,
// a scale out of range, or γ/β of another length than the row.
kernels::LayerNorm build_layernorm(const QuantParams& in, const std::vector<float>& gamma,
                                   const std::vector<float>& beta, double epsilon, const QuantParams& out,
                                   int multiplier_bits = 31);

}  // namespace chipref
