// The SystemC engine (sim/systemc/, docs/systemc.md) against the DirectEngine, its independent peer
// on the same IntGraph: every shipped model and config (CNN w8a8 and 2:4 sparse, ViT w8a8) over 100+
// test images, element by element for every tensor of the run and for the accumulator overflow counts;
// the MacArray tile schedule against hand-derived counts; the boundary monitors against the tensors
// the DirectEngine computes; errors naming the layer.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>

#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/config.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "sim/systemc/engine.hpp"

using namespace chipref;

namespace {

IntGraph quantize_example(const std::string& model, const std::string& config_text, const std::string& config_name) {
  const std::string path = std::string(CHIPREF_SOURCE_DIR "/examples/") + model;
  const Normalisation norm = *read_sidecar_normalisation(path);
  const Graph graph = import_onnx(path);
  const QuantConfig config = parse_quant_config(config_text, config_name);
  const Tensor calibration = load_fashion_mnist("train", 200, norm).images;
  return quantize(QuantizeInputs{&graph, &config, &calibration, model, norm});
}

std::string shipped_config(const std::string& name) {
  std::ifstream in(std::string(CHIPREF_SOURCE_DIR "/configs/") + name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Tensor test_images(const IntGraph& q, int64_t count) { return load_fashion_mnist("t10k", count, q.preprocess).images; }

// Every tensor and overflow count of one traced run, and the batched outputs, identical.
void require_same_as_direct(const IntGraph& q, SystemCEngine& systemc, int64_t images) {
  const DirectEngine direct(q);
  const Tensor x = test_images(q, images);
  RunTrace want, got;
  const Tensor y_direct = direct.run(x, &want);
  const Tensor y_systemc = systemc.run(x, &got);
  REQUIRE(y_systemc.shape == y_direct.shape);
  CHECK(y_systemc.floats == y_direct.floats);
  REQUIRE(got.values.size() == want.values.size());
  for (const auto& [name, t] : want.values) {
    INFO(name);
    REQUIRE(got.values.count(name));
    CHECK(got.values.at(name).shape == t.shape);
    CHECK(got.values.at(name).data == t.data);
  }
  for (const auto& [name, o] : want.overflows) {
    INFO(name);
    CHECK(got.overflows[name].events == o.events);
  }
  // Untraced, the batch moves as chunk transactions through the pipeline: the same outputs.
  const Tensor y_chunks = systemc.run(x);
  CHECK(y_chunks.floats == y_direct.floats);
}

}  // namespace

TEST_CASE("SystemC/tile schedule: hand-derived counts for both dataflows", "[sim][systemc]") {
  // A 3x3 conv 3 -> 8 channels on a padded 10x10 image: 100 positions, K = 27, M = 8, on a 4 x 4 array.
  HardwareConfig hw;
  hw.mac_rows = 4, hw.mac_cols = 4;
  hw.dataflow = Dataflow::weight_stationary;
  MacTileSchedule ws = mac_tile_schedule(hw, 1, 100, 27, 8);
  CHECK(ws.macs == 100 * 27 * 8);
  CHECK(ws.tiles == 7 * 2);                     // ceil(27 / 4) row folds x ceil(8 / 4) column tiles
  CHECK(ws.weight_elements == 27 * 8);          // each weight loaded once
  CHECK(ws.activation_elements == 2 * 100 * 27);  // every input vector once per column tile
  CHECK(ws.pe_slots == 14 * 100 * 16);
  hw.dataflow = Dataflow::output_stationary;
  MacTileSchedule os = mac_tile_schedule(hw, 1, 100, 27, 8);
  CHECK(os.macs == ws.macs);
  CHECK(os.tiles == 25 * 2);                    // ceil(100 / 4) position tiles x ceil(8 / 4) channel tiles
  CHECK(os.weight_elements == 25 * 27 * 8);     // the weights stream again for every position tile
  CHECK(os.activation_elements == 2 * 100 * 27);
  CHECK(os.pe_slots == os.macs);                // 100 and 8 divide by 4: every PE busy every step
  // Depthwise: 16 groups of one channel, K = 9; a 1 x 1 array does one MAC per step.
  hw.mac_rows = hw.mac_cols = 1;
  const MacTileSchedule dw = mac_tile_schedule(hw, 16, 49, 9, 1);
  CHECK(dw.macs == 16 * 49 * 9);
  CHECK(dw.pe_slots == dw.macs);
}

TEST_CASE("SystemC/the CNN with configs/w8a8.yaml: every tensor identical to the DirectEngine, both dataflows", "[sim][systemc]") {
  const IntGraph q = quantize_example("fmnist_cnn.onnx", shipped_config("w8a8.yaml"), "w8a8.yaml");
  SECTION("the config's array (16 x 16, weight-stationary)") {
    SystemCEngine engine(q);
    CHECK(engine.hardware().mac_rows == 16);
    require_same_as_direct(q, engine, 120);
  }
  SECTION("an odd 3 x 5 output-stationary array, FIFOs one deep") {
    HardwareConfig hw;
    hw.mac_rows = 3, hw.mac_cols = 5, hw.dataflow = Dataflow::output_stationary, hw.fifo_depth = 1;
    SystemCEngine engine(q, hw);
    require_same_as_direct(q, engine, 100);
  }
}

TEST_CASE("SystemC/saturating 18-bit accumulators: the same overflow counts as the DirectEngine", "[sim][systemc]") {
  const IntGraph q = quantize_example("fmnist_cnn.onnx",
                                      "defaults:\n  weights: {bits: 8}\n  activations: {bits: 8}\n"
                                      "  accumulator: {bits: 18, overflow: saturate}\n",
                                      "acc18.yaml");
  SystemCEngine engine(q);
  require_same_as_direct(q, engine, 100);
  RunTrace trace;
  DirectEngine(q).run(test_images(q, 100), &trace);
  int64_t events = 0;
  for (const auto& [name, o] : trace.overflows) events += o.events;
  CHECK(events > 0);  // the comparison above covered real overflows, not only zeros
}

TEST_CASE("SystemC/the 2:4-sparse CNN: a SparseDecoder feeds each sparse MacArray, outputs identical", "[sim][systemc]") {
  const IntGraph q = quantize_example("fmnist_cnn.onnx", shipped_config("w8a8-2of4.yaml"), "w8a8-2of4.yaml");
  SystemCEngine engine(q);
  require_same_as_direct(q, engine, 100);
  int decoders = 0;
  for (const ModuleStats& s : engine.stats())
    if (s.kind == "SparseDecoder") {
      ++decoders;
      CHECK(s.out.transactions == 1);  // the weights are decoded once, whatever the number of runs
    }
  CHECK(decoders == 2);
}

TEST_CASE("SystemC/the ViT with configs/w8a8.yaml: every tensor identical to the DirectEngine", "[sim][systemc][vit]") {
  const IntGraph q = quantize_example("fmnist_vit.onnx", shipped_config("w8a8.yaml"), "w8a8.yaml");
  SystemCEngine engine(q);
  require_same_as_direct(q, engine, 100);
  std::set<std::string> kinds;
  for (const ModuleStats& s : engine.stats()) kinds.insert(s.kind);
  for (const char* k : {"MacArray", "MulShift", "Lut", "Softmax", "LayerNorm", "Add", "Movement"}) CHECK(kinds.count(k));
}

TEST_CASE("SystemC/boundary monitors count what the DirectEngine's tensors hold", "[sim][systemc]") {
  const IntGraph q = quantize_example("fmnist_cnn.onnx", shipped_config("w8a8.yaml"), "w8a8.yaml");
  SystemCEngine engine(q);
  const Tensor x = test_images(q, 20);
  engine.run(x);  // 20 images: 3 chunk transactions (8 + 8 + 4)
  RunTrace trace;
  DirectEngine(q).run(x, &trace);
  const std::vector<ModuleStats> stats = engine.stats();
  REQUIRE(stats.size() == engine.module_count());
  std::map<std::string, const Node*> op_by_name;
  for (const Node& op : q.ops) op_by_name[op.name] = &op;
  for (const ModuleStats& s : stats) {
    INFO(s.name);
    const Node& op = *op_by_name.at(s.name);
    const CodeTensor& y = trace.values.at(op.outputs.at(0));
    CHECK(s.out.transactions == 3);
    CHECK(s.out.elements == static_cast<int64_t>(y.data.size()));
    CHECK(s.out.bits == s.out.elements * q.values.at(op.outputs[0]).quant.format.bits());
    if (s.kind != "MacArray") continue;
    // MACs from the output tensor and the weight shape: every output element sums K products.
    const Tensor& w = q.constants.at(op.inputs.at(1));
    const int64_t k = w.numel() / w.shape[0];
    CHECK(s.macs == static_cast<int64_t>(y.data.size()) * k);
    CHECK(s.pe_slots >= s.macs);
    CHECK(s.in.elements == static_cast<int64_t>(trace.values.at(op.inputs[0]).data.size()));
  }
}

TEST_CASE("SystemC/errors: a geometry that cannot map a layer names it, and several engines live side by side", "[sim][systemc]") {
  const IntGraph q = quantize_example("fmnist_cnn.onnx", shipped_config("w8a8.yaml"), "w8a8.yaml");
  HardwareConfig hw;
  hw.mac_rows = 0;
  CHECK_THROWS_WITH(SystemCEngine(q, hw), Catch::Contains("(conv_mac)") && Catch::Contains("0 x 16 MAC array cannot map this layer"));
  hw = HardwareConfig{};
  hw.fifo_depth = 0;
  CHECK_THROWS_WITH(SystemCEngine(q, hw), Catch::Contains("fifo_depth is 0"));
  // Engines are independent simulations: two at once, and new ones after others are gone.
  SystemCEngine a(q);
  {
    SystemCEngine b(q);
    CHECK(b.run(test_images(q, 9)).floats == DirectEngine(q).run(test_images(q, 9)).floats);
  }
  SystemCEngine c(q);
  CHECK(a.run(test_images(q, 3)).floats == c.run(test_images(q, 3)).floats);
  CHECK_THROWS_WITH(a.run(Tensor::zeros(DType::float32, {2, 1, 27, 28})), Catch::Contains("expects"));
}

TEST_CASE("SystemC/the config's hardware section: read, saved with the IntGraph, errors with file:line", "[sim][systemc][config]") {
  const QuantConfig c = parse_quant_config(
      "defaults:\n  weights: {bits: 8}\nhardware:\n  mac_array: {rows: 8, cols: 32, dataflow: output_stationary}\n  fifo_depth: 4\n", "hw.yaml");
  CHECK(c.hardware.mac_rows == 8);
  CHECK(c.hardware.mac_cols == 32);
  CHECK(c.hardware.dataflow == Dataflow::output_stationary);
  CHECK(c.hardware.fifo_depth == 4);
  CHECK_THROWS_WITH(parse_quant_config("hardware:\n  mac_array: {rows: 0}\n", "hw.yaml"), Catch::Contains("hw.yaml:2:") && Catch::Contains("'rows' is 0"));
  CHECK_THROWS_WITH(parse_quant_config("hardware:\n  mac_array: {dataflow: row_stationary}\n", "hw.yaml"),
                    Catch::Contains("hw.yaml:2:") && Catch::Contains("expected weight_stationary or output_stationary"));
  CHECK_THROWS_WITH(parse_quant_config("hardware:\n  pe: 3\n", "hw.yaml"), Catch::Contains("unknown key 'pe'"));
}
