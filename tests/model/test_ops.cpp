// Ops that the ONNX backend node tests do not cover for chipref's element types: Cast between the
// supported types, and QONNX's Quant. Expected values are derived by hand from the operator definitions
// (numpy casting rules; the QONNX Quant formula), not from chipref's output.

#include <catch2/catch.hpp>

#include "model/executor.hpp"
#include "model/onnx_import.hpp"

using namespace chipref;

namespace {
// A graph of one node reading graph inputs "x0", "x1", ... and writing "y".
Tensor run_node(const std::string& op, const std::string& domain, std::map<std::string, AttributeValue> attributes,
                const std::vector<Tensor>& inputs) {
  Graph g;
  g.source = "test";
  g.opset = 17;
  Node n;
  n.name = "n";
  n.op_type = op;
  n.domain = domain;
  n.attributes = std::move(attributes);
  TensorMap feed;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string name = "x" + std::to_string(i);
    n.inputs.push_back(name);
    g.inputs.push_back(ValueInfo{name, inputs[i].dtype, inputs[i].shape, {}});
    feed[name] = inputs[i];
  }
  n.outputs = {"y"};
  g.nodes.push_back(n);
  g.outputs.push_back(ValueInfo{"y", DType::float32, {}, {}});
  return FloatExecutor(g).run(feed).at("y");
}

Tensor floats(std::vector<float> v) {
  const auto n = static_cast<int64_t>(v.size());  // read before v is moved from
  return Tensor::of_floats({n}, std::move(v));
}
Tensor scalar(float v) { return Tensor::of_floats({}, {v}); }
}  // namespace

TEST_CASE("Ops/Cast float to integer truncates toward zero", "[model][ops]") {
  const Tensor y = run_node("Cast", "", {{"to", int64_t{3}}}, {floats({2.7f, -2.7f, 0.5f, -0.5f, 127.0f})});
  CHECK(y.dtype == DType::int8);
  CHECK(y.ints == std::vector<int64_t>{2, -2, 0, 0, 127});
}

TEST_CASE("Ops/Cast between integer types wraps modulo 2^bits", "[model][ops]") {
  const Tensor x = Tensor::of_ints(DType::int64, {4}, {300, -1, 255, 0});
  CHECK(run_node("Cast", "", {{"to", int64_t{2}}}, {x}).ints == std::vector<int64_t>{44, 255, 255, 0});     // uint8
  CHECK(run_node("Cast", "", {{"to", int64_t{3}}}, {x}).ints == std::vector<int64_t>{44, -1, -1, 0});       // int8
  CHECK(run_node("Cast", "", {{"to", int64_t{4}}}, {x}).ints == std::vector<int64_t>{300, 65535, 255, 0});  // uint16
  CHECK(run_node("Cast", "", {{"to", int64_t{9}}}, {x}).ints == std::vector<int64_t>{1, 1, 1, 0});          // bool
  CHECK(run_node("Cast", "", {{"to", int64_t{1}}}, {x}).floats == std::vector<float>{300, -1, 255, 0});     // float
}

TEST_CASE("Ops/Cast rejects unsupported targets and non-finite values", "[model][ops]") {
  CHECK_THROWS_AS(run_node("Cast", "", {{"to", int64_t{11}}}, {floats({1})}), Unsupported);  // double
  CHECK_THROWS_WITH(run_node("Cast", "", {{"to", int64_t{6}}}, {floats({INFINITY})}), Catch::Contains("non-finite"));
}

TEST_CASE("Ops/QONNX Quant follows its definition", "[model][ops][qonnx]") {
  // y = (clamp(round(x/s + z), min, max) − z)·s; 4-bit signed: [−8, 7], narrow: [−7, 7]; ROUND = half to even.
  const std::string d = kQonnxDomain;
  const Tensor x = floats({1.3f, 10.0f, -10.0f, 0.25f, 0.75f, -0.25f});
  const Tensor s = scalar(0.5f), z = scalar(0.0f), b4 = scalar(4.0f);
  CHECK(run_node("Quant", d, {{"signed", int64_t{1}}}, {x, s, z, b4}).floats ==
        std::vector<float>{1.5f, 3.5f, -4.0f, 0.0f, 1.0f, 0.0f});
  CHECK(run_node("Quant", d, {{"signed", int64_t{1}}, {"narrow", int64_t{1}}}, {x, s, z, b4}).floats ==
        std::vector<float>{1.5f, 3.5f, -3.5f, 0.0f, 1.0f, 0.0f});
  // unsigned 2-bit with zero point 1: q in [0, 3], y = (q − 1)·0.5. x/s + 1 = 3.6 → 4 → 3; 21 → 3; −19 → 0;
  // 1.5 → 2 (tie to even); 2.5 → 2 (tie to even); 0.5 → 0 (tie to even)
  CHECK(run_node("Quant", d, {{"signed", int64_t{0}}}, {x, s, scalar(1.0f), scalar(2.0f)}).floats ==
        std::vector<float>{1.0f, 1.0f, -0.5f, 0.5f, 0.5f, -0.5f});
  // FLOOR rounding: 1.3/0.5 = 2.6 → 2 → 1.0; −0.25/0.5 = −0.5 → −1 → −0.5
  CHECK(run_node("Quant", d, {{"signed", int64_t{1}}, {"rounding_mode", std::string("FLOOR")}}, {x, s, z, b4}).floats ==
        std::vector<float>{1.0f, 3.5f, -4.0f, 0.0f, 0.5f, -0.5f});
  CHECK_THROWS_AS(run_node("Quant", d, {{"rounding_mode", std::string("STOCHASTIC")}}, {x, s, z, b4}), Unsupported);
  CHECK_THROWS_WITH(run_node("Quant", d, {}, {x, s, z, scalar(2.5f)}), Catch::Contains("bit width"));
}

TEST_CASE("Ops/quantizers reject invalid scales and NaN inputs instead of converting NaN", "[model][ops]") {
  const Tensor x = floats({1.0f, 2.0f});
  const Tensor zp = Tensor::of_ints(DType::uint8, {}, {0});
  CHECK_THROWS_WITH(run_node("QuantizeLinear", "", {}, {x, scalar(0.0f), zp}),
                    Catch::Contains("y_scale 0") && Catch::Contains("> 0"));
  CHECK_THROWS_WITH(run_node("QuantizeLinear", "", {}, {x, scalar(-1.0f), zp}),
                    Catch::Contains("expected a finite value > 0"));
  CHECK_THROWS_WITH(run_node("QuantizeLinear", "", {}, {floats({NAN}), scalar(1.0f), zp}), Catch::Contains("NaN"));
  CHECK_THROWS_WITH(run_node("DynamicQuantizeLinear", "", {}, {floats({1.0f, INFINITY})}),
                    Catch::Contains("non-finite"));
  CHECK_THROWS_WITH(run_node("Quant", kQonnxDomain, {}, {x, scalar(0.0f), scalar(0.0f), scalar(8.0f)}),
                    Catch::Contains("scale"));
  // int64 → int64 is the identity (no modular reduction, no overflow in computing the range)
  const Tensor big = Tensor::of_ints(DType::int64, {2}, {INT64_MIN, INT64_MAX});
  CHECK(run_node("Cast", "", {{"to", int64_t{7}}}, {big}).ints == big.ints);
}

// Debian's ONNX node tests predate Gelu (opset 20); the oracle here is the executor's own Div, Erf, Add
// and Mul nodes composed as PyTorch exports GELU, and, for the tanh form, its known distance from erf's.
TEST_CASE("Ops/Mish equals the composed x * Tanh(Softplus(x)) it is fused from", "[model][ops]") {
  std::vector<float> v;
  for (int i = -4000; i <= 4000; ++i) v.push_back(static_cast<float>(i) / 100.0f);  // [-40, 40]: both tails
  const Tensor x = floats(v);
  const Tensor mish = run_node("Mish", "", {}, {x});
  const Tensor composed = run_node("Mul", "", {}, {x, run_node("Tanh", "", {}, {run_node("Softplus", "", {}, {x})})});
  double worst = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    // the composed chain rounds softplus and tanh to float32 (a few relative roundings of |x|), the fused
    // op once; in double: x · tanh(ln(1 + eˣ))
    const double exact = static_cast<double>(v[i]) * std::tanh(std::log1p(std::exp(static_cast<double>(v[i]))));
    CHECK(std::fabs(static_cast<double>(mish.floats[i]) - exact) <= 0x1p-24 * std::fabs(exact) + 1e-45);
    worst = std::max(worst, std::fabs(static_cast<double>(composed.floats[i]) - mish.floats[i]) /
                                (4 * 0x1p-24 * std::fabs(static_cast<double>(v[i])) + 1e-30));
  }
  CHECK(worst <= 1.0);
}

TEST_CASE("Ops/Gelu equals the composed erf form and stays near it in the tanh form", "[model][ops]") {
  std::vector<float> v;
  for (int i = -4000; i <= 4000; ++i) v.push_back(static_cast<float>(i) / 400.0f);  // [-10, 10]
  const Tensor x = floats(v);
  const Tensor erf_form = run_node("Gelu", "", {}, {x});
  const Tensor tanh_form = run_node("Gelu", "", {{"approximate", std::string("tanh")}}, {x});
  const Tensor e = run_node("Erf", "", {}, {run_node("Div", "", {}, {x, scalar(1.4142135f)})});
  const Tensor composed =
      run_node("Mul", "", {}, {run_node("Mul", "", {}, {x, run_node("Add", "", {}, {e, scalar(1.0f)})}), scalar(0.5f)});
  double worst_composed = 0, worst_tanh = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    // the composed chain rounds 1 + erf(x/√2) to float32: an absolute error up to ~2^-23 that x/2 scales
    // (it cancels badly in the negative tail), then a few relative roundings
    const double allowed = 4 * 0x1p-24 * std::fabs(composed.floats[i]) + 0x1p-23 * std::fabs(v[i]);
    worst_composed =
        std::max(worst_composed, std::fabs(static_cast<double>(erf_form.floats[i]) - composed.floats[i]) / allowed);
    worst_tanh = std::max(worst_tanh, std::fabs(static_cast<double>(tanh_form.floats[i]) - erf_form.floats[i]));
  }
  CHECK(worst_composed <= 1.0);  // within the composed chain's float32 rounding
  CHECK(worst_tanh < 5e-4);      // the tanh approximation's largest deviation is about 4.7e-4 (near |x| = 2)
  CHECK(worst_tanh > 1e-4);      // and it is a different function
  CHECK_THROWS_WITH(run_node("Gelu", "", {{"approximate", std::string("fast")}}, {x}),
                    Catch::Contains("approximate must be 'none' or 'tanh'"));
}
