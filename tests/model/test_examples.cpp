// The shipped example models: chipref's float executor reproduces the top-1 accuracy PyTorch measured
// (recorded in each model's sidecar by examples/train_fmnist.py) within 0.1 % absolute on all 10 000 test
// images, and inspect's MAC total for the CNN equals a count by hand from its architecture.

#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "model/evaluate.hpp"
#include "model/executor.hpp"
#include "model/fold.hpp"
#include "model/inspect.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"

using namespace chipref;

namespace {
void check_accuracy(const std::string& model) {
  const double pytorch_top1 = YAML::LoadFile(sidecar_path(model))["pytorch_test_top1"].as<double>();
  const auto norm = read_sidecar_preprocess(model);
  REQUIRE(norm);
  const Top1Result r = evaluate_top1(import_onnx(model), load_fashion_mnist("t10k", 0, *norm));
  INFO(model << ": chipref " << r.top1() << ", PyTorch " << pytorch_top1);
  CHECK(r.count == 10000);
  CHECK(std::fabs(r.top1() - pytorch_top1) <= 0.001);
}
}  // namespace

TEST_CASE("Examples/CNN accuracy matches PyTorch", "[model][examples]") {
  check_accuracy(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx");
}

TEST_CASE("Examples/ViT accuracy matches PyTorch", "[model][examples]") {
  check_accuracy(CHIPREF_SOURCE_DIR "/examples/fmnist_vit.onnx");
}

TEST_CASE("Examples/CNN MACs equal the hand count", "[model][examples]") {
  // By hand, per image (out H·W · out channels · in channels per group · kernel positions):
  const int64_t stem = 28 * 28 * 16 * 1 * 9;       // Conv 1→16 3×3, 28×28
  const int64_t down = 14 * 14 * 32 * 16 * 9;      // Conv 16→32 3×3 stride 2, 14×14
  const int64_t depthwise = 14 * 14 * 32 * 1 * 9;  // Conv 32 groups 3×3
  const int64_t pointwise = 14 * 14 * 32 * 32;     // Conv 32→32 1×1
  const int64_t conv3 = 7 * 7 * 48 * 32 * 9;       // Conv 32→48 3×3 after 2×2 average pooling
  const int64_t head = 48 * 10;                    // Linear 48→10
  const int64_t per_image = stem + down + depthwise + pointwise + conv3 + head;
  for (int64_t batch : {1, 8}) {
    Graph g = import_onnx(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx", ImportOptions{batch});
    fold_constants(g);
    CHECK(summarize(g).total_macs == batch * per_image);
  }
}

TEST_CASE("Examples/ViT MACs equal the hand count", "[model][examples]") {
  // By hand, per image: 16 patches + 1 class token = 17 tokens of width 48, 4 heads of 12, MLP 96.
  const int64_t patch = 4 * 4 * 48 * 49;     // Conv 1→48 7×7 stride 7
  const int64_t qkv = 17 * 48 * 144;         // in-projection to q, k, v
  const int64_t scores = 4 * 17 * 17 * 12;   // q·kᵀ per head
  const int64_t context = 4 * 17 * 12 * 17;  // attention·v per head
  const int64_t out_proj = 17 * 48 * 48;
  const int64_t mlp = 2 * 17 * 48 * 96;
  const int64_t head = 48 * 10;
  Graph g = import_onnx(CHIPREF_SOURCE_DIR "/examples/fmnist_vit.onnx", ImportOptions{1});
  fold_constants(g);
  REQUIRE(measure_unknown_shapes(g).error.empty());
  CHECK(summarize(g).total_macs == patch + 2 * (qkv + scores + context + out_proj + mlp) + head);
}

TEST_CASE("Examples/ViT shape arithmetic folds away at a fixed batch", "[model][examples]") {
  Graph dynamic = import_onnx(CHIPREF_SOURCE_DIR "/examples/fmnist_vit.onnx");
  Graph fixed = import_onnx(CHIPREF_SOURCE_DIR "/examples/fmnist_vit.onnx", ImportOptions{4});
  const FoldResult folded = fold_constants(fixed);
  CHECK(folded.nodes_folded > 0);
  for (const Node& n : fixed.nodes) {
    INFO(n.describe());
    CHECK(n.op_type != "Shape");  // every Shape of a static tensor became a constant
    CHECK(n.op_type != "Constant");
  }
  // Folding changes nothing computed: same logits on the same batch as the unfolded graph.
  const auto norm = read_sidecar_preprocess(CHIPREF_SOURCE_DIR "/examples/fmnist_vit.onnx");
  const LabelledImages data = load_fashion_mnist("t10k", 4, *norm);
  const auto a = FloatExecutor(dynamic).run({{"input", data.images}}).at("logits");
  const auto b = FloatExecutor(fixed).run({{"input", data.images}}).at("logits");
  CHECK(a.floats == b.floats);
}
