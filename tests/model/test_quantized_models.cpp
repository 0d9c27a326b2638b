// Already-quantized models through the real importer: a QDQ model (ONNX Runtime's quantizer style: weights
// stored as int8 with per-channel DequantizeLinear, activations through QuantizeLinear/DequantizeLinear)
// and a QONNX model (Brevitas/FINN style `Quant` nodes), both built by this test from the shipped CNN.
// Oracle: the float CNN with its weights replaced by values dequantized here, independently, in float32.

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/files.hpp"
#include "model/executor.hpp"
#include "model/io/idx.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"

using namespace chipref;

namespace {
const char* kModel = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";

onnx::ModelProto load_cnn() {
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(read_file_bytes(kModel)));
  return m;
}

onnx::TensorProto* initializer(onnx::ModelProto& m, const std::string& name) {
  for (auto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == name) return &t;
  return nullptr;
}

std::vector<float> floats_of(const onnx::TensorProto& t) {
  std::vector<float> v(t.raw_data().size() / 4);
  std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  return v;
}

onnx::TensorProto make_tensor(const std::string& name, int type, const std::vector<int64_t>& dims,
                              const std::string& raw) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(type);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(raw);
  return t;
}
template <class T>
std::string raw_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Replaces every Conv weight by int8 per-output-channel symmetric codes + DequantizeLinear (axis 0), and
// returns the float model whose Conv weights are those dequantized values, for comparison.
void quantize_conv_weights(onnx::ModelProto& qdq, onnx::ModelProto& reference) {
  auto* graph = qdq.mutable_graph();
  const int node_count = graph->node_size();
  for (int i = 0; i < node_count; ++i) {
    onnx::NodeProto* conv = graph->mutable_node(i);
    if (conv->op_type() != "Conv") continue;
    const std::string w_name = conv->input(1);
    onnx::TensorProto* w = initializer(qdq, w_name);
    const std::vector<float> weights = floats_of(*w);
    const int64_t channels = w->dims(0), per = static_cast<int64_t>(weights.size()) / channels;
    std::vector<int8_t> codes(weights.size());
    std::vector<float> scales(channels), dequantized(weights.size());
    std::vector<int8_t> zero_points(channels, 0);
    for (int64_t c = 0; c < channels; ++c) {
      float max_abs = 0;
      for (int64_t k = 0; k < per; ++k) max_abs = std::max(max_abs, std::fabs(weights[c * per + k]));
      scales[c] = max_abs > 0 ? max_abs / 127.0f : 1.0f;
      for (int64_t k = 0; k < per; ++k) {
        const float q = std::nearbyint(weights[c * per + k] / scales[c]);
        codes[c * per + k] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
        dequantized[c * per + k] = static_cast<float>(codes[c * per + k]) * scales[c];  // DequantizeLinear's formula
      }
    }
    initializer(reference, w_name)->set_raw_data(raw_of(dequantized));
    std::vector<int64_t> dims(w->dims().begin(), w->dims().end());
    *graph->add_initializer() = make_tensor(w_name + "_q", onnx::TensorProto::INT8, dims, raw_of(codes));
    *graph->add_initializer() = make_tensor(w_name + "_scale", onnx::TensorProto::FLOAT, {channels}, raw_of(scales));
    *graph->add_initializer() = make_tensor(w_name + "_zp", onnx::TensorProto::INT8, {channels}, raw_of(zero_points));
    onnx::NodeProto dq;
    dq.set_name(w_name + "_DequantizeLinear");
    dq.set_op_type("DequantizeLinear");
    dq.add_input(w_name + "_q");
    dq.add_input(w_name + "_scale");
    dq.add_input(w_name + "_zp");
    dq.add_output(w_name + "_dq");
    auto* axis = dq.add_attribute();
    axis->set_name("axis");
    axis->set_type(onnx::AttributeProto::INT);
    axis->set_i(0);
    conv->set_input(1, w_name + "_dq");
    *graph->add_node() = dq;
  }
  // DequantizeLinear nodes were appended; move them to the front so the graph stays topologically sorted.
  std::rotate(graph->mutable_node()->begin(), graph->mutable_node()->begin() + node_count,
              graph->mutable_node()->end());
  // The initializers replaced by codes are no longer read.
  for (int i = graph->initializer_size() - 1; i >= 0; --i)
    if (initializer(qdq, graph->initializer(i).name() + "_q")) graph->mutable_initializer()->DeleteSubrange(i, 1);
}

std::string bytes_of(const onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

LabelledImages sample_images() { return load_fashion_mnist("t10k", 16, *read_sidecar_preprocess(kModel)); }
}  // namespace

TEST_CASE("QuantizedModels/QDQ weights equal the float model on dequantized weights", "[model][onnx][qdq]") {
  onnx::ModelProto qdq = load_cnn(), reference = load_cnn();
  quantize_conv_weights(qdq, reference);
  const Graph g_qdq = import_onnx_bytes(bytes_of(qdq), "qdq.onnx");
  const Graph g_ref = import_onnx_bytes(bytes_of(reference), "reference.onnx");
  int dequantize_nodes = 0;
  for (const Node& n : g_qdq.nodes) dequantize_nodes += n.op_type == "DequantizeLinear";
  CHECK(dequantize_nodes == 5);
  const LabelledImages data = sample_images();
  const Tensor a = FloatExecutor(g_qdq).run({{"input", data.images}}).at("logits");
  const Tensor b = FloatExecutor(g_ref).run({{"input", data.images}}).at("logits");
  CHECK(a.floats == b.floats);  // bit-identical: same float32 weights, same computation
}

TEST_CASE("QuantizedModels/QONNX Quant nodes import and fake-quantize the input", "[model][onnx][qonnx]") {
  onnx::ModelProto m = load_cnn();
  auto* graph = m.mutable_graph();
  auto* opset = m.add_opset_import();
  opset->set_domain(kQonnxDomain);
  opset->set_version(1);
  // input → Quant(scale 1/32, zero point 0, 8 bits, signed) → the first Conv
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, float>>{{"q_scale", 1.0f / 32}, {"q_zp", 0.0f}, {"q_bits", 8.0f}})
    *graph->add_initializer() = make_tensor(name, onnx::TensorProto::FLOAT, {}, raw_of(std::vector<float>{value}));
  onnx::NodeProto quant;
  quant.set_name("input_quant");
  quant.set_op_type("Quant");
  quant.set_domain(kQonnxDomain);
  for (const char* in : {"input", "q_scale", "q_zp", "q_bits"}) quant.add_input(in);
  quant.add_output("input_q");
  for (auto& n : *graph->mutable_node())
    for (auto& in : *n.mutable_input())
      if (in == "input") in = "input_q";
  *graph->add_node() = quant;
  std::rotate(graph->mutable_node()->begin(), graph->mutable_node()->end() - 1, graph->mutable_node()->end());
  const Graph g = import_onnx_bytes(bytes_of(m), "qonnx.onnx");
  REQUIRE(g.nodes.front().domain == kQonnxDomain);

  // Oracle: the plain CNN on inputs fake-quantized here: clamp(round_half_even(x·32), −128, 127) / 32.
  const LabelledImages data = sample_images();
  Tensor quantized = data.images;
  for (float& v : quantized.floats) v = std::clamp(std::nearbyint(v * 32.0f), -128.0f, 127.0f) / 32.0f;
  const Tensor a = FloatExecutor(g).run({{"input", data.images}}).at("logits");
  const Tensor b = FloatExecutor(import_onnx(kModel)).run({{"input", quantized}}).at("logits");
  CHECK(a.floats == b.floats);
}
