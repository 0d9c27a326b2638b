// Lowering of the matrix-product and data-movement patterns on a small model built here (the shipped CNN
// has none of them): Transpose → MatMul + Add bias + Relu → Concat → MatMul + Add → Flatten.
// Oracles: the float model (every integer output within a few LSB of it, an error bound that a wrong
// axis, order or transposition would exceed by far); the transposed and concatenated codes against the
// codes they move, element by element; and the QDQ export, which must re-import as the same network.

#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "analysis/dual_path.hpp"
#include "model/executor.hpp"
#include "model/onnx_import.hpp"
#include "ops/op_def.hpp"
#include "ops/qdq_export.hpp"
#include "quant/passes.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "support/onnx_builder.hpp"

using namespace chipref;
using namespace chipref::testing;

namespace {
std::string token_model() {
  std::mt19937_64 rng(5);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "tokens", {-1, 36}, 13);
  add_float(g, "w1", {4, 5}, rng);
  add_float(g, "b1", {5}, rng);
  add_float(g, "w2", {5, 3}, rng);
  add_float(g, "b2", {3}, rng);
  set_attr(add_node(g, "Transpose", "/t", {"x"}, "xt"), "perm", {0, 2, 1});
  add_node(g, "MatMul", "/fc1/MatMul", {"xt", "w1"}, "h0");
  add_node(g, "Add", "/fc1/Add", {"h0", "b1"}, "h1");
  add_node(g, "Relu", "/relu", {"h1"}, "h2");
  set_attr(add_node(g, "Concat", "/cat", {"h2", "h2"}, "h3"), "axis", {1}, true);
  add_node(g, "MatMul", "/fc2/MatMul", {"h3", "w2"}, "h4");
  add_node(g, "Add", "/fc2/Add", {"b2", "h4"}, "h5");  // bias first: either operand order is a bias
  set_attr(add_node(g, "Flatten", "/flatten", {"h5"}, "y"), "axis", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}

}  // namespace

TEST_CASE("Lowering/Transpose, MatMul + Add bias + Relu, Concat and Flatten lower and run", "[quant][lowering]") {
  const Graph g = import_onnx_bytes(token_model(), "tokens.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(300, 1);
  const IntGraph q = quantize(QuantizeInputs{&g, &config, &calibration, "tokens.onnx", {}});
  std::vector<std::string> types;
  for (const Node& op : q.ops) types.push_back(op.op_type);
  CHECK(types == std::vector<std::string>{"quantize", "transpose", "linear_mac", "mulshift", "concat", "linear_mac",
                                          "mulshift", "reshape", "dequantize"});
  for (const Node& op : q.ops)
    if (op.op_type == "mulshift") CHECK(op.get_int("axis") == 2);  // per output feature: the last axis of [N, T, F]

  const Tensor x = random_inputs(100, 2);
  RunTrace trace;
  const Tensor y = DirectEngine(q).run(x, &trace);
  const Tensor ref = FloatExecutor(g).run({{"x", x}}).at("y");
  REQUIRE(y.shape == ref.shape);
  const double out_scale = q.values.at("y").quant.scale;
  double worst = 0;
  for (size_t i = 0; i < y.floats.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(y.floats[i]) - ref.floats[i]) / out_scale);
  INFO("worst |integer − float| = " << worst << " output LSB");
  CHECK(worst <= 4.0);

  // Data movement moves codes exactly.
  const CodeTensor &in = trace.values.at("x"), &t = trace.values.at("xt");
  REQUIRE(t.shape == Shape{100, 6, 4});
  int64_t wrong = 0;
  for (int64_t n = 0; n < 100; ++n)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 6; ++j) wrong += t.data[(n * 6 + j) * 4 + i] != in.data[(n * 4 + i) * 6 + j];
  const CodeTensor &h = trace.values.at("h2"), &cat = trace.values.at("h3");
  REQUIRE(cat.shape == Shape{100, 12, 5});
  for (int64_t n = 0; n < 100; ++n)
    for (int64_t k = 0; k < 30; ++k)
      wrong += cat.data[n * 60 + k] != h.data[n * 30 + k] || cat.data[n * 60 + 30 + k] != h.data[n * 30 + k];
  CHECK(wrong == 0);

  // The QDQ export (MatMul + Add for products of rank-3 inputs, Transpose, Concat) re-imports as this network.
  const Graph exported = import_onnx_bytes(export_qdq_onnx(q), "tokens_qdq.onnx");
  const IntGraph back = quantize(QuantizeInputs{&exported, &config, nullptr, "tokens_qdq.onnx", {}});
  REQUIRE(back.ops.size() == q.ops.size());
  for (size_t i = 0; i < q.ops.size(); ++i) CHECK(back.ops[i].op_type == q.ops[i].op_type);
  for (const auto& [name, c] : q.constants)
    if (name.find(".weight") != std::string::npos || name.find(".bias") != std::string::npos)
      CHECK(back.constants.at(name).ints == c.ints);
}

TEST_CASE("Lowering/a product of two activations: matmul_mac + one rounding, Concat inputs share its quantization",
          "[quant][lowering]") {
  onnx::ModelProto m;  // x · xᵀ: no constant weights
  onnx::GraphProto* graph = start_model(m, "gram", {-1, 16}, 13);
  set_attr(add_node(graph, "Transpose", "/t", {"x"}, "xt"), "perm", {0, 2, 1});
  add_node(graph, "MatMul", "/fc1/MatMul", {"x", "xt"}, "gram");
  set_attr(add_node(graph, "Flatten", "/flatten", {"gram"}, "y"), "axis", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph g = import_onnx_bytes(bytes, "act_x_act.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(200, 1);
  const IntGraph q = quantize(QuantizeInputs{&g, &config, &calibration, "act_x_act.onnx", {}});
  REQUIRE(q.ops.at(2).op_type == "matmul_mac");
  RunTrace trace;
  DirectEngine(q).run(random_inputs(50, 2), &trace);
  // Each output is the exact integer sum, scaled once: within 1/2 LSB (+ the 31-bit multiplier's 2^-31).
  const CodeTensor &x = trace.values.at("x"), &gram = trace.values.at("gram");
  const QuantParams &qx = q.values.at("x").quant, &qg = q.values.at("gram").quant;
  const double scale = qx.scale * qx.scale / qg.scale;
  int64_t over = 0;
  for (int64_t b = 0; b < 50; ++b)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        int64_t acc = 0;
        for (int64_t t = 0; t < 6; ++t)
          acc += (int64_t{x.data[(b * 4 + i) * 6 + t]} - qx.zero_point) * (x.data[(b * 4 + j) * 6 + t] - qx.zero_point);
        const double exact = static_cast<double>(qg.zero_point) + static_cast<double>(acc) * scale;
        const int64_t got = gram.data[(b * 4 + i) * 4 + j];
        if (exact < qg.format.min() || exact > qg.format.max()) continue;
        over += std::fabs(static_cast<double>(got) - exact) > 0.5 + std::fabs(exact) * 1e-9;
      }
  CHECK(over == 0);

  onnx::ModelProto c;  // Concat(xt, Relu(xt · w1 + b1)): the input's quantization and the Relu's
  REQUIRE(c.ParseFromString(token_model()));
  auto* nodes = c.mutable_graph()->mutable_node();
  nodes->DeleteSubrange(5, 3);  // drop fc2 and flatten
  onnx::NodeProto* cat = c.mutable_graph()->mutable_node(4);
  cat->set_input(0, "xt");
  cat->set_output(0, "y_cat");
  set_attr(cat, "axis", {2}, true);
  cat->mutable_attribute()->DeleteSubrange(0, 1);  // the original axis 1
  set_attr(add_node(c.mutable_graph(), "Flatten", "/flatten", {"y_cat"}, "y"), "axis", {1}, true);
  c.mutable_graph()
      ->mutable_output(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(1)
      ->set_dim_value(54);
  c.SerializeToString(&bytes);
  const Graph g2 = import_onnx_bytes(bytes, "cat.onnx");
  // Calibrated, both inputs (and the Transpose and input quantize behind xt) take the Concat output's
  // range, so the Concat moves codes: its output is exactly its inputs' codes.
  const IntGraph shared = quantize(QuantizeInputs{&g2, &config, &calibration, "cat.onnx", {}});
  CHECK(shared.values.at("xt").quant.scale == shared.values.at("h2").quant.scale);
  RunTrace cat_trace;
  DirectEngine(shared).run(random_inputs(20, 3), &cat_trace);
  const CodeTensor &xt = cat_trace.values.at("xt"), &h2 = cat_trace.values.at("h2"),
                   &joined = cat_trace.values.at("y_cat");
  REQUIRE(joined.shape == Shape{20, 6, 9});
  int64_t moved_wrong = 0;
  for (int64_t r = 0; r < 20 * 6; ++r)
    for (int64_t k = 0; k < 9; ++k)
      moved_wrong += joined.data[r * 9 + k] != (k < 4 ? xt.data[r * 4 + k] : h2.data[r * 5 + k - 4]);
  CHECK(moved_wrong == 0);
  // With another activation width on one input, that input is rescaled to the Concat's quantization
  // first: every code within half an output LSB of its input's real value (or saturated at the format's
  // end), the rest moved as they are.
  const QuantConfig narrow = parse_quant_config(
      "defaults:\n  activations: {bits: 8}\nlayers:\n  - match: \"/fc1/*\"\n    activations: {bits: 6}\n",
      "a8-fc1-a6.yaml");
  const IntGraph mixed = quantize(QuantizeInputs{&g2, &narrow, &calibration, "cat.onnx", {}});
  const auto rescale =
      std::find_if(mixed.ops.begin(), mixed.ops.end(), [](const Node& op) { return op.op_type == "rescale"; });
  REQUIRE(rescale != mixed.ops.end());
  CHECK(std::count_if(mixed.ops.begin(), mixed.ops.end(), [](const Node& op) { return op.op_type == "rescale"; }) == 1);
  RunTrace mixed_trace;
  DirectEngine(mixed).run(random_inputs(20, 3), &mixed_trace);
  const QuantParams &from = mixed.values.at(rescale->inputs[0]).quant, &to = mixed.values.at(rescale->outputs[0]).quant;
  CHECK(from.format.bits() == 6);
  CHECK(to.format.bits() == 8);
  const CodeTensor &before = mixed_trace.values.at(rescale->inputs[0]),
                   &after = mixed_trace.values.at(rescale->outputs[0]);
  int64_t off = 0, saturated = 0;
  for (size_t i = 0; i < before.data.size(); ++i) {
    const double real = from.scale * static_cast<double>(before.data[i] - from.zero_point);
    const double got = to.scale * static_cast<double>(after.data[i] - to.zero_point);
    const bool at_end = after.data[i] == to.format.min() || after.data[i] == to.format.max();
    if (std::fabs(got - real) > 0.5 * to.scale * (1 + 1e-6)) at_end ? ++saturated : ++off;
  }
  CHECK(off == 0);
  CHECK(saturated <= static_cast<int64_t>(before.data.size()) / 100);
}

TEST_CASE("Lowering/Tanh and Sigmoid become lookup tables (direct and interpolated by config)",
          "[quant][lowering][lut]") {
  std::mt19937_64 rng(9);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "mlp", {-1, 12}, 13);
  add_float(g, "w1", {6, 5}, rng);
  add_float(g, "b1", {5}, rng);
  add_float(g, "w2", {5, 3}, rng);
  add_float(g, "b2", {3}, rng);
  add_node(g, "MatMul", "/fc1/MatMul", {"x", "w1"}, "h0");
  add_node(g, "Add", "/fc1/Add", {"h0", "b1"}, "h1");
  add_node(g, "Tanh", "/tanh", {"h1"}, "h2");
  add_node(g, "MatMul", "/fc2/MatMul", {"h2", "w2"}, "h3");
  add_node(g, "Add", "/fc2/Add", {"h3", "b2"}, "h4");
  add_node(g, "Sigmoid", "/sigmoid", {"h4"}, "h5");
  set_attr(add_node(g, "Flatten", "/flatten", {"h5"}, "y"), "axis", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "mlp.onnx");
  const QuantConfig config = parse_quant_config(R"(
defaults:
  activations: {bits: 8, signed: true}
layers:
  - match: "/sigmoid"
    activations: {bits: 8, signed: false}
    nonlinear: {table_bits: 6, interpolate: true}
)",
                                                "lut.yaml");
  const Tensor calibration = random_inputs(300, 3);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "mlp.onnx", {}});
  const Node& tanh = *std::find_if(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.name == "/tanh"; });
  const Node& sigmoid = *std::find_if(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.name == "/sigmoid"; });
  CHECK(tanh.op_type == "lut");
  CHECK(tanh.get_int("shift") == 0);  // direct: one entry per int8 code
  CHECK(q.constants.at("/tanh.table").numel() == 256);
  CHECK(sigmoid.get_int("shift") == 8 - 6);  // int8 input, 2^6 + 1 entries
  CHECK(sigmoid.get_int("interpolate") == 1);
  CHECK(q.constants.at("/sigmoid.table").numel() == 65);

  const Tensor x = random_inputs(50, 4);
  RunTrace trace;
  const Tensor y = DirectEngine(q).run(x, &trace);
  // The direct table against the function itself, on every element the network produced.
  const QuantParams &in = q.values.at("h1").quant, &out = q.values.at("h2").quant;
  int64_t wrong = 0;
  const CodeTensor &a = trace.values.at("h1"), &b = trace.values.at("h2");
  for (size_t i = 0; i < a.data.size(); ++i) {
    const double expected =
        std::nearbyint(std::tanh(in.scale * static_cast<double>(a.data[i] - in.zero_point)) / out.scale) +
        static_cast<double>(out.zero_point);
    wrong += b.data[i] != static_cast<int64_t>(std::clamp(expected, static_cast<double>(out.format.min()),
                                                          static_cast<double>(out.format.max())));
  }
  CHECK(wrong == 0);
  const Tensor ref = FloatExecutor(graph).run({{"x", x}}).at("y");
  double worst = 0;
  for (size_t i = 0; i < y.floats.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(y.floats[i]) - ref.floats[i]));
  INFO("worst |integer − float| = " << worst);
  CHECK(worst <
        0.05);  // a sanity bound on outputs in [0, 1] (int8 stages compound); a wrong table or axis is off by > 0.2
  // The QDQ export carries the tables back as Tanh / Sigmoid.
  const Graph exported = import_onnx_bytes(export_qdq_onnx(q), "mlp_qdq.onnx");
  CHECK(std::count_if(exported.nodes.begin(), exported.nodes.end(),
                      [](const Node& n) { return n.op_type == "Tanh" || n.op_type == "Sigmoid"; }) == 2);
}

TEST_CASE("Lowering/Softmax over the last axis: within §9's bound of the exact softmax of its input codes",
          "[quant][lowering][softmax]") {
  std::mt19937_64 rng(21);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "attention_weights", {-1, 4, 7}, 13);
  add_float(g, "w", {6, 7}, rng);
  add_float(g, "b", {7}, rng);
  add_node(g, "MatMul", "/scores/MatMul", {"x", "w"}, "s0");
  add_node(g, "Add", "/scores/Add", {"s0", "b"}, "s1");
  set_attr(add_node(g, "Softmax", "/softmax", {"s1"}, "y"), "axis", {-1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "softmax.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8, signed: true}\n", "s8.yaml");
  const Tensor calibration = random_inputs(200, 5);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "softmax.onnx", {}});
  const QuantParams& out = q.values.at("y").quant;
  CHECK(out.format == IntFormat::make(8, false));
  CHECK(out.scale == 1.0 / 256);
  RunTrace trace;
  DirectEngine(q).run(random_inputs(100, 6), &trace);
  const CodeTensor &s = trace.values.at("s1"), &p = trace.values.at("y");
  const double s_x = q.values.at("s1").quant.scale, bound = 0.5 / 256 + 8.0 / std::ldexp(1.0, 16);
  int64_t over = 0, rows = 0;
  for (int64_t r = 0; r < 400; ++r, ++rows) {
    double denominator = 0;
    for (int c = 0; c < 7; ++c) denominator += std::exp(s_x * s.data[r * 7 + c]);
    for (int c = 0; c < 7; ++c) {
      const double exact = std::exp(s_x * s.data[r * 7 + c]) / denominator;
      if (exact * 256 > 255.5) continue;  // not representable in uint8 at 1/256: saturates
      over += std::fabs(p.data[r * 7 + c] / 256.0 - exact) > bound;
    }
  }
  CHECK(rows == 400);
  CHECK(over == 0);
  // Its QDQ export re-imports as the same network: the output scale 1/256 is taken as given; the exp
  // table is rebuilt from the input scale's float32 value, so an entry may move by one unit.
  const Graph exported = import_onnx_bytes(export_qdq_onnx(q), "softmax_qdq.onnx");
  const IntGraph back = quantize(QuantizeInputs{&exported, &config, nullptr, "softmax_qdq.onnx", {}});
  const auto &a = q.constants.at("/softmax.exp_table").ints, &b2 = back.constants.at("/softmax.exp_table").ints;
  REQUIRE(a.size() == b2.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(std::llabs(a[i] - b2[i]) <= 1);
  CHECK(std::find_if(back.ops.begin(), back.ops.end(), [](const Node& op) {
          return op.op_type == "softmax";
        })->get_int("one_over_scale") == 256);
}

TEST_CASE("Lowering/LayerNormalization: within §10's bound of the double LayerNorm of its input codes",
          "[quant][lowering][layernorm]") {
  std::mt19937_64 rng(33);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "norm", {-1, 4, 16}, 17);
  add_float(g, "w", {6, 16}, rng);
  add_float(g, "b", {16}, rng);
  add_float(g, "gamma", {16}, rng);
  add_float(g, "beta", {16}, rng);
  add_node(g, "MatMul", "/fc/MatMul", {"x", "w"}, "h0");
  add_node(g, "Add", "/fc/Add", {"h0", "b"}, "h1");
  set_attr(add_node(g, "LayerNormalization", "/norm", {"h1", "gamma", "beta"}, "y"), "axis", {-1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "norm.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8, signed: true}\n", "s8.yaml");
  const Tensor calibration = random_inputs(300, 7);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "norm.onnx", {}});
  RunTrace trace;
  DirectEngine(q).run(random_inputs(100, 8), &trace);
  const CodeTensor &h = trace.values.at("h1"), &y = trace.values.at("y");
  const QuantParams &in = q.values.at("h1").quant, &out = q.values.at("y").quant;
  const Tensor &gamma = graph.initializers.at("gamma"), &beta = graph.initializers.at("beta");
  int64_t over = 0, checked = 0;
  for (int64_t r = 0; r < 400; ++r) {
    double mean = 0, var = 0;
    for (int i = 0; i < 16; ++i) mean += in.scale * (h.data[r * 16 + i] - in.zero_point);
    mean /= 16;
    for (int i = 0; i < 16; ++i) var += std::pow(in.scale * (h.data[r * 16 + i] - in.zero_point) - mean, 2);
    var /= 16;
    for (int i = 0; i < 16; ++i) {
      const double z = (in.scale * (h.data[r * 16 + i] - in.zero_point) - mean) / std::sqrt(var + 1e-5);
      const double ref = gamma.floats[i] * z + beta.floats[i];
      if (ref < out.scale * (out.format.min() - out.zero_point) ||
          ref > out.scale * (out.format.max() - out.zero_point))
        continue;
      const double bound = out.scale * (1 + 1e-6) +
                           std::fabs(gamma.floats[i]) * (std::ldexp(1.0, -16) + std::fabs(z) * std::ldexp(1.0, -15));
      over += std::fabs(out.scale * (y.data[r * 16 + i] - out.zero_point) - ref) > bound;
      ++checked;
    }
  }
  CHECK(checked > 5000);
  CHECK(over == 0);
  // Its QDQ export is LayerNormalization's formula in opset-13 ops (run by ONNX Runtime in test_ort's ViT case).
  CHECK_NOTHROW(export_qdq_onnx(q));
}

TEST_CASE("Lowering/the decomposed erf GELU fuses and becomes a gelu_erf table", "[quant][lowering][lut]") {
  std::mt19937_64 rng(44);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "gelu", {-1, 4, 5}, 13);
  add_float(g, "w", {6, 5}, rng);
  add_float(g, "b", {5}, rng);
  auto scalar = [&](const std::string& name, float v) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(&v), sizeof v));
  };
  scalar("root2", 1.4142135f), scalar("one", 1.0f), scalar("half", 0.5f);
  add_node(g, "MatMul", "/fc/MatMul", {"x", "w"}, "h0");
  add_node(g, "Add", "/fc/Add", {"h0", "b"}, "h");
  add_node(g, "Div", "/act/Div", {"h", "root2"}, "d");
  add_node(g, "Erf", "/act/Erf", {"d"}, "e");
  add_node(g, "Add", "/act/Add", {"e", "one"}, "a");
  add_node(g, "Mul", "/act/Mul", {"h", "a"}, "p");
  add_node(g, "Mul", "/act/Mul_1", {"p", "half"}, "y");
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "gelu.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8, signed: true}\n", "s8.yaml");
  const Tensor calibration = random_inputs(200, 9);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "gelu.onnx", {}});
  const Node& gelu = q.ops.at(3);
  REQUIRE(gelu.op_type == "lut");
  CHECK(gelu.get_string("function") == "gelu_erf");
  RunTrace trace;
  DirectEngine(q).run(random_inputs(50, 10), &trace);
  const CodeTensor &h = trace.values.at("h"), &y = trace.values.at("y");
  const QuantParams &in = q.values.at("h").quant, &out = q.values.at("y").quant;
  int64_t wrong = 0;
  for (size_t i = 0; i < h.data.size(); ++i) {
    const double xv = in.scale * (h.data[i] - in.zero_point);
    const double expected = std::nearbyint(0.5 * xv * (1 + std::erf(xv / std::sqrt(2.0))) / out.scale) + out.zero_point;
    wrong += y.data[i] != static_cast<int64_t>(std::clamp(expected, static_cast<double>(out.format.min()),
                                                          static_cast<double>(out.format.max())));
  }
  CHECK(wrong == 0);
}

namespace {
// What PyTorch exports for a ViT's token handling and attention scores, at a dynamic batch B:
// cls [1,1,6] expanded to [B,1,6] by shape arithmetic, concatenated before x [B,4,6], plus a position
// embedding [1,5,6]; q and k sliced from the last axis, q divided by √3, scores q·kᵀ [B,5,5]; the first
// row gathered [B,5] and reshaped by a target built from Shape (batch entry + -1).
std::string attention_scores_model(bool adds_the_batch_size = false) {
  std::mt19937_64 rng(9);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "scores", {-1, 5}, 13);
  add_float(g, "cls", {1, 1, 6}, rng);
  add_float(g, "pos", {1, 5, 6}, rng);
  add_ints(g, "zero", {0}, true);
  add_ints(g, "axes0", {0});
  add_ints(g, "one_six", {1, 6});
  add_ints(g, "minus_one", {-1});
  add_ints(g, "q_start", {0}), add_ints(g, "q_end", {3}), add_ints(g, "k_start", {3}), add_ints(g, "k_end", {6}),
      add_ints(g, "last", {2});
  onnx::TensorProto* root = g->add_initializer();
  root->set_name("sqrt3");
  root->set_data_type(onnx::TensorProto::FLOAT);
  root->add_float_data(1.7320508f);
  add_node(g, "Shape", "/Shape", {"x"}, "x_shape");
  set_attr(add_node(g, "Gather", "/Gather", {"x_shape", "zero"}, "batch"), "axis", {0}, true);
  add_node(g, "Unsqueeze", "/Unsqueeze", {"batch", "axes0"}, "batch_1d");
  set_attr(add_node(g, "Concat", "/expand_shape", {"batch_1d", "one_six"}, "cls_shape"), "axis", {0}, true);
  add_node(g, "Expand", "/Expand", {"cls", "cls_shape"}, "cls_b");
  set_attr(add_node(g, "Concat", "/tokens", {"cls_b", "x"}, "tokens"), "axis", {1}, true);
  add_node(g, "Add", "/pos_add", {"tokens", "pos"}, "t");
  add_node(g, "Slice", "/q", {"t", "q_start", "q_end", "last"}, "q");
  add_node(g, "Slice", "/k", {"t", "k_start", "k_end", "last"}, "k");
  add_node(g, "Div", "/scale", {"q", "sqrt3"}, "q_scaled");
  set_attr(add_node(g, "Transpose", "/kt", {"k"}, "kt"), "perm", {0, 2, 1});
  add_node(g, "MatMul", "/scores", {"q_scaled", "kt"}, "scores");
  set_attr(add_node(g, "Gather", "/first_row", {"scores", "zero"}, "row"), "axis", {1}, true);
  add_node(g, "Shape", "/Shape_1", {"row"}, "row_shape");
  set_attr(add_node(g, "Gather", "/Gather_1", {"row_shape", "zero"}, "rows"), "axis", {0}, true);
  add_node(g, "Unsqueeze", "/Unsqueeze_1", {"rows", "axes0"}, "rows_1d");
  set_attr(add_node(g, "Concat", "/target", {"rows_1d", "minus_one"}, "target"), "axis", {0}, true);
  if (adds_the_batch_size) {  // row + float(B): a constant that depends on the batch in no expressible way
    set_attr(add_node(g, "Cast", "/Cast", {"rows_1d"}, "rows_f"), "to", {onnx::TensorProto::FLOAT}, true);
    add_node(g, "Add", "/add_batch", {"row", "rows_f"}, "row_plus");
    add_node(g, "Reshape", "/Reshape", {"row_plus", "target"}, "y");
  } else {
    add_node(g, "Reshape", "/Reshape", {"row", "target"}, "y");
  }
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}
}  // namespace

TEST_CASE("Lowering/dynamic-batch shape arithmetic, class token, position embedding, Slice, 1/sqrt(d) and Gather",
          "[quant][lowering]") {
  const Graph g = import_onnx_bytes(attention_scores_model(), "scores.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(300, 1);
  const IntGraph q = quantize(QuantizeInputs{&g, &config, &calibration, "scores.onnx", {}});
  std::vector<std::string> types;
  for (const Node& op : q.ops) types.push_back(op.op_type);
  CHECK(types == std::vector<std::string>{"quantize", "batch_broadcast", "concat", "batch_broadcast", "add", "slice",
                                          "slice", "transpose", "matmul_mac", "mulshift", "gather", "reshape",
                                          "dequantize"});
  // The division by √3 has no op: the product reads q's codes and its multiplier carries the 1/√3.
  CHECK(q.values.count("q_scaled") == 0);
  const Node& mac = *std::find_if(q.ops.begin(), q.ops.end(), [](const Node& n) { return n.op_type == "matmul_mac"; });
  CHECK(mac.inputs == std::vector<std::string>{"q", "kt"});
  // Batch-dependent Reshape target [B, -1] → [0, -1] (copy the batch, infer the rest).
  CHECK(q.ops.at(11).get_ints("shape") == std::vector<int64_t>{0, -1});

  // Against the float model at batches 1 and 37: every output within 3 LSB of it. A wrong slice, a lost
  // scaling (√3 ≈ 1.7× off) or a misplaced class token would exceed this by far.
  const DirectEngine engine(q);
  const double lsb = q.values.at("y").quant.scale;
  for (int64_t batch : {1, 37}) {
    const Tensor x = random_inputs(batch, 2 + static_cast<uint64_t>(batch));
    const Tensor y = engine.run(x), ref = FloatExecutor(g).run({{"x", x}}).at("y");
    REQUIRE(y.shape == ref.shape);
    double worst = 0;
    for (size_t i = 0; i < y.floats.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(y.floats[i]) - ref.floats[i]) / lsb);
    INFO("batch " << batch << ": worst |integer − float| = " << worst << " output LSB");
    CHECK(worst <= 3.0);
  }
  // Each image's result does not depend on the batch it runs in.
  const Tensor many = random_inputs(9, 4);
  const Tensor together = engine.run(many);
  for (int64_t n = 0; n < 9; ++n) {
    const Tensor alone = engine.run(Tensor::of_floats(
        {1, 4, 6}, std::vector<float>(many.floats.begin() + n * 24, many.floats.begin() + (n + 1) * 24)));
    CHECK(std::equal(alone.floats.begin(), alone.floats.end(), together.floats.begin() + n * 5));
  }

  // A folded constant that depends on the batch otherwise than a Reshape target or a repeated slice has
  // no batch-free form: an error naming the node that reads it.
  const Graph bad = import_onnx_bytes(attention_scores_model(true), "scores2.onnx");
  CHECK_THROWS_WITH(
      quantize(QuantizeInputs{&bad, &config, &calibration, "scores2.onnx", {}}),
      Catch::Contains("node '/add_batch' (Add) reads 'rows_f'") && Catch::Contains("export with a fixed batch size"));
}

TEST_CASE("Lowering/SiLU as PyTorch exports it (x * Sigmoid(x)) fuses and becomes a silu table",
          "[quant][lowering][lut]") {
  std::mt19937_64 rng(13);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "silu", {-1, 20}, 13);
  add_float(g, "w", {6, 5}, rng);
  add_node(g, "MatMul", "/fc/MatMul", {"x", "w"}, "h0");
  add_node(g, "Sigmoid", "/act/Sigmoid", {"h0"}, "s");
  add_node(g, "Mul", "/act/Mul", {"s", "h0"}, "h1");  // the Sigmoid first: either order is SiLU
  set_attr(add_node(g, "Flatten", "/flatten", {"h1"}, "y"), "axis", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "silu.onnx");
  Graph fused = graph;
  CHECK(fuse_gated_activations(fused) == 1);
  CHECK(fuse_gated_activations(fused) == 0);
  const Tensor x = random_inputs(40, 6);
  const Tensor a = FloatExecutor(graph).run({{"x", x}}).at("y"), b = FloatExecutor(fused).run({{"x", x}}).at("y");
  double float_worst = 0;
  for (size_t i = 0; i < a.floats.size(); ++i)
    float_worst = std::max(float_worst, std::fabs(static_cast<double>(a.floats[i]) - b.floats[i]));
  CHECK(float_worst < 1e-5);  // the fused op in double, the pair in float32

  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8, signed: true}\n", "s8.yaml");
  const Tensor calibration = random_inputs(300, 7);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "silu.onnx", {}});
  const auto lut = std::find_if(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.op_type == "lut"; });
  REQUIRE(lut != q.ops.end());
  CHECK(lut->get_string("function") == "silu");
  CHECK(lut->get_int("error_within_bound") == 1);
  // Every element against x·σ(x) of its input codes: the direct table's 1/2 LSB.
  RunTrace trace;
  DirectEngine(q).run(x, &trace);
  const QuantParams &in = q.values.at("h0").quant, &out = q.values.at("h1").quant;
  const CodeTensor &codes_in = trace.values.at("h0"), &codes_out = trace.values.at("h1");
  int64_t over = 0;
  for (size_t i = 0; i < codes_in.data.size(); ++i) {
    const double v = in.scale * static_cast<double>(codes_in.data[i] - in.zero_point), f = v / (1 + std::exp(-v));
    const double got = out.scale * static_cast<double>(codes_out.data[i] - out.zero_point);
    const double hi = out.scale * static_cast<double>(out.format.max() - out.zero_point),
                 lo = out.scale * static_cast<double>(out.format.min() - out.zero_point);
    if (f > hi || f < lo) continue;
    over += std::fabs(got - f) > 0.5 * out.scale * (1 + 1e-9);
  }
  CHECK(over == 0);
}

namespace {
// A graph of one clamp op between the boundaries, on codes of `format` (zero point `zp`).
IntGraph clamp_graph(IntFormat format, int64_t zp, int64_t lo, int64_t hi) {
  IntGraph g;
  g.input_name = "x", g.output_name = "y";
  g.input_shape = g.output_shape = {-1, 4};
  g.values["x.codes"] = IntValue{{-1, 4}, QuantParams{format, zp, 0.25}};
  g.values["y.codes"] = g.values["x.codes"];
  g.ops.push_back(Node{"q", "quantize", kIntDomain, {"x"}, {"x.codes"}, {{"scale", 0.25f}}});
  g.ops.push_back(Node{"c", "clamp", kIntDomain, {"x.codes"}, {"y.codes"}, {{"clamp_lo", lo}, {"clamp_hi", hi}}});
  g.ops.push_back(Node{"dq", "dequantize", kIntDomain, {"y.codes"}, {"y"}, {{"scale", 0.25f}}});
  return g;
}

// Every code of `format` through the clamp op, against std::clamp.
int64_t clamp_mismatches(IntFormat format, int64_t lo, int64_t hi) {
  const IntGraph g = clamp_graph(format, 0, lo, hi);
  check_integer_only(g);
  const PreparedOp p = prepare_int_op(g, g.ops[1]);
  CodeTensor x{{format.max() - format.min() + 1}, {}}, y;
  for (int64_t c = format.min(); c <= format.max(); ++c) x.data.push_back(static_cast<int32_t>(c));
  OverflowCounter overflow;
  p.run({&x}, y, overflow);
  int64_t wrong = y.shape != x.shape;
  for (size_t i = 0; i < x.data.size(); ++i) wrong += y.data[i] != std::clamp<int64_t>(x.data[i], lo, hi);
  return wrong;
}
}  // namespace

TEST_CASE("Lowering/clamp: every code against std::clamp, and the bounds and quantizations it refuses",
          "[quant][lowering][clamp]") {
  const IntFormat int4 = IntFormat::int_bits(4);
  int64_t wrong = 0, pairs = 0;
  for (int64_t lo = int4.min(); lo <= int4.max(); ++lo)
    for (int64_t hi = lo; hi <= int4.max(); ++hi) wrong += clamp_mismatches(int4, lo, hi), ++pairs;
  CHECK(pairs == 136);
  wrong += clamp_mismatches(IntFormat::int_bits(8), 0, 127) + clamp_mismatches(IntFormat::int_bits(8), -20, 37);
  wrong += clamp_mismatches(IntFormat::uint_bits(8), 3, 200) + clamp_mismatches(IntFormat::uint_bits(8), 0, 255);
  CHECK(wrong == 0);

  IntGraph reversed = clamp_graph(int4, 0, 3, 2);
  CHECK_THROWS_WITH(prepare_int_op(reversed, reversed.ops[1]),
                    Catch::Contains("clamp [3, 2] is not an interval of its int4 codes [-8, 7]"));
  IntGraph outside = clamp_graph(int4, 0, -9, 2);
  CHECK_THROWS_WITH(prepare_int_op(outside, outside.ops[1]), Catch::Contains("clamp [-9, 2] is not an interval"));
  IntGraph requantizing = clamp_graph(int4, 0, 0, 7);
  requantizing.values["y.codes"].quant.zero_point = 1;
  CHECK_THROWS_WITH(prepare_int_op(requantizing, requantizing.ops[1]),
                    Catch::Contains("its input and output are quantized differently"));
  IntGraph extra_input = clamp_graph(int4, 0, 0, 7);
  extra_input.ops[1].inputs.push_back("x.codes");
  CHECK_THROWS_WITH(check_integer_only(extra_input),
                    Catch::Contains("has 2 inputs and 1 outputs; expected 1 inputs and 1 output"));
}

TEST_CASE(
    "Lowering/a Relu or Clip that no requantization absorbs is a clamp of the codes, within s/2 of the float model",
    "[quant][lowering][clamp]") {
  onnx::ModelProto m;  // Relu and Clip straight on the input (no MAC or Add before them), joined by a Concat
  onnx::GraphProto* graph = start_model(m, "clamps", {-1, 48}, 13);
  for (const auto& [name, v] : std::vector<std::pair<std::string, float>>{{"lo", -0.5f}, {"hi", 0.7f}}) {
    onnx::TensorProto* t = graph->add_initializer();
    t->set_name(name), t->set_data_type(onnx::TensorProto::FLOAT), t->add_float_data(v);
  }
  add_node(graph, "Relu", "/relu", {"x"}, "xr");
  add_node(graph, "Clip", "/clip", {"x", "lo", "hi"}, "xc");
  set_attr(add_node(graph, "Concat", "/cat", {"xr", "xc"}, "h"), "axis", {1}, true);
  set_attr(add_node(graph, "Flatten", "/flatten", {"h"}, "y"), "axis", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph g = import_onnx_bytes(bytes, "clamps.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(300, 1);
  const IntGraph q = quantize(QuantizeInputs{&g, &config, &calibration, "clamps.onnx", {}});
  std::vector<std::string> types;
  for (const Node& op : q.ops) types.push_back(op.op_type);
  CHECK(types == std::vector<std::string>{"quantize", "clamp", "clamp", "concat", "reshape", "dequantize"});

  // Against the float model: within half an LSB wherever the input lies inside the format's range.
  const Tensor x = random_inputs(200, 2);
  const Tensor y = DirectEngine(q).run(x);
  const Tensor ref = FloatExecutor(g).run({{"x", x}}).at("y");
  REQUIRE(y.shape == ref.shape);
  const QuantParams& qx = q.values.at("x").quant;
  const double lo = qx.scale * static_cast<double>(qx.format.min() - qx.zero_point),
               hi = qx.scale * static_cast<double>(qx.format.max() - qx.zero_point);
  int64_t checked = 0, over = 0;
  for (int64_t n = 0; n < 200; ++n)
    for (int64_t k = 0; k < 48; ++k) {
      const float in = x.floats[static_cast<size_t>(n * 24 + k % 24)];
      if (in < lo || in > hi) continue;
      const size_t i = static_cast<size_t>(n * 48 + k);
      over += std::fabs(static_cast<double>(y.floats[i]) - ref.floats[i]) > 0.5 * qx.scale * (1 + 1e-6);
      ++checked;
    }
  CHECK(checked > 9000);
  CHECK(over == 0);

  // The QDQ export writes Relu and Clip between identical quantizations, and re-imports as the same ops.
  const Graph exported = import_onnx_bytes(export_qdq_onnx(q), "clamps_qdq.onnx");
  const IntGraph back = quantize(QuantizeInputs{&exported, &config, nullptr, "clamps_qdq.onnx", {}});
  std::vector<std::string> back_types;
  for (const Node& op : back.ops) back_types.push_back(op.op_type);
  CHECK(back_types == types);
  for (size_t i = 1; i < 3; ++i)
    CHECK((back.ops[i].get_int("clamp_lo") == q.ops[i].get_int("clamp_lo") &&
           back.ops[i].get_int("clamp_hi") == q.ops[i].get_int("clamp_hi")));
}

namespace {

// The activations as the ONNX operator documents define them, written here (not quant/lut.cpp's).
double onnx_activation(const std::string& type, double x, double alpha, double beta) {
  const double softplus = std::log(std::exp(x) + 1.0);
  if (type == "LeakyRelu" || type == "PRelu") return x < 0 ? alpha * x : x;
  if (type == "HardSigmoid") return std::max(0.0, std::min(1.0, alpha * x + beta));
  if (type == "HardSwish") return x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5));
  if (type == "Elu") return x < 0 ? alpha * (std::exp(x) - 1.0) : x;
  if (type == "Selu") return x > 0 ? beta * x : beta * alpha * (std::exp(x) - 1.0);
  if (type == "Celu") return std::max(0.0, x) + std::min(0.0, alpha * (std::exp(x / alpha) - 1.0));
  if (type == "Softplus") return softplus;
  if (type == "Softsign") return x / (1.0 + std::fabs(x));
  if (type == "Mish") return x * std::tanh(softplus);
  if (type == "Tanh") return std::tanh(x);
  if (type == "Sigmoid") return 1.0 / (1.0 + std::exp(-x));
  FAIL("no reference for " << type);
  return 0;
}
}  // namespace

TEST_CASE(
    "Lowering/activations anywhere: after a MAC, an Add, a Concat, chained, and the residual Add then Relu then ReLU6 "
    "pattern",
    "[quant][lowering][lut][clamp]") {
  std::mt19937_64 rng(21);
  struct Activation {
    std::string type;
    float alpha = 0, beta = 0;  // 0: ONNX's default (the attribute is not written)
  };
  const std::vector<Activation> activations = {
      {"LeakyRelu", 0.1f}, {"PRelu", 0.25f}, {"HardSigmoid"}, {"HardSigmoid", 0.3f, 0.4f},
      {"HardSwish"},       {"Elu", 0.5f},    {"Selu"},        {"Celu", 2.0f},
      {"Softplus"},        {"Softsign"},     {"Sigmoid"},     {"Tanh"}};
  onnx::ModelProto m;
  // Every branch is [N, 4, 6]: the activations, the residual, a chain, one after a Concat, Mish and
  // HardSwish as PyTorch exports them below opsets 18 and 14.
  onnx::GraphProto* g = start_model(m, "activations", {-1, 24}, 17);
  for (const char* w : {"w1", "w2", "w3"}) add_float(g, w, {6, 6}, rng);
  for (const char* b : {"b1", "b2", "b3"}) add_float(g, b, {6}, rng);
  auto scalar = [&](const std::string& name, float v) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name), t->set_data_type(onnx::TensorProto::FLOAT), t->add_float_data(v);
  };
  scalar("zero", 0.0f), scalar("six", 6.0f);
  // The depthwise residual pattern of issue 25: MAC → ReLU6, MAC → Relu, Add → Relu → Clip(0, 6).
  add_node(g, "MatMul", "/a/MatMul", {"x", "w1"}, "a0");
  add_node(g, "Add", "/a/Add", {"a0", "b1"}, "a1");
  add_node(g, "Clip", "/a/relu6", {"a1", "zero", "six"}, "a");
  add_node(g, "MatMul", "/b/MatMul", {"x", "w2"}, "b0");
  add_node(g, "Add", "/b/Add", {"b0", "b2"}, "b1_");
  add_node(g, "Relu", "/b/relu", {"b1_"}, "b");
  add_node(g, "Add", "/residual/Add", {"a", "b"}, "s");
  add_node(g, "Relu", "/residual/relu", {"s"}, "sr");
  add_node(g, "Clip", "/residual/relu6", {"sr", "zero", "six"}, "residual");
  // A MAC output with negative values, read by every activation (so none fuses into its requantization).
  add_node(g, "MatMul", "/c/MatMul", {"x", "w3"}, "c0");
  add_node(g, "Add", "/c/Add", {"c0", "b3"}, "c");
  std::vector<std::string> joined = {"residual"};
  for (size_t i = 0; i < activations.size(); ++i) {
    const Activation& a = activations[i];
    const std::string name = "/act" + std::to_string(i) + "/" + a.type, out = "act" + std::to_string(i);
    std::vector<std::string> ins = {"c"};
    if (a.type == "PRelu") scalar("slope", a.alpha), ins.push_back("slope");
    onnx::NodeProto* n = add_node(g, a.type, name, ins, out);
    if (a.type != "PRelu" && a.alpha != 0) set_float_attr(n, "alpha", a.alpha);
    if (a.beta != 0) set_float_attr(n, "beta", a.beta);
    joined.push_back(out);
  }
  add_node(g, "Softplus", "/chain/Softplus", {"c"}, "ch1");  // several in a row
  add_node(g, "Tanh", "/chain/Tanh", {"ch1"}, "ch2");
  add_node(g, "Elu", "/chain/Elu", {"ch2"}, "chain");
  joined.push_back("chain");
  add_node(g, "Softplus", "/mish/Softplus", {"c"}, "mi1");  // nn.Mish at opset 17: x · tanh(softplus(x))
  add_node(g, "Tanh", "/mish/Tanh", {"mi1"}, "mi2");
  add_node(g, "Mul", "/mish/Mul", {"c", "mi2"}, "mish");
  joined.push_back("mish");
  set_float_attr(add_node(g, "HardSigmoid", "/hswish/HardSigmoid", {"c"}, "hs1"), "alpha", 1.0f / 6.0f);
  add_node(g, "Mul", "/hswish/Mul", {"hs1", "c"}, "hswish");  // nn.Hardswish at opset 13: x · hard_sigmoid(x)
  joined.push_back("hswish");
  set_attr(add_node(g, "Concat", "/cat1", {"a", "c"}, "ac"), "axis", {2}, true);  // [N, 4, 12]
  add_node(g, "LeakyRelu", "/after_cat/LeakyRelu", {"ac"}, "after_cat");
  add_float(g, "w4", {12, 6}, rng);
  add_node(g, "MatMul", "/after_cat/MatMul", {"after_cat", "w4"}, "after_cat6");
  joined.push_back("after_cat6");
  // Joined by a tree of Adds (each requantizes its two operands: any quantizations).
  std::string sum = joined[0];
  for (size_t i = 1; i < joined.size(); ++i) {
    const std::string out = "sum" + std::to_string(i);
    add_node(g, "Add", "/sum" + std::to_string(i), {sum, joined[i]}, out);
    sum = out;
  }
  set_attr(add_node(g, "Flatten", "/flatten", {sum}, "y"), "axis", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "activations.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8, signed: true}\n", "a8.yaml");
  const Tensor calibration = random_inputs(300, 5);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "activations.onnx", {}});

  auto op_named = [&](const std::string& name) -> const Node& {
    const auto it = std::find_if(q.ops.begin(), q.ops.end(), [&](const Node& op) { return op.name == name; });
    REQUIRE(it != q.ops.end());
    return *it;
  };
  // ReLU6 after a MAC and Relu after a MAC and after the Add fuse into their requantization; the Clip
  // after the Add's fused Relu is a clamp at the codes of 0 and 6.
  CHECK(std::none_of(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.name == "/a/relu6"; }));
  CHECK(std::none_of(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.name == "/residual/relu"; }));
  const Node& relu6 = op_named("/residual/relu6");
  CHECK(relu6.op_type == "clamp");
  const QuantParams& sq = q.values.at("sr").quant;
  CHECK(relu6.get_int("clamp_lo") == std::max(sq.format.min(), code_of(0.0, sq)));
  CHECK(relu6.get_int("clamp_hi") == std::min(sq.format.max(), code_of(6.0, sq)));

  // Every table against the ONNX definition on every element the network produced: exactly the rounded
  // function of its input code.
  const Tensor x = random_inputs(60, 6);
  RunTrace trace;
  const Tensor y = DirectEngine(q).run(x, &trace);
  int64_t tables = 0;
  for (const Node& src : prepare_for_quantization(graph).nodes) {
    if (src.op_type == "Relu" || src.op_type == "Clip" || src.op_type == "MatMul" || src.op_type == "Add" ||
        src.op_type == "Concat" || src.op_type == "Flatten")
      continue;
    const Node& op = op_named(src.name);
    INFO(src.name);
    REQUIRE(op.op_type == "lut");
    ++tables;
    double alpha = src.get_float("alpha", src.op_type == "LeakyRelu"     ? 0.01f
                                          : src.op_type == "HardSigmoid" ? 0.2f
                                          : src.op_type == "Selu"        ? 1.67326319217681884765625f
                                                                         : 1.0f);
    double beta =
        src.op_type == "Selu" ? src.get_float("gamma", 1.05070102214813232421875f) : src.get_float("beta", 0.5f);
    if (src.op_type == "PRelu") alpha = graph.initializers.at("slope").floats.at(0);
    const QuantParams &in = q.values.at(op.inputs[0]).quant, &out = q.values.at(op.outputs[0]).quant;
    const CodeTensor &a = trace.values.at(op.inputs[0]), &b = trace.values.at(op.outputs[0]);
    int64_t wrong = 0;
    for (size_t i = 0; i < a.data.size(); ++i) {
      const double f =
          onnx_activation(src.op_type, in.scale * static_cast<double>(a.data[i] - in.zero_point), alpha, beta);
      const double code = std::nearbyint(f / out.scale) + static_cast<double>(out.zero_point);
      wrong += b.data[i] != static_cast<int64_t>(std::clamp(code, static_cast<double>(out.format.min()),
                                                            static_cast<double>(out.format.max())));
    }
    CHECK(wrong == 0);
  }
  CHECK(tables == static_cast<int64_t>(activations.size()) + 6);  // + the chain's 3, after the Concat, Mish, HardSwish
  CHECK(op_named("/mish/Softplus/Mish").get_string("function") == "mish");
  CHECK(op_named("/hswish/HardSigmoid/HardSwish").get_string("function") == "hard_swish");

  // The network against the float model: a sanity check (the tables are checked exactly above). Sixteen
  // chained Adds each round to their own output and int8 stages compound: a few output LSB at worst; a
  // wrong table or a swapped operand is off by tens.
  const Tensor ref = FloatExecutor(graph).run({{"x", x}}).at("y");
  REQUIRE(y.shape == ref.shape);
  const double lsb = q.values.at("y").quant.scale;
  double worst = 0, total = 0;
  for (size_t i = 0; i < y.floats.size(); ++i) {
    const double e = std::fabs(static_cast<double>(y.floats[i]) - ref.floats[i]) / lsb;
    worst = std::max(worst, e), total += e;
  }
  const double mean = total / static_cast<double>(y.floats.size());
  INFO("|integer − float|: worst " << worst << ", mean " << mean << " output LSB");
  CHECK(worst <= 8.0);
  CHECK(mean <= 1.5);
}

TEST_CASE(
    "Lowering/a product of two activations, one broadcast (a squeeze-excitation gate), and a difference: within their "
    "bounds",
    "[quant][lowering]") {
  std::mt19937_64 rng(23);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "gate", {-1, 24}, 13);
  add_float(g, "w1", {6, 6}, rng);
  add_float(g, "b1", {6}, rng);
  add_float(g, "wg", {6, 1}, rng);
  add_float(g, "bg", {1}, rng);
  add_node(g, "MatMul", "/h/MatMul", {"x", "w1"}, "h0");
  add_node(g, "Add", "/h/Add", {"h0", "b1"}, "h");  // [N, 4, 6]
  add_node(g, "MatMul", "/gate/MatMul", {"x", "wg"}, "g0");
  add_node(g, "Add", "/gate/Add", {"g0", "bg"}, "g1");  // [N, 4, 1]
  add_node(g, "Sigmoid", "/gate/Sigmoid", {"g1"}, "gate");
  add_node(g, "Mul", "/se/Mul", {"h", "gate"}, "se");     // broadcast over the last axis
  add_node(g, "Mul", "/square/Mul", {"se", "h"}, "sq");   // two activations of one shape
  add_node(g, "Relu", "/square/Relu", {"sq"}, "sqr");     // fused into the product's clamp
  add_node(g, "Sub", "/diff/Sub", {"sqr", "h"}, "diff");  // a − b: the Add with b negated
  set_attr(add_node(g, "Flatten", "/flatten", {"diff"}, "y"), "axis", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "gate.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(300, 7);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "gate.onnx", {}});
  std::vector<std::string> products;
  for (const Node& op : q.ops)
    if (op.op_type == "mul") products.push_back(op.name);
  CHECK(products == std::vector<std::string>{"/se/Mul", "/square/Mul"});
  CHECK(std::none_of(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.name == "/square/Relu"; }));

  // Every element against the real product of its operands' real values: within half an output LSB
  // (and the stored multiplier's 2^-30 relative error), or clamped by the fused ReLU / the format.
  RunTrace trace;
  DirectEngine(q).run(random_inputs(50, 8), &trace);
  for (const Node& op : q.ops) {
    if (op.op_type != "mul") continue;
    INFO(op.name);
    const QuantParams &qa = q.values.at(op.inputs[0]).quant, &qb = q.values.at(op.inputs[1]).quant,
                      &qy = q.values.at(op.outputs[0]).quant;
    const CodeTensor &a = trace.values.at(op.inputs[0]), &b = trace.values.at(op.inputs[1]),
                     &y = trace.values.at(op.outputs[0]);
    REQUIRE(y.shape == a.shape);
    const int64_t inner = a.shape.back(), b_inner = b.shape.back();
    int64_t off = 0, clamped = 0;
    for (size_t i = 0; i < y.data.size(); ++i) {
      const size_t j = b_inner == inner ? i : i / static_cast<size_t>(inner);  // the gate: one per row
      const double product = qa.scale * static_cast<double>(a.data[i] - qa.zero_point) * qb.scale *
                             static_cast<double>(b.data[j] - qb.zero_point);
      const double got = qy.scale * static_cast<double>(y.data[i] - qy.zero_point);
      const int64_t lo = op.get_int("clamp_lo"), hi = op.get_int("clamp_hi");
      if (y.data[i] == lo || y.data[i] == hi) {
        const double lo_real = qy.scale * static_cast<double>(lo - qy.zero_point),
                     hi_real = qy.scale * static_cast<double>(hi - qy.zero_point);
        clamped += product <= lo_real + 0.5 * qy.scale || product >= hi_real - 0.5 * qy.scale ? 1 : 0;
        off += product > lo_real + 0.5 * qy.scale && product < hi_real - 0.5 * qy.scale ? 1 : 0;
        continue;
      }
      off += std::fabs(got - product) > 0.5 * qy.scale * (1 + 1e-6) + std::fabs(product) * 0x1p-30;
    }
    CHECK(off == 0);
    CHECK(clamped < static_cast<int64_t>(y.data.size()));
  }
  // The difference: within half an output LSB of the real difference of its operands' values, plus each
  // operand's own rounding in the Add (R(a·S_a) − R(b·S_b): at most one LSB in all).
  {
    const Node& sub = *std::find_if(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.name == "/diff/Sub"; });
    CHECK(sub.op_type == "add");
    CHECK(sub.get_int("subtract") == 1);
    const QuantParams &qa = q.values.at(sub.inputs[0]).quant, &qb = q.values.at(sub.inputs[1]).quant,
                      &qy = q.values.at(sub.outputs[0]).quant;
    const CodeTensor &a = trace.values.at(sub.inputs[0]), &b = trace.values.at(sub.inputs[1]),
                     &y = trace.values.at(sub.outputs[0]);
    int64_t off = 0;
    for (size_t i = 0; i < y.data.size(); ++i) {
      const double diff = qa.scale * static_cast<double>(a.data[i] - qa.zero_point) -
                          qb.scale * static_cast<double>(b.data[i] - qb.zero_point);
      const bool at_end = y.data[i] == qy.format.min() || y.data[i] == qy.format.max();
      off += !at_end &&
             std::fabs(qy.scale * static_cast<double>(y.data[i] - qy.zero_point) - diff) > qy.scale * (1 + 1e-6);
    }
    CHECK(off == 0);
  }
  // The QDQ export writes both as Mul and re-imports as the same ops.
  const Graph exported = import_onnx_bytes(export_qdq_onnx(q), "gate_qdq.onnx");
  CHECK(std::count_if(exported.nodes.begin(), exported.nodes.end(), [](const Node& n) { return n.op_type == "Mul"; }) ==
        2);
  CHECK(std::count_if(exported.nodes.begin(), exported.nodes.end(), [](const Node& n) { return n.op_type == "Sub"; }) ==
        1);
}

TEST_CASE(
    "Lowering/per-channel constant Mul, Add, Sub, Div and a BatchNormalization after no Conv become depthwise 1x1 "
    "convolutions",
    "[quant][lowering]") {
  std::mt19937_64 rng(29);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "affine", {-1, 24}, 13);  // x: [N, 4, 6] → [N, C = 4, 2, 3]
  auto per_channel = [&](const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name), t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float f : v) t->add_float_data(f);
  };
  per_channel("scale", {4, 1, 1}, {0.5f, -1.5f, 2.0f, 0.25f});  // a layer scale, one negative
  per_channel("shift", {1, 4, 1, 1}, {0.1f, -0.2f, 0.3f, 1.0f});
  per_channel("mean", {4, 1, 1}, {0.0f, 0.5f, -0.5f, 0.2f});
  per_channel("divisor", {4, 1, 1}, {2.0f, 0.5f, 4.0f, 1.0f});
  per_channel("gamma", {4}, {1.0f, 0.8f, -1.2f, 2.0f});
  per_channel("beta", {4}, {0.0f, 0.1f, 0.2f, -0.3f});
  per_channel("bn_mean", {4}, {0.1f, -0.1f, 0.0f, 0.3f});
  per_channel("bn_var", {4}, {1.0f, 0.5f, 2.0f, 0.25f});
  add_ints(g, "nchw", {0, 4, 2, 3});
  add_node(g, "Reshape", "/to_nchw", {"x", "nchw"}, "x4");
  add_node(g, "Mul", "/scale/Mul", {"scale", "x4"}, "s1");  // constant first
  add_node(g, "Add", "/shift/Add", {"s1", "shift"}, "s2");
  add_node(g, "Sub", "/center/Sub", {"s2", "mean"}, "s3");
  add_node(g, "Div", "/norm/Div", {"s3", "divisor"}, "s4");
  add_node(g, "BatchNormalization", "/bn/BatchNormalization", {"s4", "gamma", "beta", "bn_mean", "bn_var"}, "s5");
  set_attr(add_node(g, "Flatten", "/flatten", {"s5"}, "y"), "axis", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "affine.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(300, 9);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "affine.onnx", {}});
  int64_t convs = 0;
  for (const Node& op : q.ops) {
    if (op.op_type != "conv_mac") continue;
    ++convs;
    CHECK(op.get_int("group") == 4);
  }
  CHECK(convs == 5);

  // Against the float model, per channel c, by the error each stage adds and the later stages scale: the
  // input's rounding (s_x/2) and per stage k its output rounding (s_k/2) and its bias code's rounding
  // (s_(k−1)·|w_k|/127 / 2: the one weight of a channel is ±127 at its own scale), each times the
  // product of |w_j| over the stages after it; elements at the output format's ends are saturated.
  const std::vector<std::string> stages = {"x", "s1", "s2", "s3", "s4", "s5"};
  const double eps = 1e-5;
  const std::vector<std::vector<double>> w = {{0.5, -1.5, 2.0, 0.25},
                                              {1, 1, 1, 1},
                                              {1, 1, 1, 1},
                                              {0.5, 2.0, 0.25, 1.0},
                                              {1.0 / std::sqrt(1.0 + eps), 0.8 / std::sqrt(0.5 + eps),
                                               -1.2 / std::sqrt(2.0 + eps), 2.0 / std::sqrt(0.25 + eps)}};
  std::vector<double> bound(4);
  for (size_t c = 0; c < 4; ++c) {
    double after = 1;  // product of |w_j| over the stages after k, walking backwards
    for (size_t k = 5; k >= 1; --k) {
      const double s_k = q.values.at(stages[k]).quant.scale, s_prev = q.values.at(stages[k - 1]).quant.scale;
      bound[c] += (0.5 * s_k + 0.5 * s_prev * std::fabs(w[k - 1][c]) / 127.0) * after;
      after *= std::fabs(w[k - 1][c]);
    }
    bound[c] += 0.5 * q.values.at("x").quant.scale * after;
  }
  const Tensor x = random_inputs(100, 10);
  const Tensor y = DirectEngine(q).run(x);
  const Tensor ref = FloatExecutor(graph).run({{"x", x}}).at("y");
  REQUIRE(y.shape == ref.shape);
  const QuantParams& out = q.values.at("y").quant;
  const double y_lo = out.scale * static_cast<double>(out.format.min() - out.zero_point),
               y_hi = out.scale * static_cast<double>(out.format.max() - out.zero_point);
  const QuantParams& in = q.values.at("x").quant;
  const double x_lo = in.scale * static_cast<double>(in.format.min() - in.zero_point),
               x_hi = in.scale * static_cast<double>(in.format.max() - in.zero_point);
  int64_t checked = 0, over = 0;
  for (size_t i = 0; i < y.floats.size(); ++i) {
    const size_t c = (i % 24) / 6;  // [N, 4, 2, 3] flattened
    if (x.floats[i] < x_lo || x.floats[i] > x_hi || y.floats[i] <= y_lo || y.floats[i] >= y_hi) continue;
    ++checked;
    over += std::fabs(static_cast<double>(y.floats[i]) - ref.floats[i]) > bound[c] * (1 + 1e-4) + 1e-6;
  }
  CHECK(checked > 2000);
  CHECK(over == 0);
}

TEST_CASE(
    "Lowering/a squeeze-excitation block: ReduceMean over H and W as a pool, 1x1 convs, HardSigmoid, the gated product",
    "[quant][lowering]") {
  for (const bool keepdims : {true, false}) {
    INFO("keepdims " << keepdims);
    std::mt19937_64 rng(31);
    onnx::ModelProto m;
    onnx::GraphProto* g = start_model(m, "se", {-1, keepdims ? 24 : 4}, 13);
    add_ints(g, "nchw", {0, 4, 2, 3});
    add_node(g, "Reshape", "/to_nchw", {"x", "nchw"}, "x4");
    onnx::NodeProto* mean = add_node(g, "ReduceMean", "/se/ReduceMean", {"x4"}, keepdims ? "pooled" : "y");
    set_attr(mean, "axes", {2, 3});
    set_attr(mean, "keepdims", {keepdims ? 1 : 0}, true);
    if (keepdims) {
      add_float(g, "w1", {2, 4, 1, 1}, rng);
      add_float(g, "b1", {2}, rng);
      add_float(g, "w2", {4, 2, 1, 1}, rng);
      add_float(g, "b2", {4}, rng);
      add_node(g, "Conv", "/se/fc1", {"pooled", "w1", "b1"}, "f1");
      add_node(g, "Relu", "/se/relu", {"f1"}, "f1r");
      add_node(g, "Conv", "/se/fc2", {"f1r", "w2", "b2"}, "f2");
      add_node(g, "HardSigmoid", "/se/gate", {"f2"}, "gate");
      add_node(g, "Mul", "/se/Mul", {"x4", "gate"}, "se");
      set_attr(add_node(g, "Flatten", "/flatten", {"se"}, "y"), "axis", {1}, true);
    }
    std::string bytes;
    m.SerializeToString(&bytes);
    const Graph graph = import_onnx_bytes(bytes, "se.onnx");
    const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
    const Tensor calibration = random_inputs(300, 11);
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "se.onnx", {}});
    const auto pool =
        std::find_if(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.op_type == "window_sum"; });
    REQUIRE(pool != q.ops.end());
    // The mean of every (image, channel) against the mean of its input's real values: within half an
    // output LSB (plus the multiplier's 2^-30) where not saturated.
    RunTrace trace;
    const Tensor x = random_inputs(40, 12);
    const Tensor y = DirectEngine(q).run(x, &trace);
    const std::string pooled_name = keepdims ? "pooled" : "y";
    const QuantParams &qx = q.values.at("x4").quant, &qp = q.values.at(pooled_name).quant;
    const CodeTensor &codes = trace.values.at("x4"), &means = trace.values.at(pooled_name);
    REQUIRE(means.data.size() == 40 * 4);
    int64_t off = 0;
    for (size_t k = 0; k < means.data.size(); ++k) {
      double sum = 0;
      for (size_t j = 0; j < 6; ++j) sum += qx.scale * static_cast<double>(codes.data[k * 6 + j] - qx.zero_point);
      const bool at_end = means.data[k] == qp.format.min() || means.data[k] == qp.format.max();
      off += !at_end && std::fabs(qp.scale * static_cast<double>(means.data[k] - qp.zero_point) - sum / 6) >
                            0.5 * qp.scale * (1 + 1e-6);
    }
    CHECK(off == 0);
    if (keepdims) {
      CHECK(std::count_if(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.op_type == "mul"; }) == 1);
      const Tensor ref = FloatExecutor(graph).run({{"x", x}}).at("y");
      double worst = 0;
      for (size_t i = 0; i < y.floats.size(); ++i)
        worst =
            std::max(worst, std::fabs(static_cast<double>(y.floats[i]) - ref.floats[i]) / q.values.at("y").quant.scale);
      INFO("worst |integer − float| = " << worst << " output LSB");
      CHECK(worst <= 4.0);  // a sanity bound: each product and table is checked exactly in its own test
    }
  }
}

TEST_CASE("Lowering/MaxPool with ceil_mode: ONNX's output size, each code the largest of its window",
          "[quant][lowering]") {
  for (const bool padded : {false, true}) {
    INFO("padded " << padded);
    onnx::ModelProto m;
    // [N, 1, 4, 6], kernel 3, stride 2: ceil_mode gives 2 × 3 outputs (floor: 1 × 2); with pads of 1,
    // 3 × 4 (floor: 2 × 3).
    const int64_t oh = padded ? 3 : 2, ow = padded ? 4 : 3;
    onnx::GraphProto* g = start_model(m, "pool", {-1, oh * ow}, 13);
    add_ints(g, "n1hw", {0, 1, 4, 6});
    add_node(g, "Reshape", "/to_nchw", {"x", "n1hw"}, "x4");
    onnx::NodeProto* pool = add_node(g, "MaxPool", "/pool", {"x4"}, "p");
    set_attr(pool, "kernel_shape", {3, 3});
    set_attr(pool, "strides", {2, 2});
    set_attr(pool, "ceil_mode", {1}, true);
    if (padded) set_attr(pool, "pads", {1, 1, 1, 1});
    set_attr(add_node(g, "Flatten", "/flatten", {"p"}, "y"), "axis", {1}, true);
    std::string bytes;
    m.SerializeToString(&bytes);
    const Graph graph = import_onnx_bytes(bytes, "pool.onnx");
    const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
    const Tensor calibration = random_inputs(200, 13);
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "pool.onnx", {}});
    const Tensor x = random_inputs(50, 14);
    RunTrace trace;
    const Tensor y = DirectEngine(q).run(x, &trace);
    const Tensor ref = FloatExecutor(graph).run({{"x", x}}).at("y");
    REQUIRE(y.shape == ref.shape);
    REQUIRE(y.shape == Shape{50, oh * ow});
    // Each output code is the largest input code of its window (windows written out here).
    const CodeTensor &in = trace.values.at("x4"), &out = trace.values.at("p");
    const int64_t pad = padded ? 1 : 0;
    int64_t wrong = 0;
    for (int64_t n = 0; n < 50; ++n)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int32_t best = std::numeric_limits<int32_t>::min();
          for (int64_t ky = 0; ky < 3; ++ky)
            for (int64_t kx = 0; kx < 3; ++kx) {
              const int64_t iy = oy * 2 - pad + ky, ix = ox * 2 - pad + kx;
              if (iy >= 0 && iy < 4 && ix >= 0 && ix < 6) best = std::max(best, in.data[(n * 4 + iy) * 6 + ix]);
            }
          wrong += out.data[(n * oh + oy) * ow + ox] != best;
        }
    CHECK(wrong == 0);
    // And the real max within half an LSB where the input lies in the format's range.
    const QuantParams& qx = q.values.at("x4").quant;
    double worst = 0;
    for (size_t i = 0; i < y.floats.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(y.floats[i]) - ref.floats[i]) / qx.scale);
    CHECK(worst <= 0.5 + 1e-6);
  }
}

TEST_CASE("Lowering/the survey (inspect --lowering) goes on past a node that does not lower and names it downstream",
          "[quant][lowering]") {
  std::mt19937_64 rng(43);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "survey", {-1, 24}, 13);
  add_float(g, "w1", {6, 6}, rng);
  add_float(g, "b1", {6}, rng);
  add_float(g, "w2", {6, 6}, rng);
  add_node(g, "MatMul", "/fc1/MatMul", {"x", "w1"}, "h0");
  add_node(g, "Add", "/fc1/Add", {"h0", "b1"}, "h1");
  add_node(g, "Relu", "/fc1/Relu", {"h1"}, "h2");
  add_node(g, "Erf", "/erf", {"h2"}, "h3");  // no integer lowering (only inside a GELU)
  add_node(g, "MatMul", "/fc2/MatMul", {"h3", "w2"}, "h4");
  set_attr(add_node(g, "Flatten", "/flatten", {"h4"}, "y"), "axis", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "survey.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(50, 15);
  CHECK_THROWS_WITH(
      quantize(QuantizeInputs{&graph, &config, &calibration, "survey.onnx", {}}),
      Catch::Contains("node '/erf' (Erf): cannot be lowered to integer ops: no integer lowering for Erf"));
  const std::vector<LoweringOutcome> rows =
      survey_lowering(QuantizeInputs{&graph, &config, &calibration, "survey.onnx", {}});
  std::map<std::string, const LoweringOutcome*> by_name;
  for (const LoweringOutcome& r : rows) by_name[r.node] = &r;
  REQUIRE(rows.size() == 6);
  CHECK(by_name.at("/fc1/MatMul")->int_ops == std::vector<std::string>{"linear_mac", "mulshift"});
  CHECK(by_name.at("/fc1/Add")->fused_into == "/fc1/MatMul");  // the bias
  CHECK(by_name.at("/fc1/Relu")->fused_into == "/fc1/MatMul");
  CHECK(by_name.at("/erf")->refused.rfind("no integer lowering for Erf yet (lowered: ", 0) == 0);
  CHECK(by_name.at("/fc2/MatMul")->refused == "it reads what '/erf' computes, which does not lower");
  CHECK(by_name.at("/flatten")->refused == "it reads what '/erf' computes, which does not lower");
}

TEST_CASE("Lowering/ReduceSum over H and W (axes as an input, opset 13) is the pool's mean times H·W",
          "[quant][lowering]") {
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "sum", {-1, 4}, 13);
  add_ints(g, "nchw", {0, 4, 2, 3});
  add_ints(g, "axes", {-2, -1});
  add_node(g, "Reshape", "/to_nchw", {"x", "nchw"}, "x4");
  set_attr(add_node(g, "ReduceSum", "/sum", {"x4", "axes"}, "y"), "keepdims", {0}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "sum.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(300, 21);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "sum.onnx", {}});
  CHECK(std::count_if(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.op_type == "window_sum"; }) == 1);
  // Each sum against the sum of its input's real values: within half an output LSB where not saturated
  // (the mean's half LSB, times the 6 elements its scale took over).
  RunTrace trace;
  const Tensor x = random_inputs(40, 22);
  DirectEngine(q).run(x, &trace);
  const QuantParams &qx = q.values.at("x4").quant, &qy = q.values.at("y").quant;
  const CodeTensor &codes = trace.values.at("x4"), &sums = trace.values.at("y");
  REQUIRE(sums.data.size() == 40 * 4);
  int64_t off = 0, saturated = 0;
  for (size_t k = 0; k < sums.data.size(); ++k) {
    double sum = 0;
    for (size_t j = 0; j < 6; ++j) sum += qx.scale * static_cast<double>(codes.data[k * 6 + j] - qx.zero_point);
    const bool at_end = sums.data[k] == qy.format.min() || sums.data[k] == qy.format.max();
    saturated += at_end;
    off += !at_end &&
           std::fabs(qy.scale * static_cast<double>(sums.data[k] - qy.zero_point) - sum) > 0.5 * qy.scale * (1 + 1e-6);
  }
  CHECK(off == 0);
  CHECK(saturated < 8);
  // The float executor's ReduceSum (its ONNX backend tests pass) against the mean times 6 it became.
  const Tensor ref = FloatExecutor(graph).run({{"x", x}}).at("y");
  const Tensor pooled = FloatExecutor(prepare_for_quantization(graph)).run({{"x", x}}).at("y");
  REQUIRE(ref.shape == pooled.shape);
  for (size_t i = 0; i < ref.floats.size(); ++i)
    CHECK(std::fabs(ref.floats[i] - pooled.floats[i]) <= 1e-5f * (1 + std::fabs(ref.floats[i])));
}

TEST_CASE("Lowering/Split (sizes as an input, and equal parts) moves codes: each part is its slice of the input",
          "[quant][lowering]") {
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "split", {-1, 4, 6}, 13);
  add_ints(g, "sizes", {2, 4});
  onnx::NodeProto* by_sizes = add_node(g, "Split", "/split_w", {"x", "sizes"}, "left");
  by_sizes->add_output("right");
  set_attr(by_sizes, "axis", {2}, true);
  onnx::NodeProto* halves = add_node(g, "Split", "/split_c", {"right"}, "top");
  halves->add_output("bottom");
  set_attr(halves, "axis", {1}, true);
  set_attr(add_node(g, "Concat", "/swap_c", {"bottom", "top"}, "swapped"), "axis", {1}, true);
  set_attr(add_node(g, "Concat", "/swap_w", {"swapped", "left"}, "y"), "axis", {2}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "split.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(100, 31);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "split.onnx", {}});
  CHECK(std::count_if(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.op_type == "slice"; }) == 4);
  // y[n, c, w] = x[n, (c + 2) mod 4, w + 2] for w < 4, x[n, c, w − 4] after: codes and floats alike.
  auto source = [](int64_t n, int64_t c, int64_t w) {
    return w < 4 ? (n * 4 + (c + 2) % 4) * 6 + w + 2 : (n * 4 + c) * 6 + (w - 4);
  };
  const Tensor x = random_inputs(5, 32);
  RunTrace trace;
  DirectEngine(q).run(x, &trace);
  const Tensor ref = FloatExecutor(graph).run({{"x", x}}).at("y");
  const CodeTensor &xc = trace.values.at("x"), &yc = trace.values.at("y");
  REQUIRE(yc.data.size() == 5 * 24);
  for (int64_t n = 0; n < 5; ++n)
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t w = 0; w < 6; ++w) {
        const int64_t at = (n * 4 + c) * 6 + w;
        CHECK(yc.data[at] == xc.data[source(n, c, w)]);
        CHECK(ref.floats[at] == x.floats[source(n, c, w)]);
      }
  // Sizes that do not add up to the axis: import's shape inference says so, and so does the executor
  // for a node run alone.
  onnx::ModelProto bad_model = m;
  bad_model.mutable_graph()->mutable_initializer(0)->set_int64_data(1, 5);
  std::string bad_bytes;
  bad_model.SerializeToString(&bad_bytes);
  CHECK_THROWS_WITH(import_onnx_bytes(bad_bytes, "bad_split.onnx"),
                    Catch::Contains("bad_split.onnx") && Catch::Contains("sum of 'split' (7)"));
  const Tensor bad_sizes = Tensor::of_ints(DType::int64, {2}, {2, 5});
  CHECK_THROWS_WITH(run_node(graph.nodes.at(0), 13, {&x, &bad_sizes}),
                    Catch::Contains("split sizes [2,5] do not divide an axis of 6 into 2 parts"));
}

TEST_CASE("Lowering/Pad in constant, edge and reflect modes: every code as the float executor pads the codes",
          "[quant][lowering]") {
  // Oracle: the float executor's Pad (every ONNX backend Pad test passes) on the integer path's input
  // codes; the constant mode's value as its code in the input's quantization.
  for (const std::string mode : {"constant", "edge", "reflect"}) {
    INFO(mode);
    onnx::ModelProto m;
    onnx::GraphProto* g = start_model(m, "pad", {-1, 4, 5, 6}, 13);
    add_ints(g, "nchw", {0, 4, 2, 3});
    add_ints(g, "pads", {0, 0, 1, 2, 0, 0, 2, 1});
    onnx::TensorProto* value = g->add_initializer();
    value->set_name("value"), value->set_data_type(onnx::TensorProto::FLOAT);
    value->add_float_data(0.75f);
    add_node(g, "Reshape", "/to_nchw", {"x", "nchw"}, "x4");
    onnx::NodeProto* pad = add_node(g, "Pad", "/pad", {"x4", "pads"}, "y");
    if (mode == "constant") pad->add_input("value");
    auto* a = pad->add_attribute();
    a->set_name("mode"), a->set_type(onnx::AttributeProto::STRING), a->set_s(mode);
    std::string bytes;
    m.SerializeToString(&bytes);
    const Graph graph = import_onnx_bytes(bytes, "pad.onnx");
    const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
    const Tensor calibration = random_inputs(100, 41);
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "pad.onnx", {}});
    REQUIRE(std::count_if(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.op_type == "pad"; }) == 1);
    RunTrace trace;
    DirectEngine(q).run(random_inputs(3, 42), &trace);
    const CodeTensor &xc = trace.values.at("x4"), &yc = trace.values.at("y");
    const QuantParams& qx = q.values.at("x4").quant;
    CHECK(q.values.at("y").quant.scale == qx.scale);
    Tensor codes = Tensor::zeros(DType::float32, xc.shape);
    for (size_t i = 0; i < xc.data.size(); ++i) codes.floats[i] = static_cast<float>(xc.data[i]);
    const Tensor pads = Tensor::of_ints(DType::int64, {8}, {0, 0, 1, 2, 0, 0, 2, 1});
    const Tensor fill = Tensor::of_floats({}, {static_cast<float>(code_of(0.75, qx))});
    const Node& float_pad = graph.nodes.back();
    std::vector<const Tensor*> inputs = {&codes, &pads};
    if (mode == "constant") inputs.push_back(&fill);
    const Tensor expected = run_node(float_pad, 13, inputs).at(0);
    REQUIRE(expected.shape == yc.shape);
    REQUIRE(yc.shape == Shape{3, 4, 5, 6});
    for (size_t i = 0; i < yc.data.size(); ++i) CHECK(yc.data[i] == static_cast<int32_t>(expected.floats[i]));
  }
}

TEST_CASE("Lowering/AveragePool with or without the pads counted, with ceil_mode: each mean within half an LSB",
          "[quant][lowering]") {
  // [N, 1, 4, 6], kernel 3, stride 2, pads 1: floor gives 2 × 3 windows, ceil_mode 3 × 4 (the last ones hang
  // past the padding). ONNX divides each window by its taps on the input, plus with count_include_pad those
  // on the explicit padding, never those past it.
  for (const int64_t count_pads : {1, 0})
    for (const int64_t ceil_mode : {0, 1}) {
      INFO("count_include_pad " << count_pads << ", ceil_mode " << ceil_mode);
      onnx::ModelProto m;
      const int64_t oh = ceil_mode ? 3 : 2, ow = ceil_mode ? 4 : 3;
      onnx::GraphProto* g = start_model(m, "avg", {-1, 1, oh, ow}, 13);
      add_ints(g, "nchw", {0, 1, 4, 6});
      add_node(g, "Reshape", "/to_nchw", {"x", "nchw"}, "x4");
      onnx::NodeProto* pool = add_node(g, "AveragePool", "/avg", {"x4"}, "y");
      set_attr(pool, "kernel_shape", {3, 3});
      set_attr(pool, "strides", {2, 2});
      set_attr(pool, "pads", {1, 1, 1, 1});
      set_attr(pool, "count_include_pad", {count_pads}, true);
      set_attr(pool, "ceil_mode", {ceil_mode}, true);
      std::string bytes;
      m.SerializeToString(&bytes);
      const Graph graph = import_onnx_bytes(bytes, "avg.onnx");
      const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
      const Tensor calibration = random_inputs(100, 51);
      const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "avg.onnx", {}});
      RunTrace trace;
      DirectEngine(q).run(random_inputs(12, 52), &trace);
      const QuantParams &qx = q.values.at("x4").quant, &qy = q.values.at("y").quant;
      const CodeTensor &xc = trace.values.at("x4"), &yc = trace.values.at("y");
      REQUIRE(yc.shape == Shape{12, 1, oh, ow});
      int64_t off = 0, checked = 0;
      for (int64_t n = 0; n < 12; ++n)
        for (int64_t r = 0; r < oh; ++r)
          for (int64_t c = 0; c < ow; ++c) {
            double sum = 0;  // the pads are real zeros
            int64_t count = 0;
            for (int64_t iy = 2 * r - 1; iy <= 2 * r + 1; ++iy)
              for (int64_t ix = 2 * c - 1; ix <= 2 * c + 1; ++ix) {
                const bool inside = iy >= 0 && iy < 4 && ix >= 0 && ix < 6;
                if (inside) sum += qx.scale * static_cast<double>(xc.data[(n * 4 + iy) * 6 + ix] - qx.zero_point);
                count += count_pads ? (iy >= -1 && iy < 5 && ix >= -1 && ix < 7) : inside;
              }
            const int32_t code = yc.data[(n * oh + r) * ow + c];
            if (code == qy.format.min() || code == qy.format.max()) continue;
            ++checked;
            off += std::fabs(qy.scale * static_cast<double>(code - qy.zero_point) - sum / static_cast<double>(count)) >
                   0.5 * qy.scale * (1 + 1e-6);
          }
      CHECK(checked > 50);
      CHECK(off == 0);
      // The QDQ export writes the model's pads and modes back: ONNX's AveragePool on the exported graph gives the
      // same codes but next to a tie (one rounding of the exact mean against the mulshift's).
      const Graph exported = import_onnx_bytes(export_qdq_onnx(q), "avg_qdq.onnx");
      const Tensor want = FloatExecutor(exported).run({{"x", random_inputs(12, 52)}}).at("y");
      const Tensor got = DirectEngine(q).run(random_inputs(12, 52));
      REQUIRE(got.shape == want.shape);
      int64_t exact = 0, far = 0;
      for (size_t e = 0; e < got.floats.size(); ++e) {
        exact += got.floats[e] == want.floats[e];
        far += std::fabs(got.floats[e] - want.floats[e]) > 1.0001 * qy.scale;
      }
      CHECK(far == 0);
      CHECK(exact >= static_cast<int64_t>(got.floats.size()) - 2);
    }
}

TEST_CASE("Lowering/a division by an activation becomes its reciprocal's table times the dividend",
          "[quant][lowering]") {
  // y = x / (Sigmoid(x) + 0.5): the divisor is computed at run time, in (0.5, 1.5).
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "div", {-1, 24}, 13);
  onnx::TensorProto* half = g->add_initializer();
  half->set_name("half"), half->set_data_type(onnx::TensorProto::FLOAT);
  half->add_float_data(0.5f);
  add_node(g, "Sigmoid", "/gate", {"x"}, "s");
  add_node(g, "Add", "/offset", {"s", "half"}, "d");
  add_node(g, "Div", "/div", {"x", "d"}, "quotient");
  set_attr(add_node(g, "Flatten", "/flatten", {"quotient"}, "y"), "axis", {1}, true);  // the check's logits
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "div.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(300, 61);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "div.onnx", {}});
  std::vector<std::string> types;
  for (const Node& op : q.ops) types.push_back(op.op_type);
  CHECK(std::count(types.begin(), types.end(), "mul") == 1);
  CHECK(std::count(types.begin(), types.end(), "lut") == 2);  // the Sigmoid and the reciprocal
  // Each layer within 1 LSB of its fake-quant computation, and the result near the float model's.
  const Tensor x = random_inputs(50, 62);
  const DualPathReport report = compare_paths(graph, q, LabelledImages{x, std::vector<int64_t>(50, 0)}, 50);
  for (const LayerComparison& l : report.layers) {
    INFO(l.value << ": max " << l.max_abs_lsb << " LSB");
    CHECK(l.max_abs_lsb <= 1);
  }
  const Tensor y = DirectEngine(q).run(x), ref = FloatExecutor(graph).run({{"x", x}}).at("y");
  double worst = 0;
  for (size_t i = 0; i < y.floats.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(y.floats[i]) - ref.floats[i]) / q.values.at("y").quant.scale);
  INFO("worst |integer − float| = " << worst << " output LSB");
  CHECK(worst <= 4.0);  // a sanity bound: the table and the product are each checked exactly in their tests
}

TEST_CASE("Lowering/Softmax over a middle axis (opset 13) and flattened from axis 1 (opset 11): within §9's bound",
          "[quant][lowering][softmax]") {
  for (const int opset : {13, 11}) {
    INFO("opset " << opset);
    onnx::ModelProto m;
    onnx::GraphProto* g = start_model(m, "softmax_axis", {-1, 4, 6}, opset);
    onnx::NodeProto* sm = add_node(g, "Softmax", "/softmax", {"x"}, "y");
    if (opset >= 13) set_attr(sm, "axis", {1}, true);  // opset 11: the default axis 1 flattens [4, 6] into rows of 24
    std::string bytes;
    m.SerializeToString(&bytes);
    const Graph graph = import_onnx_bytes(bytes, "softmax_axis.onnx");
    const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8, signed: true}\n", "s8.yaml");
    const Tensor calibration = random_inputs(100, 5);
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "softmax_axis.onnx", {}});
    RunTrace trace;
    const Tensor x = random_inputs(50, 6);
    DirectEngine(q).run(x, &trace);
    const CodeTensor &s = trace.values.at("x"), &p = trace.values.at("y");
    REQUIRE(p.shape == Shape{50, 4, 6});
    const double s_x = q.values.at("x").quant.scale;
    // Each softmax's elements: along axis 1 (4 of them, stride 6), or all 24 of an image.
    const int64_t n = opset >= 13 ? 4 : 24, stride = opset >= 13 ? 6 : 1;
    const double bound = 0.5 / 256 + static_cast<double>(1 + n) / std::ldexp(1.0, 16);
    int64_t over = 0, rows = 0;
    for (int64_t image = 0; image < 50; ++image)
      for (int64_t start = 0; start < (opset >= 13 ? 6 : 1); ++start, ++rows) {
        const int64_t base = image * 24 + start;
        double denominator = 0;
        for (int64_t i = 0; i < n; ++i) denominator += std::exp(s_x * s.data[base + i * stride]);
        for (int64_t i = 0; i < n; ++i) {
          const double exact = std::exp(s_x * s.data[base + i * stride]) / denominator;
          if (exact * 256 > 255.5) continue;
          over += std::fabs(p.data[base + i * stride] / 256.0 - exact) > bound;
        }
      }
    CHECK(rows == (opset >= 13 ? 300 : 50));
    CHECK(over == 0);
  }
}

TEST_CASE(
    "Lowering/Resize nearest (scales or sizes, several coordinate and nearest modes) moves codes as ONNX picks them",
    "[quant][lowering]") {
  struct Case {
    std::string coordinates, nearest;
    std::vector<float> scales;
    std::vector<int64_t> sizes;
  };
  const std::vector<Case> cases = {
      {"asymmetric", "floor", {1.0f, 2.0f, 1.5f}, {}},                // torch's F.interpolate(mode='nearest')
      {"half_pixel", "round_prefer_floor", {1.0f, 0.75f, 2.5f}, {}},  // ONNX's defaults, down and up
      {"align_corners", "round_prefer_ceil", {}, {-1, 7, 4}},         // sizes (the batch as given)
      {"pytorch_half_pixel", "ceil", {1.0f, 1.0f, 3.0f}, {}},
  };
  for (const Case& c : cases) {
    INFO(c.coordinates << " / " << c.nearest);
    onnx::ModelProto m;
    onnx::GraphProto* g = start_model(m, "resize", {-1, -1, -1}, 13);
    onnx::TensorProto* scales = g->add_initializer();
    scales->set_name("scales"), scales->set_data_type(onnx::TensorProto::FLOAT);
    if (!c.scales.empty()) scales->add_dims(3);
    for (float v : c.scales) scales->add_float_data(v);
    if (c.scales.empty()) scales->add_dims(0);
    std::vector<std::string> ins = {"x", "", "scales"};
    if (!c.sizes.empty()) {
      std::vector<int64_t> sizes = c.sizes;
      sizes[0] = 1;  // the model's batch of 1; the test runs it image by image (a fixed batch)
      add_ints(g, "sizes", sizes);
      ins = {"x", "", "", "sizes"};
    }
    onnx::NodeProto* r = add_node(g, "Resize", "/resize", ins, "y");
    auto* a = r->add_attribute();
    a->set_name("coordinate_transformation_mode"), a->set_type(onnx::AttributeProto::STRING), a->set_s(c.coordinates);
    auto* b = r->add_attribute();
    b->set_name("nearest_mode"), b->set_type(onnx::AttributeProto::STRING), b->set_s(c.nearest);
    std::string bytes;
    m.SerializeToString(&bytes);
    const Graph graph = import_onnx_bytes(bytes, "resize.onnx");
    const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
    const Tensor calibration = random_inputs(c.sizes.empty() ? 50 : 1, 1);
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "resize.onnx", {}});
    const Tensor x = random_inputs(c.sizes.empty() ? 20 : 1, 2);
    RunTrace trace;
    DirectEngine(q).run(x, &trace);
    // The oracle: the float executor's Resize (checked by ONNX's node tests) on the input codes as floats.
    const CodeTensor& codes = trace.values.at("x");
    Tensor as_floats = Tensor::zeros(DType::float32, codes.shape);
    for (size_t i = 0; i < codes.data.size(); ++i) as_floats.floats[i] = static_cast<float>(codes.data[i]);
    const Tensor want = FloatExecutor(graph).run({{"x", as_floats}}).at("y");
    const CodeTensor& got = trace.values.at("y");
    REQUIRE(got.shape == want.shape);
    int64_t differing = 0;
    for (size_t i = 0; i < got.data.size(); ++i) differing += got.data[i] != static_cast<int32_t>(want.floats[i]);
    CHECK(differing == 0);
  }
}

TEST_CASE("Lowering/Resize linear (coordinate modes, scales or sizes): each value within half an LSB of the blend",
          "[quant][lowering]") {
  struct Case {
    std::string coordinates;
    std::vector<float> scales;
    std::vector<int64_t> sizes;
  };
  const std::vector<Case> cases = {
      {"half_pixel", {1.0f, 2.0f, 1.5f}, {}},  // torch's F.interpolate(mode='bilinear', align_corners=False)
      {"pytorch_half_pixel", {1.0f, 0.75f, 2.5f}, {}},
      {"align_corners", {}, {1, 7, 4}},  // torch's align_corners=True; sizes
      {"asymmetric", {1.0f, 1.0f, 3.0f}, {}},
  };
  for (const Case& c : cases) {
    INFO(c.coordinates);
    onnx::ModelProto m;
    onnx::GraphProto* g = start_model(m, "resize", {-1, -1, -1}, 13);
    onnx::TensorProto* scales = g->add_initializer();
    scales->set_name("scales"), scales->set_data_type(onnx::TensorProto::FLOAT);
    scales->add_dims(static_cast<int64_t>(c.scales.size()));
    for (float v : c.scales) scales->add_float_data(v);
    std::vector<std::string> ins = {"x", "", "scales"};
    if (!c.sizes.empty()) {
      add_ints(g, "sizes", c.sizes);
      ins = {"x", "", "", "sizes"};
    }
    onnx::NodeProto* r = add_node(g, "Resize", "/resize", ins, "y");
    auto* mode = r->add_attribute();
    mode->set_name("mode"), mode->set_type(onnx::AttributeProto::STRING), mode->set_s("linear");
    auto* a = r->add_attribute();
    a->set_name("coordinate_transformation_mode"), a->set_type(onnx::AttributeProto::STRING), a->set_s(c.coordinates);
    std::string bytes;
    m.SerializeToString(&bytes);
    const Graph graph = import_onnx_bytes(bytes, "resize.onnx");
    const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
    const int64_t images = c.sizes.empty() ? 20 : 1;
    const Tensor calibration = random_inputs(c.sizes.empty() ? 50 : 1, 1);
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "resize.onnx", {}});
    const Node& op =
        *std::find_if(q.ops.begin(), q.ops.end(), [](const Node& o) { return o.op_type == "resize_linear"; });
    const int64_t fraction_bits = op.get_int("fraction_bits");
    const Tensor x = random_inputs(images, 2);
    RunTrace trace;
    DirectEngine(q).run(x, &trace);
    const QuantParams &qx = q.values.at("x").quant, &qy = q.values.at("y").quant;
    const CodeTensor &xc = trace.values.at("x"), &yc = trace.values.at("y");
    const int64_t oh = yc.shape.at(1), ow = yc.shape.at(2);
    // ONNX's linear Resize, written out here: each output coordinate mapped back by the coordinate mode,
    // clamped to the input, the two neighbours blended; rows, then columns.
    const auto source = [&](int64_t o, int64_t in, int64_t out, double scale) {
      double v = 0;
      if (c.coordinates == "align_corners")
        v = out == 1 ? 0.0 : static_cast<double>(o) * (in - 1) / (out - 1);
      else if (c.coordinates == "asymmetric")
        v = o / scale;
      else if (c.coordinates == "pytorch_half_pixel" && out == 1)
        v = 0;
      else
        v = (o + 0.5) / scale - 0.5;
      return std::clamp(v, 0.0, static_cast<double>(in - 1));
    };
    const double sh = c.scales.empty() ? static_cast<double>(oh) / 4 : c.scales[1],
                 sw = c.scales.empty() ? static_cast<double>(ow) / 6 : c.scales[2];
    double lo_real = 1e30, hi_real = -1e30;
    for (const int32_t v : xc.data) {
      lo_real = std::min(lo_real, qx.scale * (v - qx.zero_point));
      hi_real = std::max(hi_real, qx.scale * (v - qx.zero_point));
    }
    // Each weight rounded to F fraction bits moves a blend by at most 2^−(F+1) of the inputs' range per axis.
    const double tolerance =
        0.5 * qy.scale * (1 + 1e-6) + 2 * std::ldexp(0.5, -static_cast<int>(fraction_bits)) * (hi_real - lo_real);
    int64_t off = 0, checked = 0;
    for (int64_t n = 0; n < images; ++n)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          const double ry = source(i, 4, oh, sh), rx = source(j, 6, ow, sw);
          const int64_t y0 = static_cast<int64_t>(std::floor(ry)), x0 = static_cast<int64_t>(std::floor(rx));
          const int64_t y1 = std::min<int64_t>(y0 + 1, 3), x1 = std::min<int64_t>(x0 + 1, 5);
          const double fy = ry - y0, fx = rx - x0;
          const auto at = [&](int64_t yy, int64_t xx) {
            return qx.scale * (xc.data[(n * 4 + yy) * 6 + xx] - qx.zero_point);
          };
          const double want =
              (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
          const int32_t code = yc.data[(n * oh + i) * ow + j];
          if (code == qy.format.min() || code == qy.format.max()) continue;
          ++checked;
          off += std::fabs(qy.scale * (code - qy.zero_point) - want) > tolerance;
        }
    CHECK(checked > oh * ow * images / 2);
    CHECK(off == 0);
    // The QDQ export writes Resize linear back with the model's coordinate mode and scales or sizes.
    const Graph exported = import_onnx_bytes(export_qdq_onnx(q), "resize_qdq.onnx");
    const Tensor ref = FloatExecutor(exported).run({{"x", x}}).at("y");
    const Tensor got = DirectEngine(q).run(x);
    REQUIRE(got.shape == ref.shape);
    int64_t far = 0;
    for (size_t e = 0; e < got.floats.size(); ++e) far += std::fabs(got.floats[e] - ref.floats[e]) > 1.0001 * qy.scale;
    CHECK(far == 0);
  }
}

TEST_CASE("Lowering/PRelu with one slope per channel: one LeakyRelu table per channel, each code as its table gives",
          "[quant][lowering][lut]") {
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "prelu", {-1, 4, 6}, 13);
  onnx::TensorProto* slope = g->add_initializer();
  slope->set_name("slope"), slope->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {4, 1}) slope->add_dims(d);
  const std::vector<float> slopes = {0.25f, -0.5f, 0.0f, 1.5f};
  for (float v : slopes) slope->add_float_data(v);
  add_node(g, "PRelu", "/prelu", {"x", "slope"}, "y");
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "prelu.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8, signed: true}\n", "s8.yaml");
  const Tensor calibration = random_inputs(100, 5);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "prelu.onnx", {}});
  REQUIRE(q.constants.at("/prelu.table").shape.size() == 2);
  RunTrace trace;
  DirectEngine(q).run(random_inputs(40, 6), &trace);
  const CodeTensor &x = trace.values.at("x"), &y = trace.values.at("y");
  const QuantParams &in = q.values.at("x").quant, &out = q.values.at("y").quant;
  // Each output within half an output LSB of PRelu of its input's real value with the channel's slope
  // (one rounding of an exact table), or saturated at the output format's end.
  int64_t over = 0;
  for (size_t i = 0; i < x.data.size(); ++i) {
    const double real = in.scale * (x.data[i] - in.zero_point);
    const double want = real >= 0 ? real : slopes[(i / 6) % 4] * real;
    const double got = out.scale * (y.data[i] - out.zero_point);
    const bool saturated = y.data[i] == out.format.min() || y.data[i] == out.format.max();
    over += !saturated && std::fabs(got - want) > out.scale / 2 + 1e-12;
  }
  CHECK(over == 0);
  // Slopes over two axes are refused, naming the node.
  slope->clear_dims(), slope->clear_float_data();
  for (int64_t d : {4, 6}) slope->add_dims(d);
  for (int i = 0; i < 24; ++i) slope->add_float_data(0.1f * static_cast<float>(i));
  m.SerializeToString(&bytes);
  const Graph two_axes = import_onnx_bytes(bytes, "prelu2.onnx");
  CHECK_THROWS_WITH(quantize(QuantizeInputs{&two_axes, &config, &calibration, "prelu2.onnx", {}}),
                    Catch::Contains("node '/prelu' (PRelu)") && Catch::Contains("one per channel of a single"));
}

TEST_CASE("Lowering/ConvTranspose: the Conv over its zero-dilated input equals the op's definition, and lowers",
          "[quant][lowering]") {
  std::mt19937_64 rng(61);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "conv_transpose", {-1, 288}, 13);
  add_ints(g, "nchw", {0, 1, 4, 6});
  add_float(g, "w", {1, 3, 3, 3}, rng);
  add_float(g, "b", {3}, rng);
  add_node(g, "Reshape", "/to_nchw", {"x", "nchw"}, "x4");
  onnx::NodeProto* ct = add_node(g, "ConvTranspose", "/up", {"x4", "w", "b"}, "up");
  set_attr(add_node(g, "Flatten", "/flatten", {"up"}, "y"), "axis", {1}, true);  // logits for the dual path
  set_attr(ct, "strides", {2, 2});
  set_attr(ct, "pads", {1, 1, 1, 1});
  set_attr(ct, "output_padding", {1, 1});
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "conv_transpose.onnx");
  // The rewrite against the float executor's ConvTranspose (its definition as a scatter; ONNX's node tests).
  const Graph rewritten = prepare_for_quantization(graph);
  CHECK(std::none_of(rewritten.nodes.begin(), rewritten.nodes.end(),
                     [](const Node& n) { return n.op_type == "ConvTranspose"; }));
  const Tensor x = random_inputs(10, 2);
  const Tensor want = FloatExecutor(graph).run({{"x", x}}, true).at("up");
  const Tensor got = FloatExecutor(rewritten).run({{"x", x}}, true).at("up");
  REQUIRE(got.shape == want.shape);
  REQUIRE(want.shape == Shape{10, 3, 8, 12});
  double worst = 0;
  for (size_t i = 0; i < got.floats.size(); ++i)
    worst = std::max(worst, std::fabs(double{got.floats[i]} - want.floats[i]));
  CHECK(worst < 1e-5);
  // The integer network: every layer within 1 LSB of its fake-quant computation.
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(100, 5);
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "conv_transpose.onnx", {}});
  CHECK(std::any_of(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.op_type == "dilate"; }));
  const DualPathReport r = compare_paths(graph, q, LabelledImages{x, std::vector<int64_t>(10, 0)}, 10);
  REQUIRE(!r.layers.empty());
  for (const LayerComparison& l : r.layers) {
    INFO(l.value);
    CHECK(l.within_one == l.elements);
  }
}
