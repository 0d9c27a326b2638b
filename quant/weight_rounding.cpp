#include "quant/weight_rounding.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"
#include "quant/config_keys.hpp"
#include "quant/quantizer.hpp"

namespace chipref {

int64_t CodeGrid::nearest(double w) const { return code_of(w, scale, zero_point, lo, hi); }

LayerInputMoments::LayerInputMoments(int64_t d)
    : float_gram(RealMatrix::Zero(d, d)),
      cross(RealMatrix::Zero(d, d)),
      quantized_gram(RealMatrix::Zero(d, d)),
      float_sum(Eigen::VectorXd::Zero(d)),
      quantized_sum(Eigen::VectorXd::Zero(d)) {}

RealMatrix dequantized(const CodeMatrix& codes, const std::vector<CodeGrid>& grids) {
  RealMatrix w(codes.rows(), codes.cols());
  for (int64_t r = 0; r < codes.rows(); ++r)
    for (int64_t j = 0; j < codes.cols(); ++j) w(r, j) = grids[static_cast<size_t>(r)].value(codes(r, j));
  return w;
}

double layer_objective(const RealMatrix& w, const RealMatrix& w_hat, const LayerInputMoments& m) {
  if (m.rows <= 0) return 0;
  const double target = (w * m.float_gram).cwiseProduct(w).sum();
  const double mixed = (w * m.cross).cwiseProduct(w_hat).sum();
  const double approx = (w_hat * m.quantized_gram).cwiseProduct(w_hat).sum();
  return std::max(0.0, target - 2 * mixed + approx) / m.rows;
}

CodeMatrix nearest_codes(const RealMatrix& w, const std::vector<CodeGrid>& grids) {
  CodeMatrix codes(w.rows(), w.cols());
  for (int64_t r = 0; r < w.rows(); ++r)
    for (int64_t j = 0; j < w.cols(); ++j) codes(r, j) = grids[static_cast<size_t>(r)].nearest(w(r, j));
  return codes;
}

CodeMatrix gptq_codes(const RealMatrix& w, const std::vector<CodeGrid>& grids, const RealMatrix& gram,
                      const GptqParams& p) {
  const int64_t rows = w.rows(), d = w.cols();
  if (gram.rows() != d || gram.cols() != d) throw std::logic_error("gptq_codes: Hessian and weights disagree");
  // The column order: as stored, or by decreasing Hessian diagonal (act-order; ties keep their order).
  std::vector<int64_t> order(static_cast<size_t>(d));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (p.act_order)
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return gram(a, a) > gram(b, b); });
  RealMatrix W(rows, d), H(d, d);
  for (int64_t j = 0; j < d; ++j) {
    W.col(j) = w.col(order[static_cast<size_t>(j)]);
    for (int64_t i = 0; i < d; ++i) H(i, j) = gram(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  // An input that is always 0 carries no information: its weights become 0 (the zero point) and its row
  // of H the identity's, which keeps H invertible without touching the other columns.
  for (int64_t j = 0; j < d; ++j)
    if (H(j, j) == 0) H.row(j).setZero(), H.col(j).setZero(), H(j, j) = 1, W.col(j).setZero();
  H.diagonal().array() += p.damping * H.diagonal().mean();
  const Eigen::LLT<RealMatrix> h_factor(H);
  if (h_factor.info() != Eigen::Success)
    throw InputError("GPTQ: the inputs' Hessian is not positive definite; raise weights.gptq_damping");
  const RealMatrix h_inverse = h_factor.solve(RealMatrix::Identity(d, d));
  const Eigen::LLT<RealMatrix> inv_factor(h_inverse);
  if (inv_factor.info() != Eigen::Success)
    throw InputError("GPTQ: the inverse Hessian is not positive definite; raise weights.gptq_damping");
  const RealMatrix U = inv_factor.matrixU();  // H⁻¹ = UᵀU
  CodeMatrix q(rows, d);
  const int64_t block = std::max<int64_t>(1, p.block_size);
  for (int64_t i1 = 0; i1 < d; i1 += block) {
    const int64_t count = std::min(block, d - i1);
    RealMatrix w1 = W.middleCols(i1, count), errors(rows, count);
    for (int64_t i = 0; i < count; ++i) {
      const double pivot = U(i1 + i, i1 + i);
      for (int64_t r = 0; r < rows; ++r) {
        const CodeGrid& g = grids[static_cast<size_t>(r)];
        const int64_t code = g.nearest(w1(r, i));
        q(r, i1 + i) = code;
        errors(r, i) = (w1(r, i) - g.value(code)) / pivot;
      }
      w1.rightCols(count - i).noalias() -= errors.col(i) * U.block(i1 + i, i1 + i, 1, count - i);
    }
    if (i1 + count < d)
      W.rightCols(d - i1 - count).noalias() -= errors * U.block(i1, i1 + count, count, d - i1 - count);
  }
  CodeMatrix codes(rows, d);
  for (int64_t j = 0; j < d; ++j) codes.col(order[static_cast<size_t>(j)]) = q.col(j);
  return codes;
}

namespace {
// The rectified sigmoid's stretch (Louizos et al.; AdaRound's ζ = 1.1, γ = −0.1).
constexpr double kZeta = 1.1, kGamma = -0.1;
}  // namespace

RoundingNeighbours::RoundingNeighbours(int64_t rows, int64_t d)
    : down(rows, d), up(rows, d), fraction(rows, d), down_code(rows, d), up_code(rows, d) {}

RoundingNeighbours grid_neighbours(const RealMatrix& w, const std::vector<CodeGrid>& grids) {
  const int64_t rows = w.rows(), d = w.cols();
  RoundingNeighbours n(rows, d);
  for (int64_t r = 0; r < rows; ++r) {
    const CodeGrid& g = grids[static_cast<size_t>(r)];
    for (int64_t j = 0; j < d; ++j) {
      const double x = w(r, j) / g.scale, below = std::floor(x);
      const auto code = static_cast<int64_t>(below) + g.zero_point;
      n.down_code(r, j) = std::clamp(code, g.lo, g.hi), n.up_code(r, j) = std::clamp(code + 1, g.lo, g.hi);
      n.down(r, j) = g.value(n.down_code(r, j)), n.up(r, j) = g.value(n.up_code(r, j));
      n.fraction(r, j) = x - below;
    }
  }
  return n;
}

AdaRoundResult adaround_codes(const RealMatrix& w, const std::vector<CodeGrid>& grids, const LayerInputMoments& m,
                              const AdaRoundParams& p) {
  return adaround_codes(w, grid_neighbours(w, grids), m, p);
}

AdaRoundResult adaround_codes(const RealMatrix& w, const RoundingNeighbours& nb, const LayerInputMoments& m,
                              const AdaRoundParams& p) {
  const int64_t rows = w.rows(), d = w.cols();
  if (nb.down.rows() != rows || nb.down.cols() != d)
    throw std::logic_error("adaround_codes: the weights and their rounding neighbours disagree");
  AdaRoundResult result;
  // The soft weight moves from `down` to `up` with h; a weight with one neighbour does not move.
  const RealMatrix step = nb.up - nb.down;
  RealMatrix v(rows, d);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < d; ++j) {
      // h(V) starts at the fraction: the soft weights start as the weights themselves (inside the grid)
      const double fraction = std::clamp(nb.fraction(r, j), 1e-6, 1 - 1e-6);
      v(r, j) = -std::log((kZeta - kGamma) / (fraction - kGamma) - 1);
    }
  RealMatrix h(rows, d), dh(rows, d), w_hat(rows, d);
  const auto soft_weights = [&] {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < d; ++j) {
        const double s = 1 / (1 + std::exp(-v(r, j))), stretched = s * (kZeta - kGamma) + kGamma;
        const bool open = stretched > 0 && stretched < 1;
        h(r, j) = std::clamp(stretched, 0.0, 1.0);
        dh(r, j) = open ? s * (1 - s) * (kZeta - kGamma) : 0;
        w_hat(r, j) = nb.down(r, j) + h(r, j) * step(r, j);
      }
  };
  soft_weights();
  result.start_objective = result.warmup_objective = layer_objective(w, w_hat, m);
  const RealMatrix target = w * m.cross;  // W·Σxx̂ᵀ: the objective's gradient is 2(Ŵ·Σx̂x̂ᵀ − W·Σxx̂ᵀ)/n
  const double n = std::max(1.0, m.rows);
  const int64_t warm = static_cast<int64_t>(p.warmup * static_cast<double>(p.iterations));
  RealMatrix first(RealMatrix::Zero(rows, d)), second(RealMatrix::Zero(rows, d)), grad(rows, d);
  constexpr double kAdam1 = 0.9, kAdam2 = 0.999, kEpsilon = 1e-8;
  double power1 = 1, power2 = 1;
  for (int64_t t = 0; t < p.iterations; ++t) {
    if (t > 0) soft_weights();
    grad.noalias() = w_hat * m.quantized_gram;
    grad = (grad - target) * (2 / n);
    grad = grad.cwiseProduct(step);  // dL/dh
    if (t >= warm) {
      const double progress =
          static_cast<double>(t - warm) / static_cast<double>(std::max<int64_t>(1, p.iterations - warm));
      const double beta = p.beta_end + (p.beta_start - p.beta_end) * std::max(0.0, 1 - progress);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < d; ++j) {
          const double u = 2 * h(r, j) - 1;
          // d/dh of λ(1 − |2h − 1|^β)
          grad(r, j) -= p.regularization * beta * std::pow(std::fabs(u), beta - 1) * (u < 0 ? -2.0 : 2.0);
        }
    }
    grad = grad.cwiseProduct(dh);  // dL/dV
    power1 *= kAdam1, power2 *= kAdam2;
    first = kAdam1 * first + (1 - kAdam1) * grad;
    second = kAdam2 * second + (1 - kAdam2) * grad.cwiseProduct(grad);
    v -= (p.learning_rate / (1 - power1)) *
         (first.array() / ((second.array() / (1 - power2)).sqrt() + kEpsilon)).matrix();
    if (t + 1 == warm) {
      soft_weights();
      result.warmup_objective = layer_objective(w, w_hat, m);
    }
  }
  soft_weights();
  result.codes = CodeMatrix(rows, d);
  RealMatrix chosen(rows, d);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < d; ++j) {
      const bool up = h(r, j) >= 0.5;
      result.codes(r, j) = up ? nb.up_code(r, j) : nb.down_code(r, j);
      chosen(r, j) = up ? nb.up(r, j) : nb.down(r, j);
    }
  result.final_objective = layer_objective(w, chosen, m);
  return result;
}

std::vector<ConfigKey> weight_rounding_config_keys() {
  using C = LayerQuantConfig;
  return {
      choice_key(
          "weights", "algorithm", fixed_choices({"nearest", "gptq", "adaround"}),
          [](C& c, const std::string& v) { c.weight_algorithm = v; }, [](const C& c) { return c.weight_algorithm; },
          "how a MAC layer's weights round onto the calibrator's grid: `nearest`; `gptq` (Frantar et al. 2023: "
          "columns in turn, each one's error fed to the rest through the inputs' Hessian); `adaround` (Nagel et al. "
          "2020: up or down per weight, learned to reconstruct the layer's float output; with a block `format`, "
          "between the element values around each weight under its block's scale). Both read the calibration "
          "inputs of the layer as the network quantized so far computes them (docs/numerics.md §16); a block "
          "format takes `nearest` or `adaround`"),
      boolean_key("weights", "bias_correction", &C::bias_correction,
                  "add to each output channel's bias the mean difference, over the calibration inputs, between the "
                  "float layer's output and the quantized one's (on the quantized network's inputs)"),
      integer_key("weights", "gptq_block_size", 1, 100000, &C::gptq_block_size,
                  "GPTQ: columns whose updates reach the later columns at once (the result is the same for any "
                  "size up to rounding)"),
      number_key("weights", "gptq_damping", 0.0, 1.0, &C::gptq_damping,
                 "GPTQ: added to the Hessian's diagonal, times its mean diagonal"),
      boolean_key("weights", "gptq_act_order", &C::gptq_act_order,
                  "GPTQ: quantize the columns of the largest Hessian diagonal first"),
      integer_key("weights", "adaround_iterations", 1, 1000000, &C::adaround_iterations,
                  "AdaRound: Adam steps per layer (each one uses every calibration input, through their moments)"),
      number_key("weights", "adaround_regularization", 0.0, 1e6, &C::adaround_regularization,
                 "AdaRound: λ of the regularizer λ·Σ(1 − \\|2h − 1\\|^β) that drives each h to 0 or 1"),
      number_key("weights", "adaround_beta_start", 1.0, 1000.0, &C::adaround_beta_start,
                 "AdaRound: β after the warm-up, decaying linearly to `adaround_beta_end`"),
      number_key("weights", "adaround_beta_end", 1.0, 1000.0, &C::adaround_beta_end, "AdaRound: β at the last step"),
      number_key("weights", "adaround_warmup", 0.0, 1.0, &C::adaround_warmup,
                 "AdaRound: share of the steps that minimise the reconstruction alone"),
      number_key("weights", "adaround_learning_rate", 1e-9, 10.0, &C::adaround_learning_rate,
                 "AdaRound: Adam's learning rate on V"),
  };
}

}  // namespace chipref
