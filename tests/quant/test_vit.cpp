// The shipped ViT (examples/fmnist_vit.onnx, PyTorch nn.TransformerEncoderLayer export with a dynamic
// batch) through quantize → DirectEngine with configs/w8a8.yaml: integer-only, top-1 within 1.5 % of the
// float model on the same images (the target; the full 10 000-image figure is in the issue note),
// and every layer of the dual-path check within 1 LSB of its fake-quant computation; the same weights
// exported at opsets 14 and 17 (tests/data/, examples/export_vit_opsets.py) lower as well.

#include <unistd.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <set>

#include "analysis/dual_path.hpp"
#include "model/evaluate.hpp"
#include "model/executor.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"

using namespace chipref;
namespace fs = std::filesystem;

namespace {
const char* kVit = CHIPREF_SOURCE_DIR "/examples/fmnist_vit.onnx";

Preprocess vit_norm() { return *read_sidecar_preprocess(kVit); }

IntGraph quantize_vit(const std::string& config_name) {
  const Graph graph = import_onnx(kVit);
  const QuantConfig config = load_quant_config(std::string(CHIPREF_SOURCE_DIR "/configs/") + config_name);
  const Tensor calibration = load_fashion_mnist("train", 500, vit_norm()).images;
  return quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_vit.onnx", vit_norm()});
}

const IntGraph& quantized_vit() {
  static const IntGraph q = quantize_vit("w8a8.yaml");
  return q;
}
}  // namespace

TEST_CASE("ViT/w8a8 is integer-only, with attention, softmax, LayerNorm and GELU as integer ops", "[quant][vit]") {
  const IntGraph& q = quantized_vit();
  CHECK_NOTHROW(check_integer_only(q));
  std::multiset<std::string> types;
  for (const Node& op : q.ops) types.insert(op.op_type);
  CHECK(types.count("matmul_mac") == 4);  // Q·Kᵀ and weights·V in each of the two layers
  CHECK(types.count("softmax") == 2);
  CHECK(types.count("layernorm") == 5);
  CHECK(types.count("lut") == 2);              // the two GELUs
  CHECK(types.count("batch_broadcast") == 2);  // the class token and the position embedding
}

TEST_CASE("ViT/w8a8 integer accuracy stays within 1.5 % of float on 1000 test images, tables and polynomials",
          "[quant][vit]") {
  const LabelledImages data = load_fashion_mnist("t10k", 1000, vit_norm());
  const Top1Result fp32 = evaluate_top1(import_onnx(kVit), data);
  const IntGraph poly = quantize_vit("w8a8-poly.yaml");
  int poly_ops = 0;
  for (const Node& op : poly.ops) poly_ops += op.has("method") && op.get_string("method") == "poly";
  CHECK(poly_ops == 4);  // the two GELUs and the two softmaxes
  for (const IntGraph* q : {&quantized_vit(), &poly}) {
    const DirectEngine engine(*q);
    const Top1Result integer = evaluate_top1([&](const Tensor& x) { return engine.run(x); }, data, 100, "int");
    INFO(q->config_name << ": float " << fp32.top1() << ", integer " << integer.top1());
    CHECK(std::fabs(integer.top1() - fp32.top1()) <= 0.015);
  }
}

TEST_CASE(
    "ViT/MXINT8: every linear layer (a MatMul and its bias Add) and attention's two products in the block format, "
    "near float, and the dual path agrees with every block layer",
    "[quant][vit][mx]") {
  const IntGraph q = quantize_vit("mxint8.yaml");
  int block_layers = 0, with_bias_add = 0, block_matmuls = 0, matmul_macs = 0;
  for (const Node& op : q.ops) {
    block_matmuls += op.op_type == "block_matmul", matmul_macs += op.op_type == "matmul_mac";
    if (op.op_type != "block_mac") continue;
    ++block_layers;
    with_bias_add += op.has("bias_source");
    CHECK(op.inputs.size() == 4);  // the bias, from the Add after the MatMul or the Gemm's own
  }
  CHECK(block_layers == 10);  // the patch embedding; per block the QKV projection, the attention output, the MLP's
                              // two layers; the head
  CHECK(with_bias_add > 0);
  CHECK(block_matmuls == 4);  // Q·Kᵀ and weights·V in each of the two layers, both operands converted
  CHECK(matmul_macs == 0);
  const LabelledImages data = load_fashion_mnist("t10k", 300, vit_norm());
  const DirectEngine engine(q);
  const Top1Result integer = evaluate_top1([&](const Tensor& x) { return engine.run(x); }, data, 100, "int");
  const Top1Result fp32 = evaluate_top1(import_onnx(kVit), data);
  INFO("float " << fp32.top1() << ", MXINT8 " << integer.top1());
  CHECK(integer.top1() >= fp32.top1() - 0.015);
  const DualPathReport r = compare_paths(import_onnx(kVit), q, load_fashion_mnist("t10k", 30, vit_norm()));
  int compared = 0;
  for (const auto& l : r.layers) {
    if (l.producer.find(".block_mac") == std::string::npos && l.producer.find(".block_matmul") == std::string::npos)
      continue;
    INFO(l.value << " (" << l.producer << "): " << l.differing << " of " << l.elements << " differ");
    CHECK(l.max_abs_lsb <= 1);
    CHECK(static_cast<double>(l.differing) <= 1e-2 * static_cast<double>(l.elements));
    ++compared;
  }
  CHECK(compared == 14);
}

TEST_CASE("ViT/dual path: every layer within 1 LSB of fake-quant, SQNR reported per layer", "[quant][vit][dual_path]") {
  const DualPathReport r =
      compare_paths(import_onnx(kVit), quantized_vit(), load_fashion_mnist("t10k", 100, vit_norm()));
  CHECK(r.layers.size() >= 60);
  for (const auto& l : r.layers) {
    INFO(l.value << " (" << l.producer << "): " << l.differing << " of " << l.elements << " differ, max "
                 << l.max_abs_lsb << " LSB");
    CHECK(l.max_abs_lsb <= 1);
    CHECK(l.sqnr.noise > 0);  // an SQNR exists for every layer (the report's last column)
  }
  for (const auto& a : r.accumulators) CHECK(a.overflow_events == 0);
  CHECK(std::abs(r.integer.correct - r.fake_quant.correct) <= 3);
  // The non-linear section: both GELU tables and both softmax exp tables, measured over every input
  // code at quantize time, each within its documented bound (direct tables: 1/2 LSB).
  REQUIRE(r.nonlinears.size() == 4);
  for (const auto& nl : r.nonlinears) {
    INFO(nl.op << " " << nl.function << ": max " << nl.max_lsb << " LSB");
    CHECK(nl.within_bound);
    CHECK(nl.max_lsb <= 0.5);
    CHECK(nl.codes == 256);
  }
  CHECK(report_markdown(r).find("## Non-linear approximations") != std::string::npos);
}

// The same trained ViT exported by PyTorch at opsets 14 and 17 (examples/export_vit_opsets.py: opset 17
// exports LayerNormalization natively, both take more arguments as inputs): the same float function as
// the opset-13 file, and the same integer network quality through quantize.
TEST_CASE("ViT/the opset 14 and 17 exports of the same weights lower to integer networks as good", "[quant][vit]") {
  const LabelledImages data = load_fashion_mnist("t10k", 500, vit_norm());
  const Graph reference = import_onnx(kVit);
  const Tensor expected =
      FloatExecutor(reference).run({{reference.inputs[0].name, data.images}}).at(reference.outputs[0].name);
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/w8a8.yaml");
  const Tensor calibration = load_fashion_mnist("train", 500, vit_norm()).images;
  for (int opset : {14, 17}) {
    const std::string path =
        std::string(CHIPREF_SOURCE_DIR "/tests/data/fmnist_vit_opset") + std::to_string(opset) + ".onnx";
    const Graph graph = import_onnx(path);
    REQUIRE(graph.opset == opset);
    const Tensor logits = FloatExecutor(graph).run({{graph.inputs[0].name, data.images}}).at(graph.outputs[0].name);
    double worst = 0;
    for (size_t i = 0; i < logits.floats.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(logits.floats[i]) - expected.floats[i]));
    INFO("opset " << opset << ": float logits differ from opset 13's by at most " << worst);
    CHECK(worst < 1e-4);
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, path, vit_norm()});
    CHECK_NOTHROW(check_integer_only(q));
    const DirectEngine engine(q);
    const Top1Result integer = evaluate_top1([&](const Tensor& x) { return engine.run(x); }, data, 100, "int");
    const Top1Result fp32 = evaluate_top1(graph, data);
    INFO("float " << fp32.top1() << ", integer " << integer.top1());
    CHECK(std::fabs(integer.top1() - fp32.top1()) <= 0.015);
  }
}

// The non-linear ops' tables and parameters as a graph.json edited by hand may hold them: each refused
// by name where the kernel would divide by zero, overflow or read outside its table (docs/numerics.md
// §8, §9, §10 give the ranges a quantize run writes).
TEST_CASE("ViT/malformed softmax, LUT and LayerNorm parameters are refused by name", "[quant][vit]") {
  const auto first = [](IntGraph& g, const std::string& type) -> Node& {
    const auto it = std::find_if(g.ops.begin(), g.ops.end(), [&](const Node& n) { return n.op_type == type; });
    REQUIRE(it != g.ops.end());
    return *it;
  };
  REQUIRE_NOTHROW(DirectEngine(quantized_vit()));
  struct Case {
    const char* op;
    std::function<void(IntGraph&, Node&)> edit;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"softmax", [](IntGraph& g, Node& op) { g.constants.at(op.inputs[1]).ints[0] = 0; },
       "an exp table must start with a positive entry"},
      {"softmax", [](IntGraph& g, Node& op) { g.constants.at(op.inputs[1]).ints[1] = -5; },
       "table entry -5 is outside [0, 1073741824]"},
      {"softmax", [](IntGraph&, Node& op) { op.attributes["one_over_scale"] = int64_t{1} << 40; },
       "one_over_scale be 1..2^32"},
      {"lut", [](IntGraph&, Node& op) { op.attributes["in_min"] = INT64_MIN; },
       "in_min -9223372036854775808 is outside the input's"},
      {"lut", [](IntGraph& g, Node& op) { g.constants.at(op.inputs[1]).ints[0] = int64_t{1} << 33; },
       "table entry 8589934592 is outside"},
      {"layernorm", [](IntGraph& g, Node& op) { g.constants.at(op.inputs[4]).ints[0] = int64_t{1} << 40; },
       "code 1099511627776 is outside int32"},
      {"layernorm", [](IntGraph& g, Node& op) { g.constants.at(op.inputs[2]).ints[0] = -40; },
       "shift -40 is out of range"},
      {"layernorm", [](IntGraph& g, Node& op) { g.values.at(op.inputs[0]).quant.format = IntFormat::make(24, true); },
       "its input is int24"},
      {"layernorm", [](IntGraph&, Node& op) { op.attributes["epsilon_units"] = int64_t{-1}; },
       "epsilon_units -1 is negative"},
  };
  for (const Case& c : cases) {
    INFO(c.op << ": " << c.says);
    IntGraph g = quantized_vit();
    Node& op = first(g, c.op);
    c.edit(g, op);
    CHECK_THROWS_AS(DirectEngine(g), InputError);
    CHECK_THROWS_WITH(DirectEngine(g), Catch::Contains(op.describe()) && Catch::Contains(c.says));
  }
}

// SmoothQuant changes constants, never ops. The IntGraph records each rescaling (saved and read back
// exactly); the dual path replays them on the model, so its fake-quant path computes with the LayerNorms'
// smoothed γ and β: if the replay differed from what quantize lowered, the LayerNorm outputs would differ
// from the integer path by many LSBs.
TEST_CASE("ViT/SmoothQuant changes constants only, is recorded in the IntGraph, and the dual path replays it",
          "[quant][vit][smoothing]") {
  const IntGraph q = quantize_vit("w8a6-smoothquant.yaml");
  QuantConfig plain_config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/w8a6-smoothquant.yaml");
  plain_config.defaults.smoothquant = false;
  const Graph graph = import_onnx(kVit);
  const Tensor calibration = load_fashion_mnist("train", 500, vit_norm()).images;
  const IntGraph plain = quantize(QuantizeInputs{&graph, &plain_config, &calibration, "fmnist_vit.onnx", vit_norm()});
  CHECK(plain.rescalings.empty());
  REQUIRE(q.rescalings.size() == 5);  // norm1 and norm2 of both blocks, the final norm
  REQUIRE(q.ops.size() == plain.ops.size());
  for (size_t i = 0; i < q.ops.size(); ++i) CHECK(q.ops[i].op_type == plain.ops[i].op_type);

  const std::string dir =
      (fs::temp_directory_path() / ("chipref_test_vit_smooth_" + std::to_string(::getpid()))).string();
  save_int_graph(q, dir);
  const IntGraph back = read_int_graph(dir);
  fs::remove_all(dir);
  REQUIRE(back.rescalings.size() == q.rescalings.size());
  for (size_t i = 0; i < q.rescalings.size(); ++i) {
    CHECK(back.rescalings[i].pass == "smoothquant");
    CHECK(back.rescalings[i].producer == q.rescalings[i].producer);
    CHECK(back.rescalings[i].readers == q.rescalings[i].readers);
    CHECK(back.rescalings[i].renamed == q.rescalings[i].renamed);
    CHECK(back.rescalings[i].factors == q.rescalings[i].factors);  // exactly: JSON keeps every double
  }

  const DualPathReport r = compare_paths(graph, q, load_fashion_mnist("t10k", 100, vit_norm()));
  int smoothed_rows = 0;
  for (const auto& l : r.layers) {
    INFO(l.value << " (" << l.producer << "): " << l.differing << " of " << l.elements << " differ, max "
                 << l.max_abs_lsb << " LSB");
    CHECK(l.max_abs_lsb <= 1);
    smoothed_rows += l.value.find(".smoothed") != std::string::npos;
  }
  CHECK(smoothed_rows == 7);  // the five LayerNorm outputs and the two transposed copies the QKV projections read
  CHECK(std::abs(r.integer.correct - r.fake_quant.correct) <= 3);
}
