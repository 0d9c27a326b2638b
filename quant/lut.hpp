#pragma once
// Lookup tables for elementwise non-linears (docs/numerics.md §8): how a float function becomes a
// kernels::Lut between two quantizations, its documented error bound, and the exhaustive measurement of
// its error over every input code.

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/lut.hpp"
#include "kernels/softmax.hpp"
#include "model/int_graph.hpp"

namespace chipref {

enum class NonLinear {
  relu,
  gelu_erf,
  gelu_tanh,
  sigmoid,
  silu,
  tanh,
  exp,
  reciprocal,
  rsqrt,
  leaky_relu,
  hard_sigmoid,
  hard_swish,
  elu,
  selu,
  celu,
  softplus,
  softsign,
  mish,
};
inline constexpr NonLinear kAllNonLinears[] = {
    NonLinear::relu,         NonLinear::gelu_erf,   NonLinear::gelu_tanh,  NonLinear::sigmoid, NonLinear::silu,
    NonLinear::tanh,         NonLinear::exp,        NonLinear::reciprocal, NonLinear::rsqrt,   NonLinear::leaky_relu,
    NonLinear::hard_sigmoid, NonLinear::hard_swish, NonLinear::elu,        NonLinear::selu,    NonLinear::celu,
    NonLinear::softplus,     NonLinear::softsign,   NonLinear::mish};
std::string_view to_string(NonLinear f);
NonLinear parse_nonlinear(std::string_view name);  // InputError listing the names

// The parameters of the functions that have them, as ONNX names them; NaN: ONNX's default.
// leaky_relu: alpha (0.01); hard_sigmoid: alpha (0.2), beta (0.5); elu, celu: alpha (1); selu: alpha
// (1.67326…), gamma (1.0507…) in `beta`.
struct NonLinearParams {
  double alpha = std::numeric_limits<double>::quiet_NaN(), beta = std::numeric_limits<double>::quiet_NaN();
};
// The parameters with ONNX's defaults filled in (those a function does not take stay NaN).
NonLinearParams resolved(NonLinear f, const NonLinearParams& p);

// The reference, in double. reciprocal(0) and rsqrt(x <= 0) are +inf (the table saturates there).
double evaluate(NonLinear f, double x, const NonLinearParams& params = {});

// How a non-linear is computed: a table from the float function (§8), or I-BERT's integer polynomial
// (§12; GELU and softmax's exp), tabulated over every input code — the same integers a polynomial unit
// computes per element.
enum class NonLinearMethod { lut, poly };
std::string_view to_string(NonLinearMethod m);
NonLinearMethod parse_nonlinear_method(std::string_view name);  // InputError listing the names

struct LutSpec {
  NonLinear function = NonLinear::relu;
  NonLinearParams params;
  QuantParams in, out;  // input codes (at most 16 bits) and output codes
  int table_bits = 0;   // 0: one entry per input code; else 2^table_bits + 1 entries (<= input bits)
  bool interpolate = false;
  NonLinearMethod method = NonLinearMethod::lut;  // poly: one entry per code (table_bits is ignored)
};

// lut: T[i] = sat_out(z_out + round_half_even(f(s_in · (c_i − z_in)) / s_out)), c_i = min_in + i · 2^shift.
// poly: T[x − min_in] = the i-GELU of x − z_in, requantized to the output (§12); InputError for a
// function without a polynomial form.
kernels::Lut build_lut(const LutSpec& spec);

// The error of the table against f over every input code x, in real units |ŷ(x) − f(x)|, except where
// the output saturates (f(x), or a table entry x's output uses, outside the output range): those are
// counted. `bound` is the documented worst case for the unsaturated codes (§8), `worst_bound_ratio` the
// largest measured error / its per-code bound (<= 1 when the bound holds everywhere).
struct LutError {
  double max_abs = 0, mean_abs = 0, worst_bound_ratio = 0;
  int64_t codes = 0, saturated = 0;
};
LutError measure_lut_error(const LutSpec& spec, const kernels::Lut& table);

// Integer softmax (docs/numerics.md §9) for inputs of scale in_scale and `in_bits` bits: the exp table
// T[d] = round_half_even(2^exp_bits · exp(−in_scale · d)) for d = 0 .. 2^in_bits − 1 (trailing zeros
// dropped), output codes of `out_bits` unsigned bits at scale 2^−out_bits.
// The error of a softmax exp table against 2^exp_bits · exp(−in_scale · d) for every d of `in_bits`-bit
// inputs, in real units (the table's value / 2^exp_bits), with the bound ratio: 1/2 unit for a table
// from exp, 2^e·exp(−S·d)·ρ(z) + 1 units for i-exp (§12). Entries past the table's end count as 0.
LutError measure_softmax_exp_error(double in_scale, int in_bits, int exp_bits, NonLinearMethod method,
                                   const std::vector<int32_t>& exp_table);

// With NonLinearMethod::poly the entries are I-BERT's i-exp of −d, requantized to 2^−exp_bits units (§12).
kernels::Softmax build_softmax(double in_scale, int in_bits, int exp_bits, int out_bits,
                               NonLinearMethod method = NonLinearMethod::lut);

}  // namespace chipref
