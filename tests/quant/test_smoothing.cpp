// SmoothQuant (quant/smoothing.hpp): the float function before and after, measured by the float executor;
// the factors against the paper's defining property, re-measured on the smoothed graph (with α = 1/2 a
// channel's activation range and its weight rows' range meet at √(a·w); with α = 1 every activation
// channel's range is 1); which tensors qualify, and the error for readers that disagree.

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "analysis/agreement.hpp"
#include "core/error.hpp"
#include "model/evaluate.hpp"
#include "model/executor.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/quantize.hpp"
#include "quant/smoothing.hpp"
#include "sim/direct_engine.hpp"
#include "support/float_function.hpp"
#include "support/onnx_builder.hpp"

using namespace chipref;

namespace {

// The largest |x| of each channel (last axis) of the named tensors, from a float run on `inputs`.
ChannelRanges measured_on(const Graph& g, const Tensor& inputs) {
  return [&g, &inputs](const std::vector<std::string>& tensors, const std::vector<int64_t>& channels) {
    const TensorMap all = FloatExecutor(g).run({{g.inputs[0].name, inputs}}, true);
    std::vector<std::vector<double>> ranges;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = all.at(tensors[i]);
      REQUIRE(t.shape.back() == channels[i]);
      std::vector<double> r(static_cast<size_t>(channels[i]), 0.0);
      for (size_t e = 0; e < t.floats.size(); ++e)
        r[e % r.size()] = std::max(r[e % r.size()], static_cast<double>(std::fabs(t.floats[e])));
      ranges.push_back(r);
    }
    return ranges;
  };
}

const Node& node_named(const Graph& g, const std::string& name) {
  const auto n = std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& x) { return x.name == name; });
  REQUIRE(n != g.nodes.end());
  return *n;
}

// x [2, 5, 8] → LayerNorm → y; y → MatMul(Wa) → Add(ba) → MatMul(Wc) → c; y → Transpose → MatMul(Wb) →
// Transpose → MatMul(Wd) → d; out = c + d. Channel 3 of x is an outlier channel (values ×40).
Graph two_reader_graph(Tensor& inputs) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.4f);
  Graph g;
  g.source = "two_readers";
  g.opset = 17;
  const auto constant = [&](const std::string& name, Shape shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = normal(rng);
    g.initializers[name] = Tensor::of_floats(shape, v);
  };
  const auto node = [&](const std::string& name, const std::string& op, std::vector<std::string> ins,
                        const std::string& out) {
    Node n;
    n.name = name, n.op_type = op, n.inputs = std::move(ins), n.outputs = {out};
    g.nodes.push_back(n);
    return &g.nodes.back();
  };
  constant("gamma", {8}), constant("beta", {8}), constant("Wa", {8, 8}), constant("ba", {8});
  constant("Wb", {8, 8}), constant("Wc", {8, 4}), constant("Wd", {8, 4});
  g.inputs.push_back(ValueInfo{"x", DType::float32, {2, 5, 8}, {}});
  g.outputs.push_back(ValueInfo{"out", DType::float32, {2, 5, 4}, {}});
  node("norm", "LayerNormalization", {"x", "gamma", "beta"}, "y")->attributes["axis"] = int64_t{-1};
  node("a", "MatMul", {"y", "Wa"}, "ya");
  node("a_bias", "Add", {"ya", "ba"}, "yab");
  node("c", "MatMul", {"yab", "Wc"}, "yc");
  node("t1", "Transpose", {"y"}, "yt")->attributes["perm"] = std::vector<int64_t>{1, 0, 2};
  node("b", "MatMul", {"yt", "Wb"}, "ybt");
  node("t2", "Transpose", {"ybt"}, "yb")->attributes["perm"] = std::vector<int64_t>{1, 0, 2};
  node("d", "MatMul", {"yb", "Wd"}, "yd");
  node("sum", "Add", {"yc", "yd"}, "out");
  std::vector<float> x(2 * 5 * 8);
  for (size_t i = 0; i < x.size(); ++i) x[i] = normal(rng) * (i % 8 == 3 ? 40.0f : 1.0f);
  inputs = Tensor::of_floats({2, 5, 8}, x);
  return g;
}

}  // namespace

TEST_CASE(
    "Smoothing/the shipped ViT: every LayerNorm feeding linear layers is smoothed, the float function kept, "
    "the ranges balanced as α says",
    "[quant][smoothing]") {
  const std::string model = CHIPREF_SOURCE_DIR "/examples/fmnist_vit.onnx";
  const Graph original = prepare_for_quantization(import_onnx(model));
  const Tensor images = load_fashion_mnist("t10k", 200, *read_sidecar_preprocess(model)).images;
  for (const double alpha : {0.5, 1.0}) {
    INFO("alpha " << alpha);
    Graph g = original;
    const std::vector<SmoothedTensor> smoothed = smooth_activations(
        g, [&](const std::string&) { return alpha; }, measured_on(original, images));
    // Two pre-norm blocks (norm1 → QKV projection through a Transpose, norm2 → the MLP's first layer) and
    // the final norm → the classifier: five. The attention output projection and the MLP's second layer
    // read a reshaped attention result and a GELU: not smoothable.
    REQUIRE(smoothed.size() == 5);
    for (const SmoothedTensor& s : smoothed) {
      INFO(s.producer);
      CHECK(node_named(original, s.producer).op_type == "LayerNormalization");
      CHECK(s.readers.size() == 1);
    }
    CHECK(testing::relative_output_change(original, g, images) <= 1e-5);
    // Re-measured: activation channel j's range a'_j = a_j / s_j, its weight row's w'_j = w_j · s_j.
    const TensorMap after = FloatExecutor(g).run({{g.inputs[0].name, images}}, true);
    double worst = 0;
    for (const SmoothedTensor& s : smoothed) {
      const Tensor& x = after.at(s.activation + ".smoothed");
      const Node& reader = node_named(g, s.readers[0]);
      const Tensor& w = g.initializers.at(reader.inputs[1]);
      const bool rows_are_inputs = reader.op_type == "MatMul" || reader.get_int("transB", 0) == 0;
      const int64_t channels = x.shape.back(), outputs = w.numel() / channels;
      for (int64_t j = 0; j < channels; ++j) {
        double a = 0, r = 0;
        for (size_t e = static_cast<size_t>(j); e < x.floats.size(); e += static_cast<size_t>(channels))
          a = std::max(a, static_cast<double>(std::fabs(x.floats[e])));
        for (int64_t k = 0; k < outputs; ++k)
          r = std::max(r, static_cast<double>(std::fabs(
                              w.floats[static_cast<size_t>(rows_are_inputs ? j * outputs + k : k * channels + j)])));
        // α = 1/2: a'_j = w'_j; α = 1: a'_j = 1.
        worst = std::max(worst, std::fabs(std::log(alpha == 0.5 ? a / r : a)));
      }
    }
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("Smoothing/a tensor with two readers, through transposes, and a linear layer's output with its bias",
          "[quant][smoothing]") {
  Tensor inputs;
  const Graph original = two_reader_graph(inputs);
  SECTION("every reader asks: three tensors, the float function kept") {
    Graph g = original;
    const auto smoothed = smooth_activations(
        g, [](const std::string&) { return 0.5; }, measured_on(original, inputs));
    REQUIRE(smoothed.size() == 3);
    CHECK(smoothed[0].producer == "norm");
    CHECK(smoothed[0].readers == std::vector<std::string>{"a", "b"});
    CHECK(smoothed[1].producer == "a");  // through its bias Add
    CHECK(smoothed[1].activation == "yab");
    CHECK(smoothed[2].producer == "b");  // through a Transpose
    CHECK(testing::relative_output_change(original, g, inputs) <= 1e-5);
    // The outlier channel 3 of the LayerNorm output gets the largest factor.
    const std::vector<double>& s = smoothed[0].factors;
    CHECK(std::max_element(s.begin(), s.end()) - s.begin() == 3);
    CHECK(node_named(g, "a").inputs[0] == "y.smoothed");
    CHECK(node_named(g, "b").inputs[0] == "yt.smoothed");
  }
  SECTION("a reader that does not ask leaves its tensor alone") {
    Graph g = original;
    const auto smoothed = smooth_activations(
        g, [](const std::string& n) { return n == "b" ? std::nullopt : std::optional<double>(0.5); },
        measured_on(original, inputs));
    REQUIRE(smoothed.size() == 2);
    CHECK(smoothed[0].producer == "a");
    CHECK(g.initializers.at("gamma").floats == original.initializers.at("gamma").floats);
  }
  SECTION("readers asking for different α are an error naming both") {
    Graph g = original;
    const auto alpha = [](const std::string& n) { return std::optional<double>(n == "b" ? 0.75 : 0.5); };
    CHECK_THROWS_WITH(smooth_activations(g, alpha, measured_on(original, inputs)),
                      Catch::Contains("'a' and 'b' read the same tensor 'y'") && Catch::Contains("0.5 and 0.75"));
  }
  SECTION("a reader that is not a linear layer leaves its tensor alone") {
    Graph g = original;
    Node relu;
    relu.name = "relu", relu.op_type = "Relu", relu.inputs = {"y"}, relu.outputs = {"y_relu"};
    g.nodes.insert(g.nodes.begin() + 1, relu);
    const auto smoothed = smooth_activations(
        g, [](const std::string&) { return 0.5; }, measured_on(g, inputs));
    CHECK(smoothed.size() == 2);
    CHECK(g.initializers.at("gamma").floats == original.initializers.at("gamma").floats);
  }
}

// What SmoothQuant is for, as trained transformers have it: a LayerNorm whose γ is 30 in one channel and 1
// in the others, read by a linear layer whose weights for that channel are 30 times smaller (so every channel
// contributes alike to the output). One 8-bit activation scale per tensor spends its range on the outlier
// channel, and the others get a few codes each; smoothed, the channels share the range and the weights
// (8 bits per output channel) take the difference. The integer output against FP32 gains.
TEST_CASE("Smoothing/an outlier channel after a LayerNorm: the integer network's output gains SQNR",
          "[quant][smoothing]") {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::vector<float> w(6 * 8), b(8);
  for (size_t i = 0; i < w.size(); ++i) w[i] = normal(rng) * (i / 8 == 2 ? 1.0f / 30 : 1.0f);
  for (float& v : b) v = normal(rng);
  onnx::ModelProto m;
  onnx::GraphProto* og = testing::start_model(m, "outlier", {-1, 4, 8}, 17);
  testing::add_float_values(og, "gamma", {6}, {1, 1, 30, 1, 1, 1});
  testing::add_float_values(og, "beta", {6}, {0, 0, 0, 0, 0, 0});
  testing::add_float_values(og, "w", {6, 8}, w);
  testing::add_float_values(og, "b", {8}, b);
  testing::add_node(og, "LayerNormalization", "/norm", {"x", "gamma", "beta"}, "normed");
  testing::add_node(og, "MatMul", "/linear/MatMul", {"normed", "w"}, "product");
  testing::add_node(og, "Add", "/linear/Add", {"product", "b"}, "y");
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "outlier.onnx");
  const Tensor calibration = testing::random_inputs(256, 1), compared = testing::random_inputs(256, 2);
  const Tensor fp32 = FloatExecutor(graph).run({{"x", compared}}).at("y");
  double sqnr[2] = {0, 0};
  for (const bool smoothed : {false, true}) {
    const QuantConfig config = parse_quant_config(
        std::string("defaults:\n  activations: {bits: 8, smoothquant: ") + (smoothed ? "true" : "false") + "}\n",
        "outlier.yaml");
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "outlier.onnx", Normalisation{}});
    CHECK(q.rescalings.size() == (smoothed ? 1u : 0u));
    OutputAgreement agreement;
    agreement.add(fp32, DirectEngine(q).run(compared), 0);
    sqnr[smoothed] = agreement.sqnr.db();
  }
  INFO("output SQNR against FP32: " << sqnr[0] << " dB, smoothed " << sqnr[1] << " dB");
  CHECK(sqnr[1] > sqnr[0] + 6);
}
