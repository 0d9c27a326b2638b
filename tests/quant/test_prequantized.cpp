// Pre-quantized models (quant/prequantized.hpp) and the QDQ export (ops/qdq_export.hpp), without ONNX
// Runtime (tests/ort/ has the ORT oracle):
// - IntGraph → QDQ → IntGraph keeps the network: same ops, same weight and bias codes, same formats and
//   zero points; scales become their float32 values (all that ONNX stores), multipliers follow them.
// - The same model written as QONNX (Quant nodes, built here from the QDQ model by hand) lowers to the
//   same IntGraph as the QDQ form: two independent encodings, one network.
// - What the pre-quantized path cannot take exactly is an error naming the node and the reason.

#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>

#include "model/executor.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "ops/qdq_export.hpp"
#include "quant/prequantized.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"

using namespace chipref;

namespace {
const char* kCnn = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";
Preprocess cnn_norm() { return *read_sidecar_preprocess(kCnn); }

const IntGraph& calibrated(const std::string& flavour) {
  static std::map<std::string, IntGraph> cache;
  if (!cache.count(flavour)) {
    const Graph graph = import_onnx(kCnn);
    const QuantConfig config =
        parse_quant_config("defaults:\n  requant: {flavour: " + flavour + "}\n", flavour + ".yaml");
    const Tensor calibration = load_fashion_mnist("train", 200, cnn_norm()).images;
    cache[flavour] = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", cnn_norm()});
  }
  return cache.at(flavour);
}

IntGraph lower_prequantized(const std::string& bytes, const std::string& flavour) {
  const Graph g = import_onnx_bytes(bytes, "prequantized.onnx");
  REQUIRE(is_prequantized(g));
  const QuantConfig config =
      parse_quant_config("defaults:\n  requant: {flavour: " + flavour + "}\n", flavour + ".yaml");
  return quantize(QuantizeInputs{&g, &config, nullptr, "prequantized.onnx", cnn_norm()});
}

std::string lowering_error(const onnx::ModelProto& m) {
  std::string bytes;
  m.SerializeToString(&bytes);
  try {
    lower_prequantized(bytes, "single");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

// On how many of the first 300 test images two networks of the CNN pick the same class.
int64_t same_top1_on_300_images(const IntGraph& a, const IntGraph& b) {
  const LabelledImages data = load_fashion_mnist("t10k", 300, cnn_norm());
  const Tensor ya = DirectEngine(a).run(data.images), yb = DirectEngine(b).run(data.images);
  int64_t same = 0;
  for (int64_t i = 0; i < 300; ++i)
    same += std::max_element(ya.floats.begin() + i * 10, ya.floats.begin() + i * 10 + 10) - ya.floats.begin() ==
            std::max_element(yb.floats.begin() + i * 10, yb.floats.begin() + i * 10 + 10) - yb.floats.begin();
  return same;
}

onnx::ModelProto exported_model() {
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(export_qdq_onnx(calibrated("single"))));
  return m;
}

onnx::TensorProto* find_initializer(onnx::ModelProto& m, const std::string& name) {
  for (auto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == name) return &t;
  FAIL("no initializer " << name);
  return nullptr;
}

onnx::NodeProto* find_node(onnx::ModelProto& m, const std::string& name) {
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.name() == name) return &n;
  FAIL("no node " << name);
  return nullptr;
}

template <class T>
std::vector<T> values_of(const onnx::TensorProto& t) {
  std::vector<T> v(t.raw_data().size() / sizeof(T));
  std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  return v;
}
template <class T>
void set_values(onnx::TensorProto* t, const std::vector<T>& v) {
  t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)));
}

// The QDQ model rewritten in QONNX's encoding: each activation QuantizeLinear → DequantizeLinear pair
// becomes one Quant node; each weight DequantizeLinear becomes a Quant of float weights (the dequantized
// codes, per-channel scale shaped [C, 1, ...], narrow range); biases stay float (QONNX leaves them so).
onnx::ModelProto as_qonnx(onnx::ModelProto qdq) {
  onnx::ModelProto m = qdq;
  auto* g = m.mutable_graph();
  g->clear_node();
  auto* opset = m.add_opset_import();
  opset->set_domain(kQonnxDomain);
  opset->set_version(1);
  auto add_float = [&](const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    set_values(t, v);
  };
  auto add_quant = [&](const std::string& name, const std::string& x, const std::string& y, bool is_signed,
                       bool narrow) {
    onnx::NodeProto* n = g->add_node();
    n->set_name(name);
    n->set_op_type("Quant");
    n->set_domain(kQonnxDomain);
    for (const std::string& in : {x, name + "_scale", name + "_zeropt", name + "_bitwidth"}) n->add_input(in);
    n->add_output(y);
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, int64_t>>{{"signed", is_signed}, {"narrow", narrow}}) {
      auto* a = n->add_attribute();
      a->set_name(key);
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(value);
    }
    add_float(name + "_bitwidth", {}, {8.0f});
  };
  const auto& nodes = qdq.graph().node();
  for (int i = 0; i < nodes.size(); ++i) {
    const onnx::NodeProto& n = nodes[i];
    if (n.op_type() == "QuantizeLinear") {
      const onnx::TensorProto& zp = *find_initializer(qdq, n.input(2));
      const bool is_signed = zp.data_type() == onnx::TensorProto::INT8;
      const float z =
          is_signed ? static_cast<float>(values_of<int8_t>(zp)[0]) : static_cast<float>(values_of<uint8_t>(zp)[0]);
      const onnx::NodeProto& dq = nodes[i + 1];  // the exporter writes each pair adjacently
      REQUIRE(dq.input(0) == n.output(0));
      add_quant(n.name(), n.input(0), dq.output(0), is_signed, false);
      add_float(n.name() + "_scale", {}, values_of<float>(*find_initializer(qdq, n.input(1))));
      add_float(n.name() + "_zeropt", {}, {z});
      ++i;
    } else if (n.op_type() == "DequantizeLinear" &&
               find_initializer(qdq, n.input(0))->data_type() == onnx::TensorProto::INT8) {
      const onnx::TensorProto& codes = *find_initializer(qdq, n.input(0));
      const std::vector<float> scales = values_of<float>(*find_initializer(qdq, n.input(1)));
      const std::vector<int8_t> q = values_of<int8_t>(codes);
      const int64_t per = static_cast<int64_t>(q.size() / scales.size());
      std::vector<float> w(q.size());
      for (size_t e = 0; e < q.size(); ++e) w[e] = static_cast<float>(q[e]) * scales[e / per];
      std::vector<int64_t> dims(codes.dims().begin(), codes.dims().end()), scale_dims(dims.size(), 1);
      scale_dims[0] = dims[0];
      add_float(n.name() + "_float", dims, w);
      add_quant(n.name(), n.name() + "_float", n.output(0), true, true);
      add_float(n.name() + "_scale", scale_dims, scales);
      add_float(n.name() + "_zeropt", {}, {0.0f});
    } else if (n.op_type() == "DequantizeLinear") {  // int32 bias: float values
      const std::vector<int32_t> q = values_of<int32_t>(*find_initializer(qdq, n.input(0)));
      const std::vector<float> scales = values_of<float>(*find_initializer(qdq, n.input(1)));
      std::vector<float> b(q.size());
      for (size_t c = 0; c < q.size(); ++c) b[c] = static_cast<float>(q[c]) * scales[c];
      add_float(n.output(0), {static_cast<int64_t>(b.size())}, b);
    } else {
      *g->add_node() = n;
    }
  }
  return m;
}
}  // namespace

TEST_CASE("Prequantized/IntGraph -> QDQ -> IntGraph keeps ops, codes, formats, scales become float32",
          "[quant][prequantized]") {
  for (const char* flavour : {"single", "float"}) {
    INFO(flavour);
    const IntGraph& a = calibrated(flavour);
    const IntGraph b = lower_prequantized(export_qdq_onnx(a), flavour);
    REQUIRE(a.ops.size() == b.ops.size());
    for (size_t i = 0; i < a.ops.size(); ++i) {
      CHECK(a.ops[i].name == b.ops[i].name);
      CHECK(a.ops[i].op_type == b.ops[i].op_type);
      CHECK(a.ops[i].inputs == b.ops[i].inputs);
    }
    REQUIRE(a.values.size() == b.values.size());
    for (const auto& [name, v] : a.values) {
      INFO(name);
      const IntValue& w = b.values.at(name);
      CHECK(v.shape == w.shape);
      CHECK(v.quant.format == w.quant.format);
      CHECK(v.quant.zero_point == w.quant.zero_point);
      CHECK(w.quant.scale == static_cast<double>(static_cast<float>(v.quant.scale)));
    }
    for (const auto& [name, t] : a.constants) {
      if (name.find(".weight") == std::string::npos && name.find(".bias") == std::string::npos) continue;
      INFO(name);
      CHECK(t.ints == b.constants.at(name).ints);  // the codes themselves travel unchanged
    }
    // The multipliers follow the float32 scales: the networks agree on nearly every image.
    CHECK(same_top1_on_300_images(a, b) >= 297);
  }
}

TEST_CASE("Prequantized/the same network as QONNX lowers to the IntGraph of its QDQ form",
          "[quant][prequantized][qonnx]") {
  const onnx::ModelProto qdq = exported_model();
  std::string qdq_bytes, qonnx_bytes;
  qdq.SerializeToString(&qdq_bytes);
  as_qonnx(qdq).SerializeToString(&qonnx_bytes);
  const IntGraph a = lower_prequantized(qdq_bytes, "single"), b = lower_prequantized(qonnx_bytes, "single");
  REQUIRE(a.ops.size() == b.ops.size());
  for (size_t i = 0; i < a.ops.size(); ++i) CHECK(a.ops[i].op_type == b.ops[i].op_type);
  REQUIRE(a.constants.size() == b.constants.size());
  for (const auto& [name, t] : a.constants) {
    INFO(name);
    CHECK(t.ints == b.constants.at(name).ints);  // weights, biases, multipliers, shifts
  }
  for (const auto& [name, v] : a.values) {
    INFO(name);
    CHECK(v.quant.scale == b.values.at(name).quant.scale);
    CHECK(v.quant.zero_point == b.values.at(name).quant.zero_point);
  }
}

TEST_CASE("Prequantized/what cannot be taken exactly is an error naming the node", "[quant][prequantized]") {
  {
    onnx::ModelProto m = exported_model();  // a DequantizeLinear with other parameters than its QuantizeLinear
    const std::string v = find_node(m, "/stem/stem.0/Conv")->output(0);
    find_node(m, v + "_DequantizeLinear")->set_input(1, "input_scale");
    CHECK_THAT(lowering_error(m),
               Catch::Contains(v + "_DequantizeLinear") && Catch::Contains("dequantizes with other parameters"));
  }
  {
    onnx::ModelProto m = exported_model();  // an activation without its Q/DQ pair: the residual Add's output
    const std::string y = find_node(m, "/Add")->output(0);
    auto* nodes = m.mutable_graph()->mutable_node();
    for (int i = nodes->size() - 1; i >= 0; --i)
      if (nodes->Get(i).name() == y + "_QuantizeLinear" || nodes->Get(i).name() == y + "_DequantizeLinear")
        nodes->DeleteSubrange(i, 1);
    for (auto& n : *nodes)
      for (auto& in : *n.mutable_input())
        if (in == y + "_dq") in = y;
    CHECK_THAT(lowering_error(m), Catch::Contains("tensor '" + y + "' is not quantized"));
  }
  {
    onnx::ModelProto m = exported_model();  // a DequantizeLinear of integer codes that no QuantizeLinear made
    auto* nodes = m.mutable_graph()->mutable_node();
    onnx::NodeProto* cast = nodes->Add();
    cast->set_name("to_uint8");
    cast->set_op_type("Cast");
    cast->add_input("input");
    cast->add_output("input_cast");
    auto* to = cast->add_attribute();
    to->set_name("to");
    to->set_type(onnx::AttributeProto::INT);
    to->set_i(onnx::TensorProto::UINT8);
    std::rotate(nodes->begin(), nodes->end() - 1, nodes->end());
    find_node(m, "input_DequantizeLinear")->set_input(0, "input_cast");
    find_node(m, "input_QuantizeLinear")->set_output(0, "input_q_unused");
    CHECK_THAT(lowering_error(m),
               Catch::Contains("node 'input_QuantizeLinear' (QuantizeLinear): its integer output must be read by "
                               "DequantizeLinear nodes (it is read by nothing)"));
    for (int i = 0; i < nodes->size(); ++i)
      if (nodes->Get(i).name() == "input_QuantizeLinear") nodes->DeleteSubrange(i, 1);
    CHECK_THAT(
        lowering_error(m),
        Catch::Contains("node 'input_DequantizeLinear' (DequantizeLinear): reads 'input_cast', which is neither an "
                        "integer constant nor the output of a QuantizeLinear"));
  }
}

TEST_CASE(
    "Prequantized/an IntGraph with 16-bit logits (configs/w8a8.yaml) exports as com.microsoft QDQ and lowers back to "
    "the same formats and codes",
    "[quant][prequantized]") {
  const Graph graph = import_onnx(kCnn);
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/w8a8.yaml");
  const Tensor calibration = load_fashion_mnist("train", 100, cnn_norm()).images;
  const IntGraph a = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", cnn_norm()});
  const std::string logits = a.ops.back().inputs.at(0);
  REQUIRE(a.values.at(logits).quant.format.bits() == 16);  // what the README's export meets
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(export_qdq_onnx(a)));
  int64_t wide = 0;
  for (const auto& n : m.graph().node()) wide += n.domain() == kMicrosoftDomain;
  CHECK(wide == 2);  // the logits' QuantizeLinear and DequantizeLinear, nothing else
  const IntGraph b = lower_prequantized(export_qdq_onnx(a), "single");
  REQUIRE(a.values.size() == b.values.size());
  for (const auto& [name, v] : a.values) {
    INFO(name);
    CHECK(v.quant.format == b.values.at(name).quant.format);
    CHECK(v.quant.zero_point == b.values.at(name).quant.zero_point);
  }
  for (const auto& [name, t] : a.constants)
    if (name.find(".weight") != std::string::npos || name.find(".bias") != std::string::npos)
      CHECK(t.ints == b.constants.at(name).ints);
  // The lowered network computes what the original does: its multipliers follow float32 scales, so
  // top-1 agrees on nearly every image (as for 8-bit logits above).
  CHECK(same_top1_on_300_images(a, b) >= 297);
}

namespace {
// A QDQ model as ONNX Runtime's quantizer writes a Conv followed by a ReLU6 with its own Q/DQ pair:
// x → Q/DQ (1/16, 128) → Conv (int8 weights at 1/64, int32 bias at 1/1024) → Q/DQ (1/8, 100) → Clip(0, 6)
// → Q/DQ (`y_scale`, `y_zero_point`) → y. Every product and sum of the Conv is a multiple of 2^−10 below
// 2^14, exact in float32, so the float executor on this graph computes the QDQ definition exactly: the
// oracle for every output code. With `float_tail` the Conv's float output is the graph output (no
// QuantizeLinear after it, as ONNX Runtime leaves an op it was told not to quantize).
std::string conv_relu6_qdq(float y_scale, uint8_t y_zero_point, bool float_tail = false) {
  std::mt19937_64 rng(11);
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("conv_relu6_qdq");
  auto io = [](onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  io(g->add_input(), "x", {1, 2, 5, 5});
  io(g->add_output(), "y", {1, 3, 5, 5});
  auto scalar = [&](const std::string& name, int type, const std::string& raw, std::vector<int64_t> dims = {}) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name), t->set_data_type(type), t->set_raw_data(raw);
    for (int64_t d : dims) t->add_dims(d);
  };
  auto f32 = [](float v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); };
  auto u8 = [](uint8_t v) { return std::string(1, static_cast<char>(v)); };
  scalar("x_s", onnx::TensorProto::FLOAT, f32(1.0f / 16)), scalar("x_z", onnx::TensorProto::UINT8, u8(128));
  scalar("c_s", onnx::TensorProto::FLOAT, f32(1.0f / 8)), scalar("c_z", onnx::TensorProto::UINT8, u8(100));
  scalar("y_s", onnx::TensorProto::FLOAT, f32(y_scale)), scalar("y_z", onnx::TensorProto::UINT8, u8(y_zero_point));
  scalar("w_s", onnx::TensorProto::FLOAT, f32(1.0f / 64)), scalar("w_z", onnx::TensorProto::INT8, std::string(1, '\0'));
  scalar("b_s", onnx::TensorProto::FLOAT, f32(1.0f / 1024)),
      scalar("b_z", onnx::TensorProto::INT32, std::string(4, '\0'));
  scalar("lo", onnx::TensorProto::FLOAT, f32(0.0f)), scalar("hi", onnx::TensorProto::FLOAT, f32(6.0f));
  std::string w, b;
  for (int i = 0; i < 3 * 2 * 3 * 3; ++i)
    w += static_cast<char>(static_cast<int8_t>(static_cast<int>(rng() % 255) - 127));
  for (int i = 0; i < 3; ++i) {
    const int32_t v = static_cast<int32_t>(rng() % 4001) - 2000;
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  scalar("w_q", onnx::TensorProto::INT8, w, {3, 2, 3, 3});
  scalar("b_q", onnx::TensorProto::INT32, b, {3});
  auto node = [&](const std::string& type, const std::string& name, std::vector<std::string> in,
                  const std::string& out) {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(type), n->set_name(name), n->add_output(out);
    for (const auto& i : in) n->add_input(i);
    return n;
  };
  node("QuantizeLinear", "x_Q", {"x", "x_s", "x_z"}, "x_q");
  node("DequantizeLinear", "x_DQ", {"x_q", "x_s", "x_z"}, "x_dq");
  node("DequantizeLinear", "w_DQ", {"w_q", "w_s", "w_z"}, "w_dq");
  node("DequantizeLinear", "b_DQ", {"b_q", "b_s", "b_z"}, "b_dq");
  onnx::NodeProto* conv = node("Conv", "/conv", {"x_dq", "w_dq", "b_dq"}, float_tail ? "y" : "c");
  auto* pads = conv->add_attribute();
  pads->set_name("pads"), pads->set_type(onnx::AttributeProto::INTS);
  for (int p : {1, 1, 1, 1}) pads->add_ints(p);
  if (!float_tail) {
    node("QuantizeLinear", "c_Q", {"c", "c_s", "c_z"}, "c_q");
    node("DequantizeLinear", "c_DQ", {"c_q", "c_s", "c_z"}, "c_dq");
    node("Clip", "/relu6", {"c_dq", "lo", "hi"}, "r");
    node("QuantizeLinear", "y_Q", {"r", "y_s", "y_z"}, "y_q");
    node("DequantizeLinear", "y_DQ", {"y_q", "y_s", "y_z"}, "y");
  }
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}
}  // namespace

TEST_CASE("Prequantized/a ReLU6 with its own Q/DQ pair keeps both roundings: every code as the QDQ graph defines it",
          "[quant][prequantized]") {
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/qdq-ort.yaml");
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  Tensor x = Tensor::zeros(DType::float32, {40, 2, 5, 5});
  for (float& v : x.floats) v = normal(rng);
  // 6/255: ORT's scale for a [0, 6] output, another quantization than the Conv's (1/8, 100): rounding once
  // to it would change codes. (1/8, 100): the same quantization, where the clamp is provably the same and
  // the Clip fuses into the Conv's requantization.
  for (const auto& [y_scale, y_zero_point, fused] :
       {std::tuple<float, uint8_t, bool>{6.0f / 255, 0, false}, {1.0f / 8, 100, true}}) {
    INFO("y scale " << y_scale << ", zero point " << int{y_zero_point});
    const Graph g = import_onnx_bytes(conv_relu6_qdq(y_scale, y_zero_point), "conv_relu6_qdq.onnx");
    const IntGraph q = quantize(QuantizeInputs{&g, &config, nullptr, "conv_relu6_qdq.onnx", {}});
    const bool has_table = std::any_of(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.op_type == "lut"; });
    CHECK(has_table == !fused);
    const Tensor want = FloatExecutor(g).run({{"x", x}}).at("y");
    const Tensor got = DirectEngine(q).run(x);
    REQUIRE(got.shape == want.shape);
    int64_t differing = 0;
    for (size_t i = 0; i < got.floats.size(); ++i) differing += got.floats[i] != want.floats[i];
    CHECK(differing == 0);
  }
}

namespace {
// A QOperator model as ONNX Runtime's quantizer writes one with quant_format QOperator: a uint8 image
// [1, 2, 5, 5] (scale 1/16, zero point 128) → QLinearConv with per-channel int8 weights (scales 1/64, 1/32,
// 1/128) and an int32 bias → uint8 (1/8, 100) → QLinearMatMul over the last axis with int8 weights [5, 4]
// (1/64) → uint8 (1/4, 120) → DequantizeLinear → y. Power-of-two scales: every requantization scale is
// exact, so ONNX's reference (the product in double) and chipref's float32 requantization agree by
// definition, and the float executor running the QOperator graph is the oracle of every code.
// uint8_weights: both layers' weights uint8 with zero points (per channel for the conv), as ONNX Runtime's u8u8 form.
std::string qoperator_model(bool uint8_weights = false) {
  std::mt19937_64 rng(23);
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("qoperator");
  auto io = [](onnx::ValueInfoProto* v, const std::string& name, int type, std::vector<int64_t> dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  io(g->add_input(), "x", onnx::TensorProto::UINT8, {1, 2, 5, 5});
  io(g->add_output(), "y", onnx::TensorProto::FLOAT, {1, 3, 5, 4});
  auto init = [&](const std::string& name, int type, const std::string& raw, std::vector<int64_t> dims = {}) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name), t->set_data_type(type), t->set_raw_data(raw);
    for (int64_t d : dims) t->add_dims(d);
  };
  auto f32s = [](std::vector<float> v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); };
  auto u8 = [](uint8_t v) { return std::string(1, static_cast<char>(v)); };
  auto i8s = [&](int64_t n) {
    std::string s;
    for (int64_t i = 0; i < n; ++i) s += static_cast<char>(static_cast<int8_t>(static_cast<int>(rng() % 255) - 127));
    return s;
  };
  init("x_s", onnx::TensorProto::FLOAT, f32s({1.0f / 16})), init("x_z", onnx::TensorProto::UINT8, u8(128));
  init("w_s", onnx::TensorProto::FLOAT, f32s({1.0f / 64, 1.0f / 32, 1.0f / 128}), {3});
  auto u8s = [&](int64_t n) {
    std::string s;
    for (int64_t i = 0; i < n; ++i) s += static_cast<char>(static_cast<uint8_t>(rng() % 256));
    return s;
  };
  if (uint8_weights) {
    init("w_z", onnx::TensorProto::UINT8, u8(100) + u8(128) + u8(141), {3});
    init("w", onnx::TensorProto::UINT8, u8s(3 * 2 * 3 * 3), {3, 2, 3, 3});
  } else {
    init("w_z", onnx::TensorProto::INT8, std::string(3, '\0'), {3});
    init("w", onnx::TensorProto::INT8, i8s(3 * 2 * 3 * 3), {3, 2, 3, 3});
  }
  std::string bias;
  for (int i = 0; i < 3; ++i) {
    const int32_t v = static_cast<int32_t>(rng() % 4001) - 2000;
    bias.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  init("b", onnx::TensorProto::INT32, bias, {3});
  init("c_s", onnx::TensorProto::FLOAT, f32s({1.0f / 8})), init("c_z", onnx::TensorProto::UINT8, u8(100));
  init("m_s", onnx::TensorProto::FLOAT, f32s({1.0f / 64}));
  if (uint8_weights) {
    init("m_z", onnx::TensorProto::UINT8, u8(77));
    init("m", onnx::TensorProto::UINT8, u8s(5 * 4), {5, 4});
  } else {
    init("m_z", onnx::TensorProto::INT8, std::string(1, '\0'));
    init("m", onnx::TensorProto::INT8, i8s(5 * 4), {5, 4});
  }
  init("y_s", onnx::TensorProto::FLOAT, f32s({1.0f / 4})), init("y_z", onnx::TensorProto::UINT8, u8(120));
  auto node = [&](const std::string& type, const std::string& name, std::vector<std::string> in,
                  const std::string& out) {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(type), n->set_name(name), n->add_output(out);
    for (const auto& i : in) n->add_input(i);
    return n;
  };
  onnx::NodeProto* conv = node("QLinearConv", "/conv", {"x", "x_s", "x_z", "w", "w_s", "w_z", "c_s", "c_z", "b"}, "c");
  auto* pads = conv->add_attribute();
  pads->set_name("pads"), pads->set_type(onnx::AttributeProto::INTS);
  for (int p : {1, 1, 1, 1}) pads->add_ints(p);
  node("QLinearMatMul", "/fc", {"c", "c_s", "c_z", "m", "m_s", "m_z", "y_s", "y_z"}, "y_q");
  node("DequantizeLinear", "y_DQ", {"y_q", "y_s", "y_z"}, "y");
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}
}  // namespace

TEST_CASE("Prequantized/a QOperator model (QLinearConv, QLinearMatMul) on uint8 images: every code as ONNX defines it",
          "[quant][prequantized]") {
  const bool uint8_weights = GENERATE(false, true);
  INFO("uint8 weights with zero points: " << uint8_weights);
  const Graph g = import_onnx_bytes(qoperator_model(uint8_weights), "qoperator.onnx");
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/qdq-ort.yaml");
  const IntGraph q = quantize(QuantizeInputs{&g, &config, nullptr, "qoperator.onnx", {}});
  CHECK(q.input_dtype == DType::uint8);
  std::map<std::string, int> kinds;
  for (const Node& op : q.ops) kinds[op.op_type]++;
  CHECK(kinds["conv_mac"] == 1);
  CHECK(kinds["linear_mac"] == 1);
  CHECK(q.values.at(q.ops.front().outputs.at(0)).quant.scale == 1.0 / 16);
  for (const Node& op : q.ops)
    if (op.op_type == "conv_mac" || op.op_type == "linear_mac") {
      const WeightQuant& w = q.weights.at(op.inputs.at(1));
      CHECK(w.format == IntFormat::make(8, !uint8_weights));
      CHECK(w.zero_points == (!uint8_weights             ? std::vector<int64_t>(w.zero_points.size(), 0)
                              : op.op_type == "conv_mac" ? std::vector<int64_t>{100, 128, 141}
                                                         : std::vector<int64_t>{77}));
    }
  std::mt19937_64 rng(5);
  Tensor x = Tensor::zeros(DType::uint8, {30, 2, 5, 5});
  for (int64_t& v : x.ints) v = static_cast<int64_t>(rng() % 256);
  const Tensor want = FloatExecutor(g).run({{"x", x}}).at("y");
  const Tensor got = DirectEngine(q).run(x);
  REQUIRE(got.shape == want.shape);
  int64_t differing = 0;
  for (size_t i = 0; i < got.floats.size(); ++i) differing += got.floats[i] != want.floats[i];
  CHECK(differing == 0);
  // A uint8 input outside what the graph takes is an error, not a wrapped code.
  CHECK_THROWS_WITH(DirectEngine(q).run(Tensor::zeros(DType::float32, {1, 2, 5, 5})),
                    Catch::Contains("the IntGraph expects uint8[N,2,5,5]"));
}

TEST_CASE("Prequantized/a float tail (no QuantizeLinear after the last Conv) ends in its accumulators, dequantized",
          "[quant][prequantized]") {
  const Graph g = import_onnx_bytes(conv_relu6_qdq(1.0f, 0, true), "conv_float_tail.onnx");
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/qdq-ort.yaml");
  const IntGraph q = quantize(QuantizeInputs{&g, &config, nullptr, "conv_float_tail.onnx", {}});
  CHECK(q.ops.back().inputs.at(0) == "/conv.acc");
  CHECK_THROWS_WITH(export_qdq_onnx(q), Catch::Contains("float tail"));
  std::mt19937_64 rng(4);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  Tensor x = Tensor::zeros(DType::float32, {20, 2, 5, 5});
  for (float& v : x.floats) v = normal(rng);
  // Exact sums: the float executor's Conv on the dequantized values is the QDQ definition here.
  const Tensor want = FloatExecutor(g).run({{"x", x}}).at("y");
  const Tensor got = DirectEngine(q).run(x);
  REQUIRE(got.shape == want.shape);
  int64_t differing = 0;
  for (size_t i = 0; i < got.floats.size(); ++i) differing += got.floats[i] != want.floats[i];
  CHECK(differing == 0);
}

namespace {
// A QOperator network with ONNX Runtime's contrib ops and ops that move uint8 codes, as its QOperator
// quantizer writes a residual CNN: x uint8 [1, 2, 6, 6] (1/16, 128) → QLinearConv 3×3 (→ 1/8, 100) →
// QLinearAdd with x (→ 1/4, 110) → MaxPool 2×2 on the codes → QLinearLeakyRelu (α 1/4) → QLinearMul with the
// pooled codes → QLinearConcat with them (→ 1/4, 128) → QLinearGlobalAveragePool (→ 1/16, 128) → Flatten on
// the codes → QGemm with per-column int8 weights and an int32 bias (→ 1/8, 128) → DequantizeLinear → y.
std::string contrib_qoperator_model() {
  std::mt19937_64 rng(29);
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* ms = m.add_opset_import();
  ms->set_domain("com.microsoft"), ms->set_version(1);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("contrib_qoperator");
  auto io = [](onnx::ValueInfoProto* v, const std::string& name, int type, std::vector<int64_t> dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  io(g->add_input(), "x", onnx::TensorProto::UINT8, {1, 2, 6, 6});
  io(g->add_output(), "y", onnx::TensorProto::FLOAT, {1, 3});
  auto init = [&](const std::string& name, int type, std::vector<int32_t> values, std::vector<int64_t> dims = {}) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name), t->set_data_type(type);
    for (int64_t d : dims) t->add_dims(d);
    for (int32_t v : values) t->add_int32_data(v);
  };
  auto scale = [&](const std::string& name, std::vector<float> values, std::vector<int64_t> dims = {}) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name), t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
  };
  auto int8s = [&](int64_t n) {
    std::vector<int32_t> v;
    for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<int32_t>(rng() % 255) - 127);
    return v;
  };
  const int u8 = onnx::TensorProto::UINT8, i8 = onnx::TensorProto::INT8;
  scale("x_s", {1.0f / 16}), init("x_z", u8, {128});
  init("w", i8, int8s(2 * 2 * 3 * 3), {2, 2, 3, 3}), scale("w_s", {1.0f / 64}), init("w_z", i8, {0});
  scale("c_s", {1.0f / 8}), init("c_z", u8, {100});
  scale("s_s", {1.0f / 4}), init("s_z", u8, {110});
  scale("l_s", {1.0f / 8}), init("l_z", u8, {128});
  scale("m_s", {1.0f / 2}), init("m_z", u8, {128});
  scale("k_s", {1.0f / 4}), init("k_z", u8, {128});
  scale("p_s", {1.0f / 16}), init("p_z", u8, {128});
  init("fc", i8, int8s(3 * 4), {3, 4}), scale("fc_s", {1.0f / 64, 1.0f / 32, 1.0f / 128}, {3});
  init("fc_z", i8, {0, 0, 0}, {3}), init("fc_b", onnx::TensorProto::INT32, {500, -900, 60}, {3});
  scale("y_s", {1.0f / 8}), init("y_z", u8, {128});
  auto node = [&](const std::string& type, std::vector<std::string> in, const std::string& out,
                  const std::string& domain = "com.microsoft") {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(type), n->set_name("/" + out), n->set_domain(domain), n->add_output(out);
    for (const auto& i : in) n->add_input(i);
    return n;
  };
  auto ints = [](onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  };
  auto one = [](onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::INT), a->set_i(v);
  };
  ints(node("QLinearConv", {"x", "x_s", "x_z", "w", "w_s", "w_z", "c_s", "c_z"}, "c", ""), "pads", {1, 1, 1, 1});
  node("QLinearAdd", {"c", "c_s", "c_z", "x", "x_s", "x_z", "s_s", "s_z"}, "s");
  onnx::NodeProto* pool = node("MaxPool", {"s"}, "p", "");
  ints(pool, "kernel_shape", {2, 2}), ints(pool, "strides", {2, 2});
  auto* alpha = node("QLinearLeakyRelu", {"p", "s_s", "s_z", "l_s", "l_z"}, "l")->add_attribute();
  alpha->set_name("alpha"), alpha->set_type(onnx::AttributeProto::FLOAT), alpha->set_f(0.25f);
  node("QLinearMul", {"l", "l_s", "l_z", "p", "s_s", "s_z", "m_s", "m_z"}, "m");
  one(node("QLinearConcat", {"k_s", "k_z", "m", "m_s", "m_z", "p", "s_s", "s_z"}, "k"), "axis", 1);
  node("QLinearGlobalAveragePool", {"k", "k_s", "k_z", "p_s", "p_z"}, "gap");
  node("Flatten", {"gap"}, "f", "");
  one(node("QGemm", {"f", "p_s", "p_z", "fc", "fc_s", "fc_z", "fc_b", "y_s", "y_z"}, "y_q"), "transB", 1);
  node("DequantizeLinear", {"y_q", "y_s", "y_z"}, "y", "");
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}
}  // namespace

TEST_CASE("Prequantized/ONNX Runtime contrib QOperator ops and MaxPool on codes: every code as the graph defines it",
          "[quant][prequantized]") {
  const Graph g = import_onnx_bytes(contrib_qoperator_model(), "contrib_qoperator.onnx");
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/qdq-ort.yaml");
  const IntGraph q = quantize(QuantizeInputs{&g, &config, nullptr, "contrib_qoperator.onnx", {}});
  std::map<std::string, int> kinds;
  for (const Node& op : q.ops) kinds[op.op_type]++;
  INFO("IntGraph ops: " << [&] {
    std::string s;
    for (const auto& [k, n] : kinds) s += k + " x" + std::to_string(n) + ", ";
    return s;
  }());
  CHECK(kinds["conv_mac"] == 1);
  CHECK(kinds["linear_mac"] == 1);
  CHECK(kinds["window_max"] == 1);
  std::mt19937_64 rng(7);
  Tensor x = Tensor::zeros(DType::uint8, {64, 2, 6, 6});
  for (int64_t& v : x.ints) v = static_cast<int64_t>(rng() % 256);
  // The oracle: the float executor on the imported graph, whose contrib ops are their schemas' DequantizeLinear →
  // float op → QuantizeLinear (tests/model/test_contrib_quantized.cpp checks each against its formula).
  const Tensor want = FloatExecutor(g).run({{"x", x}}).at("y");
  const Tensor got = DirectEngine(q).run(x);
  REQUIRE(got.shape == want.shape);
  int64_t differing = 0;
  for (size_t i = 0; i < got.floats.size(); ++i) differing += got.floats[i] != want.floats[i];
  CHECK(differing == 0);
}

TEST_CASE("Prequantized/an Add at ONNX Runtime-style scales rounds once, as its graph: every input code",
          "[quant][prequantized]") {
  // x (uint8, s 0.0392157, z 128) → QLinearLeakyRelu (α 0.1 → 0.0213, 77) → QLinearAdd with x (→ 0.0517, 121).
  // Scales as a calibration gives them, not powers of two: rounding each operand (chipref's add of two
  // roundings) would differ from the graph's one rounding of the float32 sum on some codes.
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* ms = m.add_opset_import();
  ms->set_domain("com.microsoft"), ms->set_version(1);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("qdq_add");
  auto io = [](onnx::ValueInfoProto* v, const std::string& name, int type) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (int64_t d : {8, 2, 4, 4}) t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  io(g->add_input(), "x", onnx::TensorProto::UINT8);
  io(g->add_output(), "y", onnx::TensorProto::FLOAT);
  auto scalar = [&](const std::string& name, int type, double v) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name), t->set_data_type(type);
    if (type == onnx::TensorProto::FLOAT)
      t->add_float_data(static_cast<float>(v));
    else
      t->add_int32_data(static_cast<int32_t>(v));
  };
  const int u8 = onnx::TensorProto::UINT8, f32 = onnx::TensorProto::FLOAT;
  scalar("x_s", f32, 0.0392157), scalar("x_z", u8, 128), scalar("l_s", f32, 0.0213), scalar("l_z", u8, 77);
  scalar("s_s", f32, 0.0517), scalar("s_z", u8, 121);
  auto node = [&](const std::string& type, std::vector<std::string> in, const std::string& out, const char* domain) {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(type), n->set_name("/" + out), n->set_domain(domain), n->add_output(out);
    for (const auto& i : in) n->add_input(i);
    return n;
  };
  auto* alpha = node("QLinearLeakyRelu", {"x", "x_s", "x_z", "l_s", "l_z"}, "l", "com.microsoft")->add_attribute();
  alpha->set_name("alpha"), alpha->set_type(onnx::AttributeProto::FLOAT), alpha->set_f(0.1f);
  node("QLinearAdd", {"x", "x_s", "x_z", "l", "l_s", "l_z", "s_s", "s_z"}, "s", "com.microsoft");
  node("DequantizeLinear", {"s", "s_s", "s_z"}, "y", "");
  std::string bytes;
  m.SerializeToString(&bytes);
  const Graph graph = import_onnx_bytes(bytes, "qdq_add.onnx");
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/qdq-ort.yaml");
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, nullptr, "qdq_add.onnx", {}});
  Tensor x = Tensor::zeros(DType::uint8, {8, 2, 4, 4});
  for (int64_t i = 0; i < 256; ++i) x.ints[i] = i;  // every code once
  const Tensor want = FloatExecutor(graph).run({{"x", x}}).at("y");
  const Tensor got = DirectEngine(q).run(x);
  REQUIRE(got.shape == want.shape);
  int64_t differing = 0;
  for (size_t i = 0; i < got.floats.size(); ++i) differing += got.floats[i] != want.floats[i];
  CHECK(differing == 0);
}
