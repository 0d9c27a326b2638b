#include "quant/lut.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "numerics/enum_names.hpp"
#include "numerics/polynomial.hpp"
#include "numerics/requant.hpp"
#include "numerics/rounding.hpp"
#include "quant/config_keys.hpp"

namespace chipref {

namespace {
constexpr enum_names::Entry<NonLinear> kNames[] = {{NonLinear::relu, "relu"},
                                                   {NonLinear::gelu_erf, "gelu_erf"},
                                                   {NonLinear::gelu_tanh, "gelu_tanh"},
                                                   {NonLinear::sigmoid, "sigmoid"},
                                                   {NonLinear::silu, "silu"},
                                                   {NonLinear::tanh, "tanh"},
                                                   {NonLinear::exp, "exp"},
                                                   {NonLinear::reciprocal, "reciprocal"},
                                                   {NonLinear::rsqrt, "rsqrt"},
                                                   {NonLinear::leaky_relu, "leaky_relu"},
                                                   {NonLinear::hard_sigmoid, "hard_sigmoid"},
                                                   {NonLinear::hard_swish, "hard_swish"},
                                                   {NonLinear::elu, "elu"},
                                                   {NonLinear::selu, "selu"},
                                                   {NonLinear::celu, "celu"},
                                                   {NonLinear::softplus, "softplus"},
                                                   {NonLinear::softsign, "softsign"},
                                                   {NonLinear::mish, "mish"}};

constexpr enum_names::Entry<NonLinearMethod> kMethodNames[] = {{NonLinearMethod::lut, "lut"},
                                                               {NonLinearMethod::poly, "poly"}};

constexpr double kInf = std::numeric_limits<double>::infinity();

// Codes from an integer polynomial's values v (real = scale · v): v shifted right by k bits (floor) so
// that every |v| of the domain fits int32, then the `single` MulShift, half to even, with the 31-bit
// multiplier of |scale| · 2^k / s_y (negated first when scale < 0).
class PolynomialOutput {
 public:
  PolynomialOutput(double scale, int64_t max_abs_v, const QuantParams& out)
      : negate_(scale < 0),
        rq_(Requantizer::make(RequantFlavour::single, RoundingMode::half_even, out.format, out.zero_point)) {
    while ((max_abs_v >> k_) > (int64_t{1} << 30)) ++k_;
    channel_ = make_requant_channel(std::fabs(scale) * std::ldexp(1.0, k_) / out.scale, kMaxMultiplierBits);
  }
  int32_t operator()(int64_t v) const {
    const int64_t shifted = rounding_shift_right(negate_ ? -v : v, k_, RoundingMode::floor);
    return static_cast<int32_t>(rq_.apply(static_cast<int32_t>(shifted), channel_));
  }
  int pre_shift() const { return k_; }

 private:
  bool negate_;
  int k_ = 0;
  Requantizer rq_;
  RequantChannel channel_;
};

// I-BERT's erf approximation at u, in double: sign(u) · (a · (min(|u|, −b) + b)² + 1).
double ibert_erf(double u) {
  const double m = std::min(std::fabs(u), -IntGelu::kB);
  return u == 0 ? 0.0 : std::copysign(IntGelu::kA * (m + IntGelu::kB) * (m + IntGelu::kB) + 1.0, u);
}

// i-GELU over every input code of spec: the polynomial, its values and their output stage.
struct PolyGelu {
  IntGelu gelu;
  std::vector<int64_t> values;  // per input code, from the format's minimum
  PolynomialOutput to_codes;
};
PolyGelu poly_gelu(const LutSpec& spec) {
  const IntGelu g = IntGelu::make(spec.in.scale);
  std::vector<int64_t> values;
  int64_t max_abs = 0;
  for (int64_t x = spec.in.format.min(); x <= spec.in.format.max(); ++x) {
    values.push_back(g(x - spec.in.zero_point));
    max_abs = std::max(max_abs, std::abs(values.back()));
  }
  return PolyGelu{g, std::move(values), PolynomialOutput(g.scale, max_abs, spec.out)};
}

// The documented bound of i-GELU at x (docs/numerics.md §12): the polynomial's own error, the floors of
// its integer constants and of the 2^14 shift, the pre-shift and the output rounding.
double poly_gelu_bound(const IntGelu& g, double x, int pre_shift, double s_y) {
  const double delta = std::fabs(IntGelu::kA) * g.s_prime * g.s_prime * (4 * std::fabs(IntGelu::kB) / g.s_prime + 6) +
                       2 * std::fabs(g.s_erf);
  const double half_x = std::fabs(x) / 2;
  return half_x * std::fabs(ibert_erf(x / IntGelu::kK) - std::erf(x / std::sqrt(2.0))) + half_x * delta + 0.5 * s_y +
         std::fabs(g.scale) * std::ldexp(1.0, pre_shift) +
         std::fabs(evaluate(NonLinear::gelu_erf, x)) * std::ldexp(1.0, -30);
}
constexpr double kSqrt2 = 1.4142135623730951, kSqrt2OverPi = 0.7978845608028654;

// max |f'| and max |f''| over [a, b] (a <= b): global maxima for the bounded ones (derived in
// docs/numerics.md §8), monotone end values for the others; a kink (a jump of f') inside [a, b] makes
// max |f''| infinite (the chord bound then falls back to the first derivative's).
bool spans(double a, double b, double kink) { return a < kink && b > kink; }
double max_abs_derivative(NonLinear f, const NonLinearParams& params, double a, double b) {
  const NonLinearParams p = resolved(f, params);
  const double near0 = (a <= 0 && b >= 0) ? 0.0 : std::min(std::fabs(a), std::fabs(b));
  switch (f) {
    case NonLinear::relu:
      return 1.0;
    case NonLinear::gelu_erf:
      return 1.1289;  // Φ(x) + x·φ(x), largest at x = √2
    case NonLinear::gelu_tanh:
      return 1.1290;  // within 1e-4 of the erf form's
    case NonLinear::sigmoid:
      return 0.25;
    case NonLinear::silu:
      return 1.0999;  // σ(x)(1 + x(1 − σ(x))), largest near x = 2.4
    case NonLinear::tanh:
      return 1.0;
    case NonLinear::exp:
      return std::exp(b);
    case NonLinear::reciprocal:
      return near0 == 0 ? kInf : 1.0 / (near0 * near0);
    case NonLinear::rsqrt:
      return a <= 0 ? kInf : 0.5 * std::pow(a, -1.5);
    case NonLinear::leaky_relu:
      return std::max(1.0, std::fabs(p.alpha));
    case NonLinear::hard_sigmoid:
      return std::fabs(p.alpha);
    case NonLinear::hard_swish:
      return 1.5;  // (2x + 3)/6 on [−3, 3], largest at x = 3; 0 or 1 outside
    case NonLinear::elu:
      return std::max(1.0, std::fabs(p.alpha));  // α·eˣ below 0
    case NonLinear::selu:
      return std::fabs(p.beta) * std::max(1.0, std::fabs(p.alpha));
    case NonLinear::celu:
      return 1.0;  // e^(x/α) below 0
    case NonLinear::softplus:
      return 1.0;  // σ(x)
    case NonLinear::softsign:
      return 1.0;  // 1/(1 + |x|)², largest at 0
    case NonLinear::mish:
      return 1.0886;  // largest near x = 1.2 (measured on a 1e-3 grid over [−20, 20]: 1.08850)
  }
  return kInf;
}
double max_abs_second_derivative(NonLinear f, const NonLinearParams& params, double a, double b) {
  const NonLinearParams p = resolved(f, params);
  const double near0 = (a <= 0 && b >= 0) ? 0.0 : std::min(std::fabs(a), std::fabs(b));
  switch (f) {
    case NonLinear::relu:
      return (a < 0 && b > 0) ? kInf : 0.0;  // a kink at 0
    case NonLinear::gelu_erf:
      return 0.7979;  // φ(x)(2 − x²), largest at 0: 2φ(0)
    case NonLinear::gelu_tanh:
      return 0.7979;
    case NonLinear::sigmoid:
      return 0.0963;  // σ'(x)(1 − 2σ(x)), largest at x = ±1.317
    case NonLinear::silu:
      return 0.5;  // largest at 0
    case NonLinear::tanh:
      return 0.7699;  // 2 tanh(x)(1 − tanh²(x)), largest at x = ±0.658
    case NonLinear::exp:
      return std::exp(b);
    case NonLinear::reciprocal:
      return near0 == 0 ? kInf : 2.0 / (near0 * near0 * near0);
    case NonLinear::rsqrt:
      return a <= 0 ? kInf : 0.75 * std::pow(a, -2.5);
    case NonLinear::leaky_relu:
      return spans(a, b, 0.0) && p.alpha != 1.0 ? kInf : 0.0;
    case NonLinear::hard_sigmoid:
      if (p.alpha == 0) return 0.0;
      return spans(a, b, -p.beta / p.alpha) || spans(a, b, (1.0 - p.beta) / p.alpha) ? kInf : 0.0;
    case NonLinear::hard_swish:
      return spans(a, b, -3.0) || spans(a, b, 3.0) ? kInf : (b > -3.0 && a < 3.0 ? 1.0 / 3.0 : 0.0);
    case NonLinear::elu:  // α·eˣ below 0; a kink at 0 unless α = 1
      return spans(a, b, 0.0) && p.alpha != 1.0 ? kInf
                                                : (a < 0 ? std::fabs(p.alpha) * std::exp(std::min(b, 0.0)) : 0.0);
    case NonLinear::selu:
      return spans(a, b, 0.0) && p.alpha != 1.0
                 ? kInf
                 : (a < 0 ? std::fabs(p.beta * p.alpha) * std::exp(std::min(b, 0.0)) : 0.0);
    case NonLinear::celu:
      return a < 0 ? std::exp(std::min(b, 0.0) / p.alpha) / std::fabs(p.alpha) : 0.0;
    case NonLinear::softplus:
      return 0.25;  // σ'(x), largest at 0
    case NonLinear::softsign:
      return 2.0;  // 2/(1 + |x|)³, largest next to 0
    case NonLinear::mish:
      return 0.6443;  // largest at 0 (measured as above: 0.64420)
  }
  return kInf;
}
}  // namespace

std::string_view to_string(NonLinear f) { return enum_names::name_of(f, kNames); }
std::string_view to_string(NonLinearMethod m) { return enum_names::name_of(m, kMethodNames); }
NonLinearMethod parse_nonlinear_method(std::string_view name) {
  return enum_names::parse("non-linear method", name, kMethodNames);
}
NonLinear parse_nonlinear(std::string_view name) { return enum_names::parse("non-linear function", name, kNames); }

NonLinearParams resolved(NonLinear f, const NonLinearParams& p) {
  auto or_default = [](double v, double d) { return std::isnan(v) ? d : v; };
  NonLinearParams r;
  switch (f) {
    case NonLinear::leaky_relu:
      r.alpha = or_default(p.alpha, 0.01);
      break;
    case NonLinear::hard_sigmoid:
      r.alpha = or_default(p.alpha, 0.2), r.beta = or_default(p.beta, 0.5);
      break;
    case NonLinear::elu:
    case NonLinear::celu:
      r.alpha = or_default(p.alpha, 1.0);
      break;
    case NonLinear::selu:  // ONNX's float32 defaults
      r.alpha = or_default(p.alpha, 1.67326319217681884765625), r.beta = or_default(p.beta, 1.05070102214813232421875);
      break;
    default:
      break;
  }
  return r;
}

double evaluate(NonLinear f, double x, const NonLinearParams& params) {
  const NonLinearParams p = resolved(f, params);
  switch (f) {
    case NonLinear::relu:
      return x > 0 ? x : 0.0;
    case NonLinear::gelu_erf:
      return 0.5 * x * (1.0 + std::erf(x / kSqrt2));
    case NonLinear::gelu_tanh:
      return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
    case NonLinear::sigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case NonLinear::silu:
      return x / (1.0 + std::exp(-x));
    case NonLinear::tanh:
      return std::tanh(x);
    case NonLinear::exp:
      return std::exp(x);
    case NonLinear::reciprocal:
      return x == 0 ? kInf : 1.0 / x;
    case NonLinear::rsqrt:
      return x <= 0 ? kInf : 1.0 / std::sqrt(x);
    case NonLinear::leaky_relu:
      return x >= 0 ? x : p.alpha * x;
    case NonLinear::hard_sigmoid:
      return std::clamp(p.alpha * x + p.beta, 0.0, 1.0);
    case NonLinear::hard_swish:  // x · HardSigmoid(x) with alpha 1/6, beta 1/2 (ONNX HardSwish)
      return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0);
    case NonLinear::elu:
      return x >= 0 ? x : p.alpha * std::expm1(x);
    case NonLinear::selu:
      return p.beta * (x > 0 ? x : p.alpha * std::expm1(x));
    case NonLinear::celu:
      return std::max(0.0, x) + std::min(0.0, p.alpha * std::expm1(x / p.alpha));
    case NonLinear::softplus:
      return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    case NonLinear::softsign:
      return x / (1.0 + std::fabs(x));
    case NonLinear::mish:
      return x * std::tanh(evaluate(NonLinear::softplus, x));
  }
  return 0.0;
}

kernels::Lut build_lut(const LutSpec& spec) {
  const int in_bits = spec.in.format.bits();
  if (in_bits > 16) throw InputError("a lookup table takes inputs of at most 16 bits, got " + spec.in.format.name());
  if (spec.table_bits < 0 || spec.table_bits > in_bits)
    throw InputError("table_bits " + std::to_string(spec.table_bits) +
                     " is out of range; expected 0 (one entry per code) .. " + std::to_string(in_bits));
  if (!(spec.in.scale > 0) || !(spec.out.scale > 0))
    throw InputError("a lookup table needs positive input and output scales");
  if (spec.method == NonLinearMethod::poly) {
    if (spec.function != NonLinear::gelu_erf)
      throw InputError(std::string("no integer polynomial for ") + std::string(to_string(spec.function)) +
                       "; method poly covers gelu_erf (and softmax's exp)");
    const PolyGelu p = poly_gelu(spec);
    kernels::Lut t;
    t.in_min = spec.in.format.min(), t.out = spec.out.format;
    for (int64_t value : p.values) t.table.push_back(p.to_codes(value));
    return t;
  }
  kernels::Lut t;
  t.in_min = spec.in.format.min();
  t.shift = spec.table_bits == 0 ? 0 : in_bits - spec.table_bits;
  t.interpolate = spec.interpolate && t.shift > 0;
  t.out = spec.out.format;
  const int64_t entries = t.shift == 0 ? (int64_t{1} << in_bits) : (int64_t{1} << spec.table_bits) + 1;
  t.table.resize(static_cast<size_t>(entries));
  for (int64_t i = 0; i < entries; ++i) {
    const double x = spec.in.scale * static_cast<double>(t.in_min + (i << t.shift) - spec.in.zero_point);
    const double y = evaluate(spec.function, x, spec.params) / spec.out.scale;
    const double code = std::isinf(y)
                            ? (y > 0 ? 1e18 : -1e18)
                            : round_to_integer(y, RoundingMode::half_even) + static_cast<double>(spec.out.zero_point);
    t.table[i] =
        static_cast<int32_t>(std::clamp(code, static_cast<double>(t.out.min()), static_cast<double>(t.out.max())));
  }
  return t;
}

LutError measure_lut_error(const LutSpec& spec, const kernels::Lut& t) {
  LutError e;
  const IntFormat& fi = spec.in.format;
  const double s_x = spec.in.scale, s_y = spec.out.scale;
  const double y_lo = s_y * static_cast<double>(spec.out.format.min() - spec.out.zero_point);
  const double y_hi = s_y * static_cast<double>(spec.out.format.max() - spec.out.zero_point);
  auto representable = [&](double y) { return y >= y_lo && y <= y_hi; };
  auto real_of = [&](int64_t code) { return s_x * static_cast<double>(code - spec.in.zero_point); };
  const int64_t step = int64_t{1} << t.shift;
  std::optional<PolyGelu> poly;
  if (spec.method == NonLinearMethod::poly) poly = poly_gelu(spec);
  double sum = 0;
  for (int64_t q = fi.min(); q <= fi.max(); ++q) {
    ++e.codes;
    const double x = real_of(q), fx = evaluate(spec.function, x, spec.params);
    // The entries this code's output comes from, and the documented bound for it.
    const int64_t offset = q - t.in_min, i = offset >> t.shift;
    int64_t lo_code = t.in_min + (i << t.shift), hi_code = lo_code + step;
    if (t.shift > 0 && !t.interpolate)
      lo_code = hi_code =
          t.in_min + std::min<int64_t>((offset + step / 2) >> t.shift, static_cast<int64_t>(t.table.size()) - 1) * step;
    if (t.shift == 0) hi_code = lo_code;
    const double f_lo = evaluate(spec.function, real_of(lo_code), spec.params),
                 f_hi = evaluate(spec.function, real_of(hi_code), spec.params);
    if (!representable(fx) || !representable(f_lo) || !representable(f_hi)) {
      ++e.saturated;
      continue;
    }
    const double a = std::min({x, real_of(lo_code), real_of(hi_code)}),
                 b = std::max({x, real_of(lo_code), real_of(hi_code)});
    double bound = 0.5 * s_y;  // the output rounding of a table entry
    if (poly) bound = poly_gelu_bound(poly->gelu, x, poly->to_codes.pre_shift(), s_y);
    if (t.shift > 0 && !t.interpolate)
      bound += max_abs_derivative(spec.function, spec.params, a, b) * std::fabs(x - real_of(lo_code));
    if (t.interpolate) {
      // interpolation rounding, then the chord's distance from f: h²/8·max|f''|, or h/2·max|f'| (a kink)
      const double h = s_x * static_cast<double>(step);
      bound += 0.5 * s_y + std::min(h * h / 8.0 * max_abs_second_derivative(spec.function, spec.params, a, b),
                                    h / 2.0 * max_abs_derivative(spec.function, spec.params, a, b));
    }
    int32_t code_in = static_cast<int32_t>(q), code_out = 0;
    kernels::lut(t, &code_in, 1, &code_out);
    const double err = std::fabs(s_y * static_cast<double>(code_out - spec.out.zero_point) - fx);
    e.max_abs = std::max(e.max_abs, err);
    e.worst_bound_ratio = std::max(e.worst_bound_ratio, err / (bound * (1 + 1e-9) + 1e-300));
    sum += err;
  }
  const int64_t counted = e.codes - e.saturated;
  e.mean_abs = counted > 0 ? sum / static_cast<double>(counted) : 0.0;
  return e;
}

kernels::Softmax build_softmax(double in_scale, int in_bits, int exp_bits, int out_bits, NonLinearMethod method) {
  if (in_bits < 2 || in_bits > 16)
    throw InputError("softmax takes inputs of 2..16 bits, got " + std::to_string(in_bits));
  if (exp_bits < 8 || exp_bits > 30)
    throw InputError("softmax exp_bits " + std::to_string(exp_bits) + " is out of range; expected 8..30");
  if (out_bits < 2 || out_bits > 16)
    throw InputError("softmax output of " + std::to_string(out_bits) + " bits; expected 2..16");
  if (!(in_scale > 0)) throw InputError("softmax needs a positive input scale");
  kernels::Softmax s;
  const int64_t span = int64_t{1} << in_bits;
  if (method == NonLinearMethod::poly) {
    const IntExp e = IntExp::make(in_scale);
    const PolynomialOutput to_units(e.scale, e(0),
                                    QuantParams{IntFormat::make(exp_bits + 2, false), 0, std::ldexp(1.0, -exp_bits)});
    for (int64_t d = 0; d < span; ++d) {
      const int32_t t = to_units(e(-d));
      if (t == 0) break;  // i-exp does not increase with d: every later entry is 0 too
      s.exp_table.push_back(t);
    }
  } else {
    for (int64_t d = 0; d < span; ++d) {
      const double t =
          round_to_integer(std::ldexp(std::exp(-in_scale * static_cast<double>(d)), exp_bits), RoundingMode::half_even);
      if (t == 0) break;  // exp only decreases: every later entry is 0 too
      s.exp_table.push_back(static_cast<int32_t>(t));
    }
  }
  s.one_over_scale = int64_t{1} << out_bits;
  s.out = IntFormat::make(out_bits, false);
  return s;
}

LutError measure_softmax_exp_error(double in_scale, int in_bits, int exp_bits, NonLinearMethod method,
                                   const std::vector<int32_t>& exp_table) {
  LutError e;
  const double unit = std::ldexp(1.0, exp_bits);
  const double s_prime = method == NonLinearMethod::poly ? IntExp::make(in_scale).s_prime : 0.0;
  double sum = 0;
  for (int64_t d = 0; d < (int64_t{1} << in_bits); ++d) {
    ++e.codes;
    const double exact = unit * std::exp(-in_scale * static_cast<double>(d));
    const double got = d < static_cast<int64_t>(exp_table.size()) ? exp_table[d] : 0.0;
    double bound = 0.5;
    if (method == NonLinearMethod::poly) {
      const double z = std::floor(static_cast<double>(d) * in_scale / std::log(2.0)) + 1;
      bound = exact * ((1.0034 + s_prime) * std::exp(z * (s_prime + 5e-5)) - 1) + 1;
    }
    const double err = std::fabs(got - exact);
    e.max_abs = std::max(e.max_abs, err / unit);
    e.worst_bound_ratio = std::max(e.worst_bound_ratio, err / (bound * (1 + 1e-9)));
    sum += err / unit;
  }
  e.mean_abs = sum / static_cast<double>(e.codes);
  return e;
}

std::vector<ConfigKey> nonlinear_config_keys() {
  using C = LayerQuantConfig;
  return {
      integer_key("nonlinear", "table_bits", 0, 16, &C::lut_table_bits,
                  "lookup tables of Sigmoid, Tanh, Exp, Reciprocal, Gelu: 0 = one entry per input code; t = 2^t + 1 "
                  "entries (capped at the input's "
                  "bits), docs/numerics.md §8"),
      boolean_key("nonlinear", "interpolate", &C::lut_interpolate,
                  "with a reduced table: interpolate linearly between entries, else take the nearest"),
      choice_key(
          "nonlinear", "method", fixed_choices({"lut", "poly"}),
          [](C& c, const std::string& v) { c.nonlinear_method = parse_nonlinear_method(v); },
          [](const C& c) { return std::string(to_string(c.nonlinear_method)); },
          "`poly`: I-BERT's integer polynomial instead of a table from the float function, for Gelu (i-GELU) and "
          "Softmax's exp (i-exp), "
          "docs/numerics.md §12; a layer with another non-linear and `poly` is an error naming the node"),
  };
}

}  // namespace chipref
