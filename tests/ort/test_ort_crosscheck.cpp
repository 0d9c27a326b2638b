// ONNX Runtime as the external oracle for the pre-quantized path: a QDQ model imported by chipref
// (configs/qdq-ort.yaml: the `float` requant flavour) must give ORT's codes bit for bit wherever ORT runs
// the float32 requantization chipref's `float` flavour specifies: QLinearConv (plain, depthwise,
// pointwise, with fused ReLU / ReLU6 clamps) and QGemm. The QDQ models are chipref's own export of the
// shipped CNN, cut into the spans that ORT fuses into exactly those kernels; ORT runs them with all graph
// optimizations, single-threaded (scripts/ort-run.js). Registered only when scripts/setup-ort has run.
//
// The whole CNN is compared too, without asserting exactness: ORT computes residual Add, AveragePool and
// GlobalAveragePool with kernels of its own (QLinearAdd's fixed-point, QLinearAveragePool), which are
// not chipref's `add` / `window_sum` + `mulshift` (docs/numerics.md §7 lists the differences).

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/files.hpp"
#include "model/io/npy.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "ops/qdq_export.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"

using namespace chipref;
namespace fs = std::filesystem;

namespace {
const char* kCnn = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";

Preprocess cnn_norm() { return *read_sidecar_preprocess(kCnn); }

// Weights of 7 bits (codes in [−63, 63]), as ONNX Runtime's quantizer does with reduce_range: ORT's
// AVX2 u8×s8 kernel (vpmaddubsw, on machines without VNNI, like this one) adds pairs of products in
// int16 with saturation, and 255·127·2 > 32767. With 8-bit weights ORT's stem convolution differs from
// the exact int32 sum on 6 % of outputs (up to 85 LSB, measured); with 7 bits a pair is at most 32130.
const IntGraph& calibrated_cnn() {
  static const IntGraph q = [] {
    const Graph graph = import_onnx(kCnn);
    const QuantConfig config =
        parse_quant_config("defaults:\n  weights: {bits: 7}\n  requant: {flavour: float}\n", "w7.yaml");
    const Tensor calibration = load_fashion_mnist("train", 500, cnn_norm()).images;
    return quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", cnn_norm()});
  }();
  return q;
}

// The span of `q` from value `from` (the graph input if empty) to value `to`, as an IntGraph of its own.
IntGraph span(const IntGraph& q, const std::string& from, const std::string& to) {
  IntGraph s = q;
  s.ops.clear();
  bool inside = from.empty();
  for (size_t i = 0; i + 1 < q.ops.size(); ++i) {
    const Node& op = q.ops[i];
    if (!inside && std::find(op.inputs.begin(), op.inputs.end(), from) != op.inputs.end()) {
      inside = true;
      Node quantize = q.ops.front();
      quantize.inputs = {from + ":float"};
      quantize.outputs = {from};
      quantize.attributes["scale"] = static_cast<float>(q.values.at(from).quant.scale);
      s.ops.push_back(quantize);
      s.input_name = from + ":float";
      s.input_shape = q.values.at(from).shape;
      s.input_shape[0] = -1;
    }
    if (inside) s.ops.push_back(op);
    if (inside && op.outputs.at(0) == to) break;
  }
  Node dequantize = q.ops.back();
  dequantize.inputs = {to};
  dequantize.outputs = {to + ":float"};
  dequantize.attributes["scale"] = static_cast<float>(q.values.at(to).quant.scale);
  s.ops.push_back(dequantize);
  s.output_name = to + ":float";
  s.output_shape = q.values.at(to).shape;
  s.output_shape[0] = -1;
  return s;
}

Tensor run_ort(const std::string& model_bytes, const Tensor& input, const std::string& tag) {
  const fs::path dir = fs::temp_directory_path() / ("chipref_test_ort_" + tag);
  fs::create_directories(dir);
  write_file_atomically((dir / "model.onnx").string(), model_bytes);
  write_npy((dir / "input.npy").string(), input);
  const std::string command = "node " CHIPREF_SOURCE_DIR "/scripts/ort-run.js run " + (dir / "model.onnx").string() +
                              " " + (dir / "input.npy").string() + " " + (dir / "output.npy").string();
  REQUIRE(std::system(command.c_str()) == 0);
  Tensor y = read_npy((dir / "output.npy").string());
  fs::remove_all(dir);
  return y;
}

// The QDQ model through chipref's pre-quantized import, run by the DirectEngine.
Tensor run_chipref(const std::string& model_bytes, const Tensor& input) {
  const Graph g = import_onnx_bytes(model_bytes, "exported.onnx");
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/qdq-ort.yaml");
  const IntGraph q = quantize(QuantizeInputs{&g, &config, nullptr, "exported.onnx", cnn_norm()});
  return DirectEngine(q).run(input);
}

int64_t bitwise_differences(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape == b.shape);
  int64_t n = 0;
  for (size_t i = 0; i < a.floats.size(); ++i) n += std::memcmp(&a.floats[i], &b.floats[i], sizeof(float)) != 0;
  return n;
}

std::string output_of(const IntGraph& q, const std::string& op_name) {
  for (const Node& op : q.ops)
    if (op.name == op_name) return op.outputs.at(0);
  FAIL("no op " << op_name);
  return {};
}
}  // namespace

TEST_CASE("ORT/QDQ convolutions (plain, strided, depthwise + ReLU6, pointwise) equal ONNX Runtime bit for bit",
          "[ort]") {
  const IntGraph& q = calibrated_cnn();
  const std::string bytes = export_qdq_onnx(span(q, "", output_of(q, "/pw/pw.0/Conv.requant")));
  const Tensor images = load_fashion_mnist("t10k", 500, cnn_norm()).images;
  const Tensor ours = run_chipref(bytes, images), theirs = run_ort(bytes, images, "convs");
  INFO(ours.numel() << " output codes");
  CHECK(ours.numel() == 500 * 32 * 14 * 14);
  CHECK(bitwise_differences(ours, theirs) == 0);
}

TEST_CASE("ORT/QDQ Gemm equals ONNX Runtime bit for bit", "[ort]") {
  const IntGraph& q = calibrated_cnn();
  const Node& gemm =
      *std::find_if(q.ops.begin(), q.ops.end(), [](const Node& op) { return op.op_type == "linear_mac"; });
  const std::string features = gemm.inputs.at(0);
  const std::string bytes = export_qdq_onnx(span(q, features, q.ops.back().inputs.at(0)));
  // Inputs: the real features the CNN computes for 500 test images (dequantized codes, so quantizing
  // them again is exact and both runtimes see every code the network produces).
  RunTrace trace;
  DirectEngine(q).run(load_fashion_mnist("t10k", 500, cnn_norm()).images, &trace);
  const CodeTensor& codes = trace.values.at(features);
  const QuantParams& fq = q.values.at(features).quant;
  Tensor x = Tensor::zeros(DType::float32, codes.shape);
  for (size_t i = 0; i < codes.data.size(); ++i)
    x.floats[i] = static_cast<float>(codes.data[i] - fq.zero_point) * static_cast<float>(fq.scale);
  const Tensor ours = run_chipref(bytes, x), theirs = run_ort(bytes, x, "gemm");
  CHECK(ours.numel() == 500 * 10);
  CHECK(bitwise_differences(ours, theirs) == 0);
}

TEST_CASE("ORT/the whole QDQ CNN: same top-1 on 2000 test images, logits mostly identical", "[ort]") {
  const std::string bytes = export_qdq_onnx(calibrated_cnn());
  const LabelledImages data = load_fashion_mnist("t10k", 2000, cnn_norm());
  const Tensor ours = run_chipref(bytes, data.images), theirs = run_ort(bytes, data.images, "cnn");
  int64_t same_top1 = 0;
  for (int64_t i = 0; i < 2000; ++i) {
    const float* a = ours.floats.data() + i * 10;
    const float* b = theirs.floats.data() + i * 10;
    same_top1 += std::max_element(a, a + 10) - a == std::max_element(b, b + 10) - b;
  }
  const int64_t differing = bitwise_differences(ours, theirs);
  WARN("whole CNN vs ORT: " << differing << " of " << ours.numel() << " logits differ; top-1 agrees on " << same_top1
                            << " of 2000");
  CHECK(same_top1 >= 1980);
}

// The transformer's ops in the QDQ export (the class token's batch_broadcast, slices, the gather of the
// class token, LayerNorm as its opset-13 formula with γ, β, ε recovered from the integers, GELU through
// Erf, attention's 1/√d that quantization folded into a requantization): ONNX Runtime computes the float
// functions the IntGraph approximates in integers, so its logits are not chipref's to the bit, but an
// export that lost a factor or a γ changes the predictions (without the 1/√d, top-1 agreed on 84 %).
TEST_CASE("ORT/the QDQ export of the ViT runs in ONNX Runtime and predicts what the IntGraph does", "[ort]") {
  const std::string vit = CHIPREF_SOURCE_DIR "/examples/fmnist_vit.onnx";
  const Preprocess norm = *read_sidecar_preprocess(vit);
  const Graph graph = import_onnx(vit);
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/w8a8.yaml");
  const Tensor calibration = load_fashion_mnist("train", 300, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_vit.onnx", norm});
  const LabelledImages data = load_fashion_mnist("t10k", 1000, norm);
  const Tensor ours = DirectEngine(q).run(data.images), theirs = run_ort(export_qdq_onnx(q), data.images, "vit");
  REQUIRE(ours.shape == theirs.shape);
  int64_t same_top1 = 0, ours_correct = 0, theirs_correct = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    const float* a = ours.floats.data() + i * 10;
    const float* b = theirs.floats.data() + i * 10;
    const int64_t top_a = std::max_element(a, a + 10) - a, top_b = std::max_element(b, b + 10) - b;
    same_top1 += top_a == top_b;
    ours_correct += top_a == data.labels[static_cast<size_t>(i)];
    theirs_correct += top_b == data.labels[static_cast<size_t>(i)];
  }
  WARN("ViT QDQ in ORT: top-1 agrees on " << same_top1 << " of 1000; accuracy " << ours_correct << " (chipref) vs "
                                          << theirs_correct << " (ORT)");
  CHECK(same_top1 >= 970);
  CHECK(std::abs(ours_correct - theirs_correct) <= 20);
}
