// Weight rounding from calibration inputs (quant/weight_rounding.hpp, quant/layer_inputs.hpp): GPTQ against
// the dense optimal-brain-surgeon update it reorganises; AdaRound's warm-up and result against nearest
// rounding on the layer objective; the moments of a convolution's input columns against the float
// executor's own Conv. Cross-layer equalization (quant/equalization.hpp) against the float function.

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "model/evaluate.hpp"
#include "model/executor.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "numerics/block_format.hpp"
#include "quant/equalization.hpp"
#include "quant/layer_inputs.hpp"
#include "quant/quantize.hpp"
#include "quant/weight_rounding.hpp"
#include "support/float_function.hpp"

using namespace chipref;

namespace {
// n input columns of width d with correlated entries (x = A·z, of unit variance on average): the case
// where rounding jointly pays.
RealMatrix correlated_inputs(int64_t n, int64_t d, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(d)));
  RealMatrix a(d, d), z(n, d);
  for (int64_t i = 0; i < d * d; ++i) a.data()[i] = normal(rng);
  for (int64_t i = 0; i < n * d; ++i) z.data()[i] = normal(rng) * std::sqrt(static_cast<double>(d));
  return z * a.transpose();
}

// Weights at the scale of a trained layer's (variance 1/d: outputs of about unit variance).
RealMatrix random_weights(int64_t rows, int64_t d, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(d)));
  RealMatrix w(rows, d);
  for (int64_t i = 0; i < rows * d; ++i) w.data()[i] = normal(rng);
  return w;
}

// Per-row grids of `bits`: symmetric narrow range at max|w| / qmax, or asymmetric over the row's range.
std::vector<CodeGrid> grids_for(const RealMatrix& w, int bits, bool symmetric) {
  std::vector<CodeGrid> grids;
  const int64_t qmax = (int64_t{1} << (bits - 1)) - 1;
  for (int64_t r = 0; r < w.rows(); ++r) {
    if (symmetric) {
      grids.push_back(CodeGrid{w.row(r).cwiseAbs().maxCoeff() / static_cast<double>(qmax), 0, -qmax, qmax});
      continue;
    }
    const double lo = std::min(0.0, w.row(r).minCoeff()), hi = std::max(0.0, w.row(r).maxCoeff());
    const double scale = (hi - lo) / static_cast<double>((int64_t{1} << bits) - 1);
    grids.push_back(CodeGrid{scale, static_cast<int64_t>(std::round(-lo / scale)), 0, (int64_t{1} << bits) - 1});
  }
  return grids;
}

LayerInputMoments moments_of(const RealMatrix& x, const RealMatrix& x_hat) {
  LayerInputMoments m(x.cols());
  m.rows = static_cast<double>(x.rows());
  m.float_gram = x.transpose() * x;
  m.cross = x.transpose() * x_hat;
  m.quantized_gram = x_hat.transpose() * x_hat;
  m.float_sum = x.colwise().sum().transpose();
  m.quantized_sum = x_hat.colwise().sum().transpose();
  return m;
}

// The optimal-brain-surgeon form GPTQ reorganises (Frantar et al., eqs. 2–3): quantize column q, spread its
// error over the columns left through the inverse Hessian, then remove q from the inverse by Gaussian
// elimination; no Cholesky factor, no blocks.
CodeMatrix dense_obs(RealMatrix w, const std::vector<CodeGrid>& grids, RealMatrix h, double damping, bool act_order) {
  const int64_t d = w.cols();
  std::vector<int64_t> order(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) order[static_cast<size_t>(j)] = j;
  if (act_order) std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return h(a, a) > h(b, b); });
  for (int64_t j = 0; j < d; ++j)
    if (h(j, j) == 0) h.row(j).setZero(), h.col(j).setZero(), h(j, j) = 1, w.col(j).setZero();
  h.diagonal().array() += damping * h.diagonal().mean();
  RealMatrix inverse = h.inverse();
  CodeMatrix codes(w.rows(), d);
  std::vector<bool> done(static_cast<size_t>(d), false);
  for (int64_t q : order) {
    for (int64_t r = 0; r < w.rows(); ++r) {
      const CodeGrid& g = grids[static_cast<size_t>(r)];
      codes(r, q) = g.nearest(w(r, q));
      const double e = (w(r, q) - g.value(codes(r, q))) / inverse(q, q);
      for (int64_t j = 0; j < d; ++j)
        if (!done[static_cast<size_t>(j)] && j != q) w(r, j) -= e * inverse(q, j);
    }
    done[static_cast<size_t>(q)] = true;
    inverse -= inverse.col(q) * inverse.row(q) / inverse(q, q);
  }
  return codes;
}
}  // namespace

TEST_CASE("WeightRounding/GPTQ equals the dense optimal-brain-surgeon update, for any block size and in act-order",
          "[quant][weight_rounding]") {
  std::mt19937_64 rng(2026);
  int64_t compared = 0, differing_from_nearest = 0;
  for (int trial = 0; trial < 40; ++trial) {
    std::uniform_int_distribution<int64_t> rows_of(1, 6), width_of(1, 24);
    const int64_t rows = rows_of(rng), d = width_of(rng);
    const RealMatrix x = correlated_inputs(4 * d + 8, d, rng);
    RealMatrix h = x.transpose() * x;
    if (trial % 5 == 4 && d > 1) h.row(d / 2).setZero(), h.col(d / 2).setZero();  // an input that is always 0
    const RealMatrix w = random_weights(rows, d, rng);
    const std::vector<CodeGrid> grids = grids_for(w, 2 + trial % 4, trial % 3 != 0);
    const bool act_order = trial % 2 == 1;
    const double damping = trial % 7 == 0 ? 0.1 : 0.01;
    const CodeMatrix expected = dense_obs(w, grids, h, damping, act_order);
    for (int64_t block : {int64_t{1}, int64_t{3}, int64_t{128}}) {
      INFO("trial " << trial << ", " << rows << " x " << d << ", block " << block << ", act_order " << act_order);
      const CodeMatrix got = gptq_codes(w, grids, h, GptqParams{block, damping, act_order});
      CHECK(got == expected);
      ++compared;
    }
    differing_from_nearest += (expected != nearest_codes(w, grids));
  }
  CHECK(compared == 120);
  CHECK(differing_from_nearest > 20);  // the comparison is not between two roundings to nearest
}

TEST_CASE("WeightRounding/GPTQ and AdaRound lower the layer objective below nearest rounding",
          "[quant][weight_rounding]") {
  std::mt19937_64 rng(7);
  double nearest_total = 0, gptq_total = 0, adaround_total = 0;
  for (int trial = 0; trial < 12; ++trial) {
    const int64_t rows = 4 + trial % 5, d = 8 + 3 * trial;
    const RealMatrix x = correlated_inputs(400, d, rng);
    // x̂: the inputs as an imperfect quantized network delivers them
    const RealMatrix x_hat = x + 0.05 * correlated_inputs(400, d, rng);
    const LayerInputMoments m = moments_of(x, x_hat);
    const RealMatrix w = random_weights(rows, d, rng);
    const std::vector<CodeGrid> grids = grids_for(w, 3 + trial % 2, trial % 2 == 0);
    const CodeMatrix nearest = nearest_codes(w, grids);
    const double nearest_objective = layer_objective(w, dequantized(nearest, grids), m);
    const double gptq_objective =
        layer_objective(w, dequantized(gptq_codes(w, grids, m.quantized_gram, GptqParams{}), grids), m);
    const AdaRoundResult ada = adaround_codes(w, grids, m, AdaRoundParams{});  // the paper's settings
    INFO("trial " << trial << ": nearest " << nearest_objective << ", GPTQ " << gptq_objective << ", AdaRound start "
                  << ada.start_objective << ", after warm-up " << ada.warmup_objective << ", final "
                  << ada.final_objective);
    // The warm-up minimises the reconstruction alone from the float weights (inside the grid): it descends.
    CHECK(ada.warmup_objective < ada.start_objective);
    CHECK(ada.final_objective == Approx(layer_objective(w, dequantized(ada.codes, grids), m)));
    CHECK(ada.final_objective < nearest_objective);
    // Every AdaRound code is the floor or the ceiling of w / s (plus the zero point), inside the grid.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < d; ++j) {
        const CodeGrid& g = grids[static_cast<size_t>(r)];
        const double below = std::floor(w(r, j) / g.scale) + static_cast<double>(g.zero_point);
        const double code = static_cast<double>(ada.codes(r, j));
        CHECK(code >= static_cast<double>(g.lo));
        CHECK(code <= static_cast<double>(g.hi));
        CHECK((code == std::clamp(below, double(g.lo), double(g.hi)) ||
               code == std::clamp(below + 1, double(g.lo), double(g.hi))));
      }
    nearest_total += nearest_objective, gptq_total += gptq_objective, adaround_total += ada.final_objective;
  }
  INFO("nearest " << nearest_total << ", GPTQ " << gptq_total << ", AdaRound " << adaround_total);
  CHECK(gptq_total < 0.7 * nearest_total);
  CHECK(adaround_total < 0.7 * nearest_total);
}

TEST_CASE("WeightRounding/AdaRound between uneven neighbours (FP4 elements under a row's power-of-two scale)",
          "[quant][weight_rounding]") {
  // The neighbours of each weight are the FP4 E2M1 values around it (steps from 0.5 to 2 in element units),
  // found here by a scan of the element codes, not by ElementValues.
  const BlockFormat fp4 = parse_block_format("mxfp4_e2m1");
  std::vector<std::pair<double, int64_t>> values;
  for (uint32_t c = 0; c < 16; ++c) values.emplace_back(to_double(element_value(fp4, c)), c);
  std::mt19937_64 rng(5);
  double nearest_total = 0, adaround_total = 0;
  for (int trial = 0; trial < 8; ++trial) {
    const int64_t rows = 3 + trial % 4, d = 10 + 4 * trial;
    const RealMatrix x = correlated_inputs(400, d, rng);
    const LayerInputMoments m = moments_of(x, x + 0.05 * correlated_inputs(400, d, rng));
    const RealMatrix w = random_weights(rows, d, rng);
    RoundingNeighbours nb(rows, d);
    RealMatrix nearest(rows, d);
    for (int64_t r = 0; r < rows; ++r) {
      const int exponent = static_cast<int>(std::floor(std::log2(w.row(r).cwiseAbs().maxCoeff()))) - 2;  // emax 2
      for (int64_t j = 0; j < d; ++j) {
        const double v = std::ldexp(w(r, j), -exponent);
        std::pair<double, int64_t> lo{-1e9, -1}, hi{1e9, -1};
        for (const auto& e : values) {
          if (e.first <= v && e.first > lo.first) lo = e;
          if (e.first >= v && e.first < hi.first) hi = e;
        }
        if (hi.second < 0) hi = lo;  // beyond the largest value (or below the smallest): saturated
        if (lo.second < 0) lo = hi;
        nb.down(r, j) = std::ldexp(lo.first, exponent), nb.up(r, j) = std::ldexp(hi.first, exponent);
        nb.down_code(r, j) = lo.second, nb.up_code(r, j) = hi.second;
        nb.fraction(r, j) = hi.first > lo.first ? (v - lo.first) / (hi.first - lo.first) : 0;
        nearest(r, j) = v - lo.first <= hi.first - v ? nb.down(r, j) : nb.up(r, j);
      }
    }
    const double nearest_objective = layer_objective(w, nearest, m);
    const AdaRoundResult ada = adaround_codes(w, nb, m, AdaRoundParams{});
    INFO("trial " << trial << ": nearest " << nearest_objective << ", AdaRound start " << ada.start_objective
                  << ", after warm-up " << ada.warmup_objective << ", final " << ada.final_objective);
    CHECK(ada.warmup_objective < ada.start_objective);
    CHECK(ada.final_objective < nearest_objective);
    RealMatrix chosen(rows, d);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < d; ++j) {
        const bool down = ada.codes(r, j) == nb.down_code(r, j), up = ada.codes(r, j) == nb.up_code(r, j);
        CHECK((down || up));
        chosen(r, j) = down ? nb.down(r, j) : nb.up(r, j);
      }
    CHECK(ada.final_objective == Approx(layer_objective(w, chosen, m)));
    nearest_total += nearest_objective, adaround_total += ada.final_objective;
  }
  INFO("nearest " << nearest_total << ", AdaRound " << adaround_total);
  CHECK(adaround_total < 0.8 * nearest_total);
}

TEST_CASE("WeightRounding/a convolution's input moments give the float Conv's output mean and energy",
          "[quant][weight_rounding][layer_inputs]") {
  // For weights W and the executor's Conv output y = W x (no bias): per output channel, the mean of y over
  // every image and position is W·Σx / n, and the mean of Σ_m y_m² is tr(W·Σxxᵀ·Wᵀ) / n. Both hold only if
  // the columns are the Conv's own (padding, stride, dilation, groups).
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal;
  struct Case {
    int64_t channels, out, groups, k, stride, dilation, pad, size;
  };
  for (const Case& c : {Case{3, 4, 1, 3, 1, 1, 1, 7}, Case{4, 6, 2, 3, 2, 1, 0, 9}, Case{5, 5, 5, 3, 1, 2, 2, 8},
                        Case{2, 3, 1, 1, 1, 1, 0, 5}, Case{6, 4, 2, 2, 2, 1, 1, 6}}) {
    INFO(c.channels << " channels, " << c.groups << " groups, k " << c.k << ", stride " << c.stride << ", dilation "
                    << c.dilation << ", pad " << c.pad);
    Tensor x = Tensor::zeros(DType::float32, {3, c.channels, c.size, c.size});
    for (float& v : x.floats) v = normal(rng);
    Tensor w = Tensor::zeros(DType::float32, {c.out, c.channels / c.groups, c.k, c.k});
    for (float& v : w.floats) v = normal(rng);
    Node conv;
    conv.op_type = "Conv", conv.name = "conv", conv.inputs = {"x", "w"}, conv.outputs = {"y"};
    conv.attributes["group"] = c.groups;
    conv.attributes["strides"] = std::vector<int64_t>{c.stride, c.stride};
    conv.attributes["dilations"] = std::vector<int64_t>{c.dilation, c.dilation};
    conv.attributes["pads"] = std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad};
    conv.attributes["kernel_shape"] = std::vector<int64_t>{c.k, c.k};
    const Tensor y = run_node(conv, 13, {&x, &w}).at(0);
    const MacInputGeometry g = MacInputGeometry::of_conv(conv, w.shape);
    std::vector<LayerInputMoments> moments(static_cast<size_t>(c.groups), LayerInputMoments(g.columns(c.channels)));
    accumulate_moments(x, x, g, moments);
    const int64_t positions = y.shape[2] * y.shape[3], d = g.columns(c.channels), per_group = c.out / c.groups;
    double energy = 0, predicted_energy = 0;
    for (int64_t m = 0; m < c.out; ++m) {
      const LayerInputMoments& mo = moments[static_cast<size_t>(m / per_group)];
      CHECK(mo.rows == static_cast<double>(3 * positions));
      Eigen::VectorXd wm(d);
      for (int64_t i = 0; i < d; ++i) wm(i) = w.floats[static_cast<size_t>(m * d + i)];
      double mean = 0;
      for (int64_t n = 0; n < 3; ++n)
        for (int64_t p = 0; p < positions; ++p) {
          const double v = y.floats[static_cast<size_t>((n * c.out + m) * positions + p)];
          mean += v, energy += v * v;
        }
      CHECK(mean / mo.rows == Approx(wm.dot(mo.float_sum) / mo.rows).margin(1e-5));
      predicted_energy += wm.dot(mo.float_gram * wm);
    }
    CHECK(energy == Approx(predicted_energy).epsilon(1e-5));
  }
}

// Cross-layer equalization on the shipped CNN: stem → Relu → down is equalized; down → Relu → dw is not (the
// Relu's output is also the residual branch's), nor dw → Clip → pw (ReLU6 does not commute with a
// per-channel scale). The float function stays within float32 rounding and the pair's channels end with
// equal ranges.
TEST_CASE("WeightRounding/cross-layer equalization keeps the float function and evens the ranges of each pair",
          "[quant][weight_rounding][equalization]") {
  const Graph original = prepare_for_quantization(import_onnx(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx"));
  Graph g = original;
  const std::vector<EqualizedPair> pairs = equalize_cross_layer(g, [](const std::string&) {
    return EqualizationChoice{true, false};
  });
  REQUIRE(pairs.size() == 1);
  CHECK(pairs[0].first == "/stem/stem.0/Conv");
  CHECK(pairs[0].second == "/down/down.0/Conv");
  const Tensor images =
      load_fashion_mnist("t10k", 50, *read_sidecar_preprocess(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx")).images;
  CHECK(testing::relative_output_change(original, g, images) <= 1e-5);
  const auto weights = [&](const std::string& node) -> const Tensor& {
    const Node& n = *std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& x) { return x.name == node; });
    return g.initializers.at(n.inputs[1]);
  };
  // stem [16, 1, 3, 3] → down [32, 16, 3, 3]: output channel c of the stem against input channel c of down
  const Tensor &stem = weights("/stem/stem.0/Conv"), &down = weights("/down/down.0/Conv");
  double unequal = 0;
  for (int64_t c = 0; c < 16; ++c) {
    double r1 = 0, r2 = 0;
    for (int64_t e = 0; e < 9; ++e) r1 = std::max(r1, double(std::fabs(stem.floats[static_cast<size_t>(c * 9 + e)])));
    for (int64_t m = 0; m < 32; ++m)
      for (int64_t e = 0; e < 9; ++e)
        r2 = std::max(r2, double(std::fabs(down.floats[static_cast<size_t>((m * 16 + c) * 9 + e)])));
    unequal = std::max(unequal, std::fabs(std::log(r1 / r2)));
  }
  CHECK(unequal < 1e-4);
  // The rescaled tensors carry new names: reports find no float reference of the old scale for them.
  CHECK(std::none_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) {
    return n.name == "/stem/stem.0/Conv" && n.outputs[0] == original.nodes[0].outputs[0];
  }));
}

// With equalization_relu6 the dw → Clip(0, 6) → pw pair is equalized too, its Clip made a Relu: the result
// is the float function of the original graph with that one Clip replaced by a Relu by hand.
TEST_CASE("WeightRounding/cross-layer equalization through a ReLU6 makes it a ReLU and keeps that function",
          "[quant][weight_rounding][equalization]") {
  const Graph original = prepare_for_quantization(import_onnx(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx"));
  Graph g = original;
  const std::vector<EqualizedPair> pairs = equalize_cross_layer(g, [](const std::string&) {
    return EqualizationChoice{true, true};
  });
  REQUIRE(pairs.size() == 2);
  CHECK(pairs[0].unclipped.empty());
  REQUIRE(pairs[1].unclipped.size() == 1);
  Graph unclipped = original;
  int clips = 0;
  for (Node& n : unclipped.nodes)
    if (n.name == pairs[1].unclipped[0]) {
      clips += n.op_type == "Clip";
      n.op_type = "Relu", n.inputs.resize(1);
    }
  CHECK(clips == 1);
  const Tensor images =
      load_fashion_mnist("t10k", 50, *read_sidecar_preprocess(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx")).images;
  CHECK(testing::relative_output_change(unclipped, g, images) <= 1e-5);
}
