#pragma once
// I-BERT's integer polynomials (Kim et al., "I-BERT: Integer-only BERT Quantization", 2021): the `poly`
// alternative to a table for GELU and for softmax's exp (docs/numerics.md §12). Every constant is an
// integer derived once from the input scale with floor, as I-BERT's reference computes it; evaluation is
// integer only: adds, multiplies, comparisons, a floor shift, a left shift.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "core/error.hpp"
#include "numerics/rounding.hpp"

namespace chipref {

// i-GELU. For an input code offset q = x − z_x at scale S, GELU(q·S) ≈ scale · v(q) with
//   Q = q · 2^j,  S' = S / (1.4142 · 2^j),  qb = ⌊b / S'⌋,  qc = ⌊c / S'²⌋  (a = −0.2888, b = −1.769, c = 1/a)
//   E = (min(|Q|, −qb) + qb)² + qc,  erf = ⌊sign(Q) · E / 2^n⌋,  one = ⌊1 / S_erf⌋,  S_erf = a · S'² · 2^n
//   v(q) = Q · (erf + one),  scale = S / 2^j · S_erf / 2  (negative: a < 0)
// erf · S_erf approximates erf(q·S / √2) by I-BERT's second-order polynomial, clipped at |u| = −b.
// I-BERT feeds it int32 accumulators with fine scales and fixes n = 14; chipref's inputs are codes of
// at most 16 bits, so two shifts adapt to the scale: j refines the grid the integer constants live on
// (until S' <= 2^-12), and n keeps about 2^14 steps between erf = 0 and 1 (|one| >= 2^13).
struct IntGelu {
  static constexpr double kA = -0.2888, kB = -1.769, kK = 1.4142;
  int64_t qb = 0, qc = 0, one = 0;
  int input_shift = 0, erf_shift = 0;  // j and n above
  double s_prime = 0, s_erf = 0, scale = 0;

  static IntGelu make(double input_scale) {
    if (!(input_scale > 0) || !std::isfinite(input_scale) || input_scale > 1e6 || input_scale < 1e-7)
      throw InputError("i-GELU: input scale " + std::to_string(input_scale) + " is outside [1e-7, 1e6]");
    IntGelu g;
    g.s_prime = input_scale / kK;
    while (g.s_prime > std::ldexp(1.0, -12)) g.s_prime /= 2, ++g.input_shift;
    const double per_unit = 1.0 / (-kA * g.s_prime * g.s_prime);  // E units per 1.0 of erf
    while (per_unit / std::ldexp(1.0, g.erf_shift + 1) >= std::ldexp(1.0, 13)) ++g.erf_shift;
    g.qb = static_cast<int64_t>(std::floor(kB / g.s_prime));
    g.qc = static_cast<int64_t>(std::floor((1.0 / kA) / (g.s_prime * g.s_prime)));
    g.s_erf = kA * g.s_prime * g.s_prime * std::ldexp(1.0, g.erf_shift);
    g.one = static_cast<int64_t>(std::floor(1.0 / g.s_erf));
    g.scale = input_scale / std::ldexp(1.0, g.input_shift) * g.s_erf / 2;
    return g;
  }

  // S >= 1e-7 keeps qc and qb² below 2^51; after the refinement |Q| <= 2^16 · 2^j <= 2^40 and |one| < 2^15,
  // so every product stays far inside int64.
  int64_t operator()(int64_t q) const {
    const int64_t big_q = q * (int64_t{1} << input_shift);
    const int64_t m = std::min<int64_t>(std::abs(big_q), -qb);
    const int64_t e = (m + qb) * (m + qb) + qc;
    const int64_t erf = rounding_shift_right(big_q > 0 ? e : (big_q < 0 ? -e : 0), erf_shift, RoundingMode::floor);
    return big_q * (erf + one);
  }
};

// i-exp. For an input code offset q <= 0 at scale S, exp(q·S) ≈ scale · v(q) with
//   Q = q · 2^j,  S' = S / 2^j,  qx0 = ⌊x0 / S'⌋ (x0 = −0.6931 ≈ −ln 2),  Q ← max(Q, n·qx0)
//   z = ⌊Q / qx0⌋,  r = Q − qx0·z ∈ (qx0, 0],  p = r · (r + qb) + qc,  qb = ⌊b / S'⌋,  qc = ⌊c / S'²⌋
//   v(q) = max(p · 2^(n − z), 0),  scale = 0.35815147 · S'² / 2^n
// from exp(t) ≈ 0.35815147 · (t² + b·t + c) on (−ln 2, 0] and exp(−z ln 2 + t) = 2^−z exp(t). As for
// i-GELU, j refines the grid (until S' <= 2^-10) so that qx0 · S' is within 2^-10 of x0: chipref's
// inputs are codes of at most 16 bits, not I-BERT's fine-scaled int32. n is I-BERT's 30, lowered when
// qc is so large (S' < 2^-15) that p · 2^n could leave int64: 0 <= p <= qc on (qx0, 0].
struct IntExp {
  static constexpr double kX0 = -0.6931, kA = 0.35815147, kB = 0.96963238 / 0.35815147, kC = 1.0 / 0.35815147;
  int64_t qx0 = 0, qb = 0, qc = 0;
  int input_shift = 0, n = 30;
  double s_prime = 0, scale = 0;

  static IntExp make(double input_scale) {
    if (!(input_scale > 0) || !std::isfinite(input_scale) || input_scale < 1e-7 || input_scale > 1e6)
      throw InputError("i-exp: input scale " + std::to_string(input_scale) + " is outside [1e-7, 1e6]");
    IntExp e;
    e.s_prime = input_scale;
    while (e.s_prime > std::ldexp(1.0, -10)) e.s_prime /= 2, ++e.input_shift;
    e.qx0 = static_cast<int64_t>(std::floor(kX0 / e.s_prime));
    e.qb = static_cast<int64_t>(std::floor(kB / e.s_prime));
    e.qc = static_cast<int64_t>(std::floor(kC / (e.s_prime * e.s_prime)));  // < 2^49 for S' >= 1e-7
    while (e.n > 0 && e.qc >= (int64_t{1} << (62 - e.n))) --e.n;
    e.scale = kA * e.s_prime * e.s_prime / std::ldexp(1.0, e.n);
    return e;
  }

  int64_t operator()(int64_t q) const {
    int64_t big_q = std::max<int64_t>(q * (int64_t{1} << input_shift), n * qx0);
    if (big_q > 0) big_q = 0;       // exp is only evaluated at or below the row maximum
    const int64_t z = big_q / qx0;  // both <= 0, qx0 < 0: a non-negative quotient, truncation = floor
    const int64_t r = big_q - qx0 * z;
    const int64_t p = r * (r + qb) + qc;
    return std::max<int64_t>(p * (int64_t{1} << (n - z)), 0);
  }
};

}  // namespace chipref
