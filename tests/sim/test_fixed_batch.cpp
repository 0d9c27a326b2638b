// Models exported with a fixed batch (torch.onnx.export's default, issue 25 item 5): their constants hold
// the batch (here a Reshape to [B, -1] and a class token [1, 1, 6]), so that N inputs run as N / B runs
// of B. Oracles: each input run alone (the float executor, both engines, their traces), the float model
// (every integer output within a few LSB), and the dual-path check (every layer within 1 LSB of its
// fake-quant computation, which indexes one run's tensors by the trace of the same inputs).

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "analysis/dual_path.hpp"
#include "model/executor.hpp"
#include "model/onnx_import.hpp"
#include "quant/config.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "sim/systemc/engine.hpp"
#include "support/onnx_builder.hpp"

using namespace chipref;
using namespace chipref::testing;

namespace {
// x [B, 4, 6] → Concat(class token [1, 1, 6], x) on axis 1 (batch 1 only: a [1, 1, 6] token joins no
// other batch) → + a row constant [1, 1, 6] broadcast over the tokens → MatMul [6, 3] → Reshape [B, -1] →
// y [B, 15] (B = 1) or [B, 12].
std::string fixed_batch_model(int64_t batch) {
  const bool token = batch == 1;
  std::mt19937_64 rng(7);
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("fixed_batch");
  add_io(g->add_input(), "x", {batch, 4, 6});
  add_io(g->add_output(), "y", {batch, token ? 15 : 12});
  add_float(g, "class_token", {1, 1, 6}, rng);
  add_float(g, "row_bias", {1, 1, 6}, rng);
  add_float(g, "w", {6, 3}, rng);
  add_ints(g, "flat", {batch, -1});
  if (token)
    set_attr(add_node(g, "Concat", "/cat", {"class_token", "x"}, "tokens"), "axis", {1}, true);
  else
    add_node(g, "Identity", "/tokens", {"x"}, "tokens");
  add_node(g, "Add", "/add_row", {"tokens", "row_bias"}, "biased");
  add_node(g, "MatMul", "/fc/MatMul", {"biased", "w"}, "h");
  add_node(g, "Reshape", "/flatten", {"h", "flat"}, "y");
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}

void check_same_trace(const RunTrace& stacked, const std::vector<RunTrace>& alone) {
  for (const auto& [name, codes] : stacked.values) {
    INFO(name);
    std::vector<int32_t> joined;
    for (const RunTrace& t : alone)
      joined.insert(joined.end(), t.values.at(name).data.begin(), t.values.at(name).data.end());
    CHECK(codes.data == joined);
    CHECK(codes.shape.at(0) == static_cast<int64_t>(alone.size()) * alone.at(0).values.at(name).shape.at(0));
  }
}
}  // namespace

TEST_CASE("Fixed batch/a batch-1 export calibrates, runs and traces N inputs as N runs of one", "[sim][fixed_batch]") {
  const Graph g = import_onnx_bytes(fixed_batch_model(1), "fixed1.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(40, 1);  // 40 inputs through a graph that takes 1
  const IntGraph q = quantize(QuantizeInputs{&g, &config, &calibration, "fixed1.onnx", {}});
  CHECK(fixed_batch(q) == 1);

  const Tensor x = random_inputs(7, 2);
  const FloatExecutor exec(g);
  const Tensor ref = exec.run({{"x", x}}).at("y");
  REQUIRE(ref.shape == Shape{7, 15});
  const DirectEngine direct(q);
  SystemCEngine systemc(q);
  RunTrace direct_trace, systemc_trace;
  const Tensor y = direct.run(x, &direct_trace);
  CHECK(systemc.run(x, &systemc_trace).floats == y.floats);
  CHECK(direct.run(x).floats == y.floats);   // chunked without a trace
  CHECK(systemc.run(x).floats == y.floats);  // several transactions
  std::vector<RunTrace> alone(7);
  for (int64_t i = 0; i < 7; ++i) {
    const Tensor xi = rows_of(x, i, 1);
    const Tensor yi = direct.run(xi, &alone[static_cast<size_t>(i)]);
    CHECK(std::equal(yi.floats.begin(), yi.floats.end(), y.floats.begin() + i * 15));
    const Tensor fi = exec.run({{"x", xi}}).at("y");
    CHECK(std::equal(fi.floats.begin(), fi.floats.end(), ref.floats.begin() + i * 15));
  }
  check_same_trace(direct_trace, alone);
  check_same_trace(systemc_trace, alone);

  // Against the float model: a misplaced class token or a lost row constant is off by many LSB.
  const double lsb = q.values.at("y").quant.scale;
  double worst = 0;
  for (size_t i = 0; i < y.floats.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(y.floats[i]) - ref.floats[i]) / lsb);
  INFO("worst |integer − float| = " << worst << " output LSB");
  CHECK(worst <= 3.0);

  const DualPathReport report = compare_paths(g, q, LabelledImages{x, std::vector<int64_t>(7, 0)}, 100);
  REQUIRE(!report.layers.empty());
  for (const LayerComparison& l : report.layers) {
    INFO(l.value << ": max " << l.max_abs_lsb << " LSB");
    CHECK(l.elements > 0);
    CHECK(l.max_abs_lsb <= 1);
  }
}

TEST_CASE("Fixed batch/inputs that are not a multiple of the exported batch are an error naming it",
          "[sim][fixed_batch]") {
  const Graph g = import_onnx_bytes(fixed_batch_model(2), "fixed2.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(40, 1);
  const IntGraph q = quantize(QuantizeInputs{&g, &config, &calibration, "fixed2.onnx", {}});
  const Tensor three = random_inputs(3, 2);
  CHECK_THROWS_WITH(FloatExecutor(g).run({{"x", three}}),
                    Catch::Contains("fixed batch of 2") && Catch::Contains("3 inputs are not a multiple"));
  CHECK_THROWS_WITH(DirectEngine(q).run(three), Catch::Contains("fixed batch of 2"));
  RunTrace trace;
  CHECK_THROWS_WITH(DirectEngine(q).run(three, &trace), Catch::Contains("fixed batch of 2"));
  SystemCEngine systemc(q);
  CHECK_THROWS_WITH(systemc.run(three), Catch::Contains("fixed batch of 2"));
  // Six inputs run as three runs of two, the same as three calls.
  const Tensor six = random_inputs(6, 3);
  const Tensor together = DirectEngine(q).run(six);
  for (int64_t i = 0; i < 3; ++i) {
    const Tensor part = DirectEngine(q).run(rows_of(six, 2 * i, 2));
    CHECK(std::equal(part.floats.begin(), part.floats.end(), together.floats.begin() + i * 24));
  }
}

TEST_CASE("DirectEngine/jobs: chunks on 3 threads give the traced run's outputs bit for bit, dynamic and fixed batch",
          "[sim][jobs]") {
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "a8.yaml");
  const Tensor calibration = random_inputs(60, 1);
  const Graph dynamic = import_onnx_bytes(issue25_ops_model(), "issue25_ops.onnx");
  const Graph fixed = import_onnx_bytes(fixed_batch_model(1), "fixed1.onnx");
  for (const Graph* g : {&dynamic, &fixed}) {
    const IntGraph q = quantize(QuantizeInputs{g, &config, &calibration, g->source, {}});
    DirectEngine engine(q);
    const Tensor x = random_inputs(45, 3);  // 6 chunks of 8 (the last of 5), or 45 runs of 1
    RunTrace trace;                         // a traced run is one whole-batch run, never chunked
    const Tensor whole = engine.run(x, &trace);
    const Tensor one_thread = engine.run(x);
    engine.set_jobs(3);
    const Tensor three_threads = engine.run(x);
    INFO(g->source);
    CHECK(one_thread.shape == whole.shape);
    CHECK(one_thread.floats == whole.floats);
    CHECK(three_threads.shape == whole.shape);
    CHECK(three_threads.floats == whole.floats);

    Tensor bad = x;  // an error in a later chunk reaches the caller, named, whatever thread met it
    bad.floats.at(40 * 24 + 5) = std::nanf("");
    CHECK_THROWS_WITH(engine.run(bad), Catch::Contains("NaN"));
  }
}
