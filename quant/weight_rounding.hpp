#pragma once
// How a MAC layer's float weights become codes on a fixed grid (the scales and zero points the weight
// calibrator chose): nearest rounding, or a rounding chosen from the layer's calibration inputs, GPTQ
// (Frantar et al. 2023) or AdaRound (Nagel et al. 2020). The algorithms choose codes only; the integer
// semantics of the layer are the same whichever chose them (docs/numerics.md §16).
//
// A layer is a matrix W [rows = output channels of one group, d = the inputs each reads] and, from the
// calibration inputs, the moments of its input columns x (the float network's) and x̂ (the network
// quantized up to this layer): the objective of a rounding Ŵ is the mean squared output error
//   E‖W x − Ŵ x̂‖² = (tr(W·Σxxᵀ·Wᵀ) − 2·tr(W·Σxx̂ᵀ·Ŵᵀ) + tr(Ŵ·Σx̂x̂ᵀ·Ŵᵀ)) / n,
// so the moments (d × d each) stand for every calibration input, however many there were.

#include <cstdint>
#include <vector>

#include <Eigen/Dense>

namespace chipref {

using RealMatrix = Eigen::MatrixXd;
using CodeMatrix = Eigen::Matrix<int64_t, Eigen::Dynamic, Eigen::Dynamic>;

// The codes one row (output channel) may take: value = scale · (code − zero_point), code in [lo, hi].
struct CodeGrid {
  double scale = 1;
  int64_t zero_point = 0, lo = 0, hi = 0;
  // The nearest code: round half to even of w / scale, plus the zero point, saturated to [lo, hi]
  // (code_of, quant/quantizer.hpp).
  int64_t nearest(double w) const;
  double value(int64_t code) const { return scale * static_cast<double>(code - zero_point); }
};

// Sums over the n input columns of one layer group (im2col columns of a convolution, rows of a matrix
// product): x from the float network, x̂ from the network quantized up to the layer.
struct LayerInputMoments {
  double rows = 0;                // n
  RealMatrix float_gram;          // Σ x xᵀ
  RealMatrix cross;               // Σ x x̂ᵀ
  RealMatrix quantized_gram;      // Σ x̂ x̂ᵀ
  Eigen::VectorXd float_sum;      // Σ x
  Eigen::VectorXd quantized_sum;  // Σ x̂
  explicit LayerInputMoments(int64_t d = 0);
};

RealMatrix dequantized(const CodeMatrix& codes, const std::vector<CodeGrid>& grids);
// E‖W x − Ŵ x̂‖² (one value: summed over the rows, averaged over the n inputs).
double layer_objective(const RealMatrix& w, const RealMatrix& w_hat, const LayerInputMoments& m);

CodeMatrix nearest_codes(const RealMatrix& w, const std::vector<CodeGrid>& grids);

struct GptqParams {
  int64_t block_size = 128;  // columns whose error updates are applied to the rest at once (lazy batch)
  double damping = 0.01;     // added to the Hessian's diagonal, times its mean diagonal
  bool act_order = false;    // quantize columns in order of decreasing Hessian diagonal
};
// GPTQ on the Hessian H = Σx̂x̂ᵀ: columns quantized one at a time in order, each one's rounding error
// spread over the columns not yet quantized through the Cholesky factor of H⁻¹. Columns whose inputs are
// always 0 (a zero diagonal) get the zero point.
CodeMatrix gptq_codes(const RealMatrix& w, const std::vector<CodeGrid>& grids, const RealMatrix& gram,
                      const GptqParams& p);

struct AdaRoundParams {
  int64_t iterations = 10000;
  double regularization = 0.01;  // λ of the rounding regularizer λ·Σ(1 − |2h − 1|^β)
  double beta_start = 20, beta_end = 2;
  double warmup = 0.2;          // share of the iterations without the regularizer
  double learning_rate = 1e-3;  // Adam's
};
struct AdaRoundResult {
  CodeMatrix codes;
  // The objective of the soft weights before the first iteration and after the warm-up (the reconstruction
  // alone is minimised then, so it cannot grow), and of the final hard rounding.
  double start_objective = 0, warmup_objective = 0, final_objective = 0;
};
// The two codes each weight may round to and their values: `down` the representable value at or below
// the weight, `up` the one above (equal where the weight is representable or beyond the grid's last
// value), and how far between them the weight lies (0..1, AdaRound's start). What AdaRound needs of a
// grid, uniform or not (a block format's element values under the block's scale).
struct RoundingNeighbours {
  RealMatrix down, up, fraction;
  CodeMatrix down_code, up_code;
  explicit RoundingNeighbours(int64_t rows = 0, int64_t d = 0);
};
// Per row on its uniform grid: floor(w / s) + z and the code above it, both saturated to [lo, hi].
RoundingNeighbours grid_neighbours(const RealMatrix& w, const std::vector<CodeGrid>& grids);

// AdaRound: each weight rounds down or up; the choice is h(V) = clamp(σ(V)·1.2 − 0.1, 0, 1), the soft
// weight down + h·(up − down), V learned with Adam on the asymmetric reconstruction E‖W x − Ŵ(h) x̂‖² plus
// the regularizer, whose β decays linearly from beta_start to beta_end after the warm-up; then up where
// h ≥ ½. Gradients are analytic (the objective is quadratic in Ŵ through the moments): no sampling, so the
// result depends on the moments only.
AdaRoundResult adaround_codes(const RealMatrix& w, const RoundingNeighbours& neighbours, const LayerInputMoments& m,
                              const AdaRoundParams& p);
// On each row's uniform grid.
AdaRoundResult adaround_codes(const RealMatrix& w, const std::vector<CodeGrid>& grids, const LayerInputMoments& m,
                              const AdaRoundParams& p);

}  // namespace chipref
