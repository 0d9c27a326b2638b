// The SystemC engine (sim/systemc/, docs/systemc.md) against the DirectEngine, its independent peer
// on the same IntGraph: every shipped model and config (CNN w8a8 and 2:4 sparse, ViT w8a8) over 100+
// test images, element by element for every tensor of the run and for the accumulator overflow counts;
// the MacArray tile schedule against hand-derived counts; the boundary monitors against the tensors
// the DirectEngine computes; errors naming the layer.
#include <catch2/catch.hpp>
#include <cmath>

#include <algorithm>
#include <map>
#include <set>

#include "model/onnx_import.hpp"
#include "quant/config.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "sim/systemc/engine.hpp"
#include "sim/systemc/modules.hpp"
#include "support/onnx_builder.hpp"
#include "support/shipped_examples.hpp"

using namespace chipref;
using chipref::testing::quantize_example;
using chipref::testing::shipped_config;

namespace {

std::string systemc_kind(const Node& op) { return ops::op_def(op).systemc_module; }

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
  testing::check_same_tensors(want.values, got.values);
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
  CHECK(ws.tiles == 7 * 2);                       // ceil(27 / 4) row folds x ceil(8 / 4) column tiles
  CHECK(ws.weight_elements == 27 * 8);            // each weight loaded once
  CHECK(ws.activation_elements == 2 * 100 * 27);  // every input vector once per column tile
  CHECK(ws.pe_slots == 14 * 100 * 16);
  hw.dataflow = Dataflow::output_stationary;
  MacTileSchedule os = mac_tile_schedule(hw, 1, 100, 27, 8);
  CHECK(os.macs == ws.macs);
  CHECK(os.tiles == 25 * 2);                 // ceil(100 / 4) position tiles x ceil(8 / 4) channel tiles
  CHECK(os.weight_elements == 25 * 27 * 8);  // the weights stream again for every position tile
  CHECK(os.activation_elements == 2 * 100 * 27);
  CHECK(os.pe_slots == os.macs);  // 100 and 8 divide by 4: every PE busy every step
  // Depthwise: 16 groups of one channel, K = 9; a 1 x 1 array does one MAC per step.
  hw.mac_rows = hw.mac_cols = 1;
  const MacTileSchedule dw = mac_tile_schedule(hw, 16, 49, 9, 1);
  CHECK(dw.macs == 16 * 49 * 9);
  CHECK(dw.pe_slots == dw.macs);
}

TEST_CASE("SystemC/the CNN with configs/w8a8.yaml: every tensor identical to the DirectEngine, both dataflows",
          "[sim][systemc]") {
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

TEST_CASE("SystemC/the CNN in MXFP8 (block_mac, fp32 accumulation): every tensor identical to the DirectEngine",
          "[sim][systemc]") {
  const IntGraph q = quantize_example(
      "fmnist_cnn.onnx", shipped_config("mxfp8.yaml") + "  - match: \"*\"\n    format: {accumulation: fp32}\n",
      "mxfp8.yaml");
  SystemCEngine engine(q);
  require_same_as_direct(q, engine, 40);
}

TEST_CASE(
    "SystemC/the ViT in MXFP8 (block_mac and block_matmul for attention): every tensor identical to the "
    "DirectEngine",
    "[sim][systemc][mx]") {
  const IntGraph q = quantize_example("fmnist_vit.onnx", shipped_config("mxfp8.yaml"), "mxfp8.yaml");
  int block_matmuls = 0;
  for (const Node& op : q.ops) block_matmuls += op.op_type == "block_matmul";
  CHECK(block_matmuls == 4);
  SystemCEngine engine(q);
  require_same_as_direct(q, engine, 20);
}

TEST_CASE("SystemC/the ops issue 25 added (rescale, mul, subtracting add, new tables, depthwise affine): identical",
          "[sim][systemc]") {
  const Graph g = import_onnx_bytes(testing::issue25_ops_model(), "issue25_ops.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = testing::random_inputs(300, 1);
  const IntGraph q = quantize(QuantizeInputs{&g, &config, &calibration, "issue25_ops.onnx", {}});
  std::set<std::string> kinds;
  for (const Node& op : q.ops) kinds.insert(op.op_type);
  for (const char* kind : {"rescale", "mul", "lut", "clamp", "conv_mac", "window_sum", "add"}) {
    INFO(kind);
    CHECK(kinds.count(kind) == 1);
  }
  SystemCEngine engine(q);
  const DirectEngine direct(q);
  const Tensor x = testing::random_inputs(40, 2);
  RunTrace want, got;
  const Tensor y_direct = direct.run(x, &want);
  const Tensor y_systemc = engine.run(x, &got);
  CHECK(y_systemc.floats == y_direct.floats);
  testing::check_same_tensors(want.values, got.values);
  CHECK(engine.run(x).floats == y_direct.floats);
}

TEST_CASE("SystemC/token ids: embedding, compare, expand and the masked softmax are identical", "[sim][systemc]") {
  const Graph g = import_onnx_bytes(testing::token_attention_model(false, -INFINITY), "tokens.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = testing::padded_token_ids(40, 1);
  const IntGraph q = quantize(QuantizeInputs{&g, &config, &calibration, "tokens.onnx", {}});
  SystemCEngine engine(q);
  const DirectEngine direct(q);
  const Tensor ids = testing::padded_token_ids(14, 2);
  RunTrace want, got;
  const Tensor y_direct = direct.run(ids, &want);
  const Tensor y_systemc = engine.run(ids, &got);
  CHECK(y_systemc.floats == y_direct.floats);
  testing::check_same_tensors(want.values, got.values);
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

TEST_CASE("SystemC/the 2:4-sparse CNN: a SparseDecoder feeds each sparse MacArray, outputs identical",
          "[sim][systemc]") {
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
  for (const char* k : {"MacArray", "MulShift", "Lut", "Softmax", "LayerNorm", "Add", "Movement"})
    CHECK(kinds.count(k));
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

TEST_CASE("SystemC/errors: a geometry that cannot map a layer names it, and several engines live side by side",
          "[sim][systemc]") {
  const IntGraph q = quantize_example("fmnist_cnn.onnx", shipped_config("w8a8.yaml"), "w8a8.yaml");
  HardwareConfig hw;
  hw.mac_rows = 0;
  CHECK_THROWS_WITH(SystemCEngine(q, hw),
                    Catch::Contains("(conv_mac)") && Catch::Contains("0 x 16 MAC array cannot map this layer"));
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

TEST_CASE("SystemC/the config's hardware section: read, saved with the IntGraph, errors with file:line",
          "[sim][systemc][config]") {
  const QuantConfig c = parse_quant_config(
      "defaults:\n  weights: {bits: 8}\nhardware:\n  mac_array: {rows: 8, cols: 32, dataflow: output_stationary}\n  "
      "fifo_depth: 4\n",
      "hw.yaml");
  CHECK(c.hardware.mac_rows == 8);
  CHECK(c.hardware.mac_cols == 32);
  CHECK(c.hardware.dataflow == Dataflow::output_stationary);
  CHECK(c.hardware.fifo_depth == 4);
  CHECK_THROWS_WITH(parse_quant_config("hardware:\n  mac_array: {rows: 0}\n", "hw.yaml"),
                    Catch::Contains("hw.yaml:2:") && Catch::Contains("'rows' is 0"));
  CHECK_THROWS_WITH(
      parse_quant_config("hardware:\n  mac_array: {dataflow: row_stationary}\n", "hw.yaml"),
      Catch::Contains("hw.yaml:2:") && Catch::Contains("expected weight_stationary or output_stationary"));
  CHECK_THROWS_WITH(parse_quant_config("hardware:\n  pe: 3\n", "hw.yaml"), Catch::Contains("unknown key 'pe'"));
}

namespace {

// A MAC array reduced to its definition, fed only a MacArray's tile streams: for every drained
// accumulator, bias + Σ (a − za)·(w − zw) over the tiles and PE rows that feed it. Returns how many
// accumulators it compared; each must equal the drained value. Positions past P and channels past M
// (the padding of partial tiles) are skipped.
int64_t check_streams_drive_an_array(const Node& op, const HardwareConfig& hw, const TileStreams& s,
                                     const std::vector<int64_t>& bias, int32_t za, int32_t zw, int64_t groups,
                                     int64_t positions, int64_t channels) {
  const int64_t R = hw.mac_rows, C = hw.mac_cols;
  const auto& w = s.weights.data;
  const auto& a = s.activations.data;
  const auto& y = s.accumulators.data;
  int64_t compared = 0, wrong = 0, beyond_groups = 0;
  std::string first;
  auto expect = [&](int64_t g, int64_t p, int64_t m, int64_t sum, int32_t drained) {
    if (g >= groups) ++beyond_groups;  // more tiles than the layer's products need
    if (g >= groups || p >= positions || m >= channels) return;
    const int64_t b = bias.empty() ? 0 : bias.at(static_cast<size_t>(g * channels + m));
    const int32_t computed = static_cast<int32_t>(static_cast<uint32_t>(b + sum));
    if (computed != drained && wrong++ == 0)
      first = op.name + " group " + std::to_string(g) + " position " + std::to_string(p) + " channel " +
              std::to_string(m) + ": computed " + std::to_string(computed) + ", drained " + std::to_string(drained);
    ++compared;
  };
  if (hw.dataflow == Dataflow::weight_stationary) {
    const int64_t tiles = s.weights.shape[0], KT = tiles / (s.accumulators.shape[0]), P = s.activations.shape[1];
    for (int64_t gc = 0; gc < s.accumulators.shape[0]; ++gc) {
      const int64_t CT = (channels + C - 1) / C, g = gc / CT, ct = gc % CT;
      for (int64_t p = 0; p < P; ++p)
        for (int64_t c = 0; c < C; ++c) {
          int64_t sum = 0;
          for (int64_t kt = 0; kt < KT; ++kt)
            for (int64_t r = 0; r < R; ++r)
              sum += int64_t{a[((gc * KT + kt) * P + p) * R + r] - za} * (w[((gc * KT + kt) * R + r) * C + c] - zw);
          expect(g, p, ct * C + c, sum, y[(gc * P + p) * C + c]);
        }
    }
  } else {
    const int64_t tiles = s.weights.shape[0], K = s.weights.shape[1];
    const int64_t CT = (channels + C - 1) / C, PT = (positions + R - 1) / R;
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t g = t / (PT * CT), pt = t / CT % PT, ct = t % CT;
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < C; ++c) {
          int64_t sum = 0;
          for (int64_t k = 0; k < K; ++k) sum += int64_t{a[(t * K + k) * R + r] - za} * (w[(t * K + k) * C + c] - zw);
          expect(g, pt * R + r, ct * C + c, sum, y[(t * R + r) * C + c]);
        }
    }
  }
  INFO(first);
  CHECK(wrong == 0);
  CHECK(beyond_groups == 0);
  return compared;
}

// The drained accumulators are the layer's: the same values as the DirectEngine's tensor, plus one zero
// per padding slot (a mapping-free comparison of the sorted values).
void check_drained_values(const TileStreams& s, const CodeTensor& direct_accumulators) {
  std::vector<int32_t> drained = s.accumulators.data, want = direct_accumulators.data;
  REQUIRE(drained.size() >= want.size());
  want.resize(drained.size(), 0);
  std::sort(drained.begin(), drained.end());
  std::sort(want.begin(), want.end());
  CHECK(drained == want);
}

void check_tile_streams(const IntGraph& q, const HardwareConfig& hw, int64_t images) {
  SystemCEngine engine(q, hw);
  const Tensor x = test_images(q, images);
  RunTrace want, got;
  DirectEngine(q).run(x, &want);
  engine.run(x, &got);
  int64_t layers = 0, compared = 0;
  for (const Node& op : q.ops) {
    if (systemc_kind(op) != "MacArray") continue;
    INFO(op.name << " on a " << hw.mac_rows << " x " << hw.mac_cols << " " << to_string(hw.dataflow) << " array");
    REQUIRE(got.tile_streams.count(op.name));
    const TileStreams& s = got.tile_streams.at(op.name);
    const CodeTensor& acc = want.values.at(op.outputs[0]);
    check_drained_values(s, acc);
    const int32_t za = static_cast<int32_t>(q.values.at(op.inputs[0]).quant.zero_point);
    int64_t groups = 1, positions = 0, channels = 0;
    int32_t zw = 0;
    std::vector<int64_t> bias;
    if (op.op_type == "conv_mac") {
      groups = op.get_int("group", 1), positions = acc.shape[0] * acc.shape[2] * acc.shape[3],
      channels = acc.shape[1] / groups;
    } else if (op.op_type == "linear_mac") {
      channels = acc.shape.back(), positions = static_cast<int64_t>(acc.data.size()) / channels;
    } else {
      const size_t r = acc.shape.size();
      positions = acc.shape[r - 2], channels = acc.shape[r - 1],
      groups = static_cast<int64_t>(acc.data.size()) / (positions * channels);
      zw = static_cast<int32_t>(q.values.at(op.inputs[1]).quant.zero_point);
    }
    if (op.op_type != "matmul_mac" && op.inputs.size() > 2) bias = q.constants.at(op.inputs[2]).ints;
    compared += check_streams_drive_an_array(op, hw, s, bias, za, zw, groups, positions, channels);
    CHECK(s.weights.data.size() == static_cast<size_t>(element_count(s.weights.shape)));
    CHECK(s.activations.data.size() == static_cast<size_t>(element_count(s.activations.shape)));
    ++layers;
  }
  CHECK(layers > 0);
  int64_t accumulators = 0;
  for (const Node& op : q.ops)
    if (systemc_kind(op) == "MacArray") accumulators += static_cast<int64_t>(want.values.at(op.outputs[0]).data.size());
  CHECK(compared == accumulators);  // every accumulator of every MAC layer recomputed from the streams
}

}  // namespace

TEST_CASE("SystemC/tile streams drive a plain MAC array to the DirectEngine's accumulators",
          "[sim][systemc][streams]") {
  const IntGraph cnn = quantize_example("fmnist_cnn.onnx", shipped_config("w8a8.yaml"), "w8a8.yaml");
  const IntGraph vit = quantize_example("fmnist_vit.onnx", shipped_config("w8a8.yaml"), "w8a8.yaml");
  for (Dataflow d : {Dataflow::weight_stationary, Dataflow::output_stationary})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{16, 16}, {3, 5}}) {
      HardwareConfig hw;
      hw.mac_rows = rows, hw.mac_cols = cols, hw.dataflow = d;
      check_tile_streams(cnn, hw, 2);  // stem, strided, depthwise, pointwise, 3x3 convs and the linear head
      check_tile_streams(vit, hw, 2);  // patch conv, linear layers and the attention matmuls
    }
}

// uint8 weights with a zero point per channel: the MacArrays multiply code − zero point as the DirectEngine does,
// and their tile streams (which carry code − zero point) still drive a plain array to the same accumulators.
TEST_CASE("SystemC/uint8 weights with zero points: identical tensors, tile streams exact", "[sim][systemc][streams]") {
  const IntGraph q = quantize_example("fmnist_cnn.onnx", shipped_config("w8a8-uint8.yaml"), "w8a8-uint8.yaml");
  SystemCEngine engine(q);
  require_same_as_direct(q, engine, 50);
  for (Dataflow d : {Dataflow::weight_stationary, Dataflow::output_stationary}) {
    HardwareConfig hw;
    hw.mac_rows = 3, hw.mac_cols = 5, hw.dataflow = d;
    check_tile_streams(q, hw, 1);
  }
}
