// Sweeps (sweep/, docs/sweep.md): bad sweep files are errors at their line; grid, list and random
// sampling give the points they define; a point's accuracy, weight memory and cost equal what an
// independent quantize + DirectEngine run and the float model's own weight counts give; merged shards,
// a parallel run and a cached re-run all equal the single run, file for file; the Pareto front of a
// hand-made set; the accumulator analysis flags a narrow saturating accumulator that overflows.
#include <catch2/catch.hpp>

#include "model/io/idx.hpp"

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "core/files.hpp"
#include "model/evaluate.hpp"
#include "model/executor.hpp"
#include "model/io/npy.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "sweep/report.hpp"
#include "sweep/run.hpp"
#include "sweep/spec.hpp"

using namespace chipref;
namespace fs = std::filesystem;

namespace {

const std::string kSource = CHIPREF_SOURCE_DIR;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("chipref_test_sweep_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A sweep file in `dir` over the shipped CNN and a base config written beside it.
std::string write_sweep(const fs::path& dir, const std::string& body,
                        const std::string& base = "defaults:\n  weights: {bits: 8}\n  activations: {bits: 8}\n") {
  std::ofstream(dir / "base.yaml") << base;
  std::ofstream(dir / "sweep.yaml") << "model: " << kSource << "/examples/fmnist_cnn.onnx\nbase: base.yaml\n" << body;
  return (dir / "sweep.yaml").string();
}

std::string error_of(const std::string& path) {
  try {
    const sweep::SweepSpec spec = sweep::load_sweep(path);
    sweep::make_points(spec, "salt");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

const std::string kSmallData = "data: {eval_images: 200, calibration_images: 100, detail_images: 50}\n";

}  // namespace

TEST_CASE("Sweep/bad sweep files are errors at their line", "[sweep]") {
  const fs::path dir = scratch("errors");
  const std::string axes = "axes:\n  wb: {key: weights.bits, values: [4, 8]}\n";
  struct Case {
    std::string body, where, message;
  };
  const std::vector<Case> cases = {
      {"colour: red\n" + axes, ":3:1:", "unknown key 'colour' in the sweep"},
      {"axes:\n  wb: {key: weights.width, values: [4]}\n",
       ":4:13:", "'weights.width' is not a config key a sweep can vary"},
      {"axes:\n  wb: {key: weights.bits, values: [4, 99]}\n",
       ":4:39:", "axis wb value '99' makes an invalid config: 'bits' is 99; expected 2..16"},
      {"axes:\n  wb: {key: weights.bits, values: []}\n", ":4:35:", "'values' must be a non-empty list"},
      {"sampling: random\n" + axes, ":3:11:", "random sampling needs 'samples'"},
      {"sampling: list\n" + axes + "points:\n  - {ab: 4}\n", ":7:5:", "this point gives no value for axis 'wb'"},
      {"sampling: list\n" + axes + "points:\n  - {wb: 5}\n", ":7:10:", "'5' is not one of axis wb's values"},
      {"samples: 3\n" + axes, ":3:10:", "'samples' is for random sampling only"},
      {"data: {eval_images: 0}\n" + axes, ":3:21:", "'eval_images' is 0; expected 1..10000"},
  };
  for (const Case& c : cases) {
    const std::string path = write_sweep(dir, c.body);
    const std::string what = error_of(path);
    INFO(c.body << "\n" << what);
    CHECK(what.rfind(path + c.where, 0) == 0);
    CHECK(what.find(c.message) != std::string::npos);
  }
  // 7 axes of 8 values: 2^21 grid points, over the limit, refused before any point is made; 40 axes of
  // 8 values overflow 64 bits and say so too.
  auto many_axes = [](int n) {
    std::string text = "axes:\n";
    for (int i = 0; i < n; ++i)
      text += "  a" + std::to_string(i) + ": {key: weights.bits, layers: \"/l" + std::to_string(i) +
              "/*\", values: [2, 3, 4, 5, 6, 7, 8, 9]}\n";
    return text;
  };
  for (const auto& [n, says] : {std::pair<int, std::string>{7, "the grid has 2097152 points, more than the 1000000"},
                                {40, "the grid has 2^64 points or more, more than the 1000000"}}) {
    const std::string what = error_of(write_sweep(dir, many_axes(n)));
    INFO(what);
    CHECK(what.find("sweep.yaml:4:3: " + says) != std::string::npos);
  }
  {  // sampled, such a grid is fine: distinct points drawn without listing the grid
    const sweep::SweepSpec big =
        sweep::load_sweep(write_sweep(dir, "sampling: random\nsamples: 6\nseed: 3\n" + many_axes(40)));
    CHECK(sweep::grid_size(big) == SIZE_MAX);
    const auto points = sweep::make_points(big, "salt");
    REQUIRE(points.size() == 6);
    std::set<std::vector<size_t>> distinct;
    for (const auto& p : points) distinct.insert(p.choice);
    CHECK(distinct.size() == 6);
  }
  std::ofstream(dir / "nomodel.yaml") << "model: missing.onnx\nbase: base.yaml\n" << axes;
  CHECK(error_of((dir / "nomodel.yaml").string()).find("nomodel.yaml:1:8: no model file") != std::string::npos);
}

TEST_CASE("Sweep/grid, list and random sampling give the points they define", "[sweep]") {
  const fs::path dir = scratch("sampling");
  const std::string axes =
      "axes:\n  wb: {key: weights.bits, values: [2, 4, 8]}\n  ab: {key: activations.bits, values: [6, 8]}\n"
      "  head: {key: weights.bits, layers: \"/head/*\", values: [4, 8]}\n";
  const auto grid = sweep::make_points(sweep::load_sweep(write_sweep(dir, axes)), "salt");
  REQUIRE(grid.size() == 12);
  // Row-major, first axis slowest: point 7 is wb=4 (index 1), ab=8 (1), head=8 (1).
  CHECK(grid[7].choice == std::vector<size_t>{1, 1, 1});
  CHECK(grid[7].config.defaults.weight_bits == 4);
  CHECK(grid[7].config.defaults.activation_bits == 8);
  CHECK(grid[7].config.for_node("/head/Gemm").weight_bits == 8);
  CHECK(grid[6].config.for_node("/head/Gemm").weight_bits == 4);
  CHECK(grid[6].config.for_node("/stem/stem.0/Conv").weight_bits == 4);
  std::set<std::string> ids;
  for (const auto& p : grid) ids.insert(p.id);
  CHECK(ids.size() == 12);

  const auto listed = sweep::make_points(
      sweep::load_sweep(write_sweep(
          dir, "sampling: list\n" + axes + "points:\n  - {wb: 8, ab: 6, head: 4}\n  - {wb: 2, ab: 8, head: 8}\n")),
      "salt");
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].choice == std::vector<size_t>{2, 0, 0});
  CHECK(listed[1].id == grid[3].id);  // the same config is the same point

  const std::string random = "sampling: random\nsamples: 5\nseed: 7\n" + axes;
  const auto a = sweep::make_points(sweep::load_sweep(write_sweep(dir, random)), "salt");
  const auto b = sweep::make_points(sweep::load_sweep(write_sweep(dir, random)), "salt");
  REQUIRE(a.size() == 5);
  std::set<std::string> picked;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].id == b[i].id);  // deterministic
    picked.insert(a[i].id);
    CHECK(ids.count(a[i].id));  // from the grid
  }
  CHECK(picked.size() == 5);  // no repeats
}

TEST_CASE("Sweep/a point's accuracy, weight memory and cost equal an independent evaluation", "[sweep]") {
  const fs::path dir = scratch("independent");
  const sweep::SweepSpec spec =
      sweep::load_sweep(write_sweep(dir, kSmallData + "axes:\n  wb: {key: weights.bits, values: [4]}\n"));
  const sweep::SweepData data = sweep::load_sweep_data(spec);
  const auto points = sweep::make_points(spec, data.salt);
  const sweep::PointResult r = sweep::evaluate_point(spec, data, points.at(0));
  REQUIRE(r.error.empty());

  // The same network, built here without the sweep: 4-bit weights, 8-bit activations.
  const std::string model = kSource + "/examples/fmnist_cnn.onnx";
  const Preprocess norm = *read_sidecar_preprocess(model);
  const Graph graph = import_onnx(model);
  const QuantConfig config = parse_quant_config("defaults:\n  weights: {bits: 4}\n  activations: {bits: 8}\n", "w4a8");
  const Tensor calibration = load_fashion_mnist("train", 100, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, model, norm});
  const LabelledImages test = load_fashion_mnist("t10k", 200, norm);
  Top1Result top1;
  count_top1(DirectEngine(q).run(test.images), 200, test.labels, 0, "w4a8", top1);
  CHECK(r.correct == top1.correct);
  CHECK(r.count == 200);

  // Weight memory: every MAC weight of the float model at 4 bits; cost: each layer's MACs (output
  // elements × reduction, from the float shapes) × 4 × 8 (every MAC input is 8-bit here).
  int64_t weights = 0;
  for (const Node& n : graph.nodes)
    if (n.op_type == "Conv" || n.op_type == "Gemm") weights += graph.initializers.at(n.inputs.at(1)).numel();
  CHECK(r.weight_memory_bits == weights * 4);
  CHECK(r.macs == 1951072);  // chipref inspect's total, and 28·28·16·9 + 14·14·32·144 + 14·14·32·9 + 14·14·32·32 +
                             // 7·7·48·288 + 10·48
  CHECK(r.macs ==
        28 * 28 * 16 * 9 + 14 * 14 * 32 * 144 + 14 * 14 * 32 * 9 + 14 * 14 * 32 * 32 + 7 * 7 * 48 * 288 + 10 * 48);
  CHECK(r.cost == Approx(static_cast<double>(r.macs) * 4 * 8));
  for (const sweep::LayerResult& l : r.layers) {
    INFO(l.layer);
    CHECK(l.weight_bits == 4);
    CHECK(l.act_bits == 8);
    CHECK(l.acc_observed_bits <= l.acc_worst_bits);  // the data cannot need more than any input could
    CHECK(l.overflow_events == 0);
    CHECK(l.sqnr_db > 0);
  }
}

TEST_CASE("Sweep/a block-format point counts element and scale bits in its cost and weight memory", "[sweep]") {
  const fs::path dir = scratch("block_format");
  const sweep::SweepSpec spec = sweep::load_sweep(
      write_sweep(dir, kSmallData + "axes:\n  fmt: {key: format.name, values: [mxint8, mxfp4_e2m1]}\n"));
  const sweep::SweepData data = sweep::load_sweep_data(spec);
  const auto points = sweep::make_points(spec, data.salt);
  const Graph graph = import_onnx(kSource + "/examples/fmnist_cnn.onnx");
  int64_t weights = 0, blocks = 0;
  for (const Node& n : graph.nodes) {
    if (n.op_type != "Conv" && n.op_type != "Gemm") continue;
    const Tensor& w = graph.initializers.at(n.inputs.at(1));
    weights += w.numel();
    // Blocks of 32 along the input channels of each kernel tap (a Gemm's [out, in]: one tap).
    const int64_t cg = w.shape[1], taps = w.numel() / (w.shape[0] * cg);
    blocks += w.shape[0] * taps * ((cg + 31) / 32);
  }
  for (const auto& [point, bits] : {std::pair<size_t, int>{0, 8}, {1, 4}}) {
    const sweep::PointResult r = sweep::evaluate_point(spec, data, points.at(point));
    REQUIRE(r.error.empty());
    INFO(r.values.at(0));
    CHECK(r.macs == 1951072);  // the same layers as the integer network (chipref inspect's total)
    CHECK(r.weight_memory_bits == weights * bits + blocks * 8);
    CHECK(r.cost == Approx(static_cast<double>(r.macs) * (bits + 0.25) * (bits + 0.25)));
    CHECK(std::isfinite(r.min_sqnr_db));
    REQUIRE(r.layers.size() == 6);
    for (const sweep::LayerResult& l : r.layers) CHECK(l.sqnr_db > 0);
  }
}

TEST_CASE(
    "Sweep/configs/sweep_formats.yaml: int8 and five block formats, each point evaluated, the Pareto plot written",
    "[sweep][mx]") {
  const fs::path dir = scratch("formats");
  sweep::SweepSpec spec = sweep::load_sweep(kSource + "/configs/sweep_formats.yaml");
  spec.eval_images = 200, spec.calibration_images = 100, spec.detail_images = 20;
  const sweep::RunSummary s = sweep::run_sweep(spec, (dir / "out").string(), {});
  REQUIRE(s.results.size() == 6);
  std::set<double> costs;
  for (const sweep::PointResult& r : s.results) {
    INFO(r.values.at(0) << ": " << r.error);
    CHECK(r.error.empty());
    CHECK(r.count == 200);
    costs.insert(r.cost);
  }
  CHECK(costs.size() == 5);  // MXINT8 and MXFP8 E4M3 both cost 8 + 8 / 32 bits an element
  for (const char* file : {"results.csv", "pareto.dat", "accuracy_vs_cost.png", "accuracy_vs_cost.svg"})
    CHECK(fs::file_size(dir / "out" / file) > 0);
}

TEST_CASE("Sweep/merged shards, a parallel run and a cached re-run equal the single run", "[sweep]") {
  const fs::path dir = scratch("shards");
  const std::string path = write_sweep(
      dir, kSmallData +
               "axes:\n  wb: {key: weights.bits, values: [3, 5, 8]}\n  ab: {key: activations.bits, values: [6, 8]}\n");
  const sweep::SweepSpec spec = sweep::load_sweep(path);
  auto run = [&](const std::string& out, sweep::RunOptions o) {
    const sweep::RunSummary s = sweep::run_sweep(spec, (dir / out).string(), o);
    return s;
  };
  const sweep::RunSummary single = run("single", {});
  CHECK(single.computed == 6);
  const std::string want = read_file_bytes((dir / "single" / "results.csv").string());

  std::vector<std::string> shard_dirs;
  for (int i = 0; i < 3; ++i) {
    const sweep::RunSummary s = run("shard" + std::to_string(i), sweep::RunOptions{1, i, 3});
    CHECK(s.results.size() == 2);
    shard_dirs.push_back((dir / ("shard" + std::to_string(i))).string());
  }
  const sweep::MergeSummary merged = sweep::merge_sweeps(shard_dirs, (dir / "merged").string());
  CHECK(merged.missing == 0);
  CHECK(read_file_bytes((dir / "merged" / "results.csv").string()) == want);
  CHECK(read_file_bytes((dir / "merged" / "results.json").string()) ==
        read_file_bytes((dir / "single" / "results.json").string()));

  // Two shards only: the third's points are reported missing.
  CHECK(sweep::merge_sweeps({shard_dirs[0], shard_dirs[1]}, (dir / "partial").string()).missing == 2);

  run("parallel", sweep::RunOptions{2, 0, 1});  // also the FP32 references in two slices
  CHECK(read_file_bytes((dir / "parallel" / "results.csv").string()) == want);
  CHECK(read_file_bytes((dir / "parallel" / "results.json").string()) ==
        read_file_bytes((dir / "single" / "results.json").string()));

  const sweep::RunSummary again = run("single", {});
  CHECK(again.computed == 0);
  CHECK(again.cached == 6);
  CHECK(read_file_bytes((dir / "single" / "results.csv").string()) == want);
  for (const char* f : {"report.md", "report.html", "results.json"}) CHECK(fs::is_regular_file(dir / "single" / f));
}

TEST_CASE("Sweep/the Pareto front of a hand-made set", "[sweep]") {
  // (cost, top-1): B is beaten by A (cheaper, better), D by C (same cost, better), E by C (same top-1,
  // cheaper); F failed; A and C remain, cheapest first.
  auto point = [](size_t index, double cost, int64_t correct, const std::string& error = "") {
    sweep::PointResult r;
    r.index = index, r.cost = cost, r.correct = correct, r.count = 100, r.error = error;
    return r;
  };
  const std::vector<sweep::PointResult> set = {point(0, 3, 90), point(1, 2, 40), point(2, 1, 50),
                                               point(3, 3, 80), point(4, 4, 90), point(5, 0.5, 99, "failed")};
  CHECK(sweep::pareto_front(set) == std::vector<size_t>{2, 0});
}

TEST_CASE("Sweep/the accumulator analysis flags a narrow saturating accumulator that overflows", "[sweep]") {
  const fs::path dir = scratch("accumulators");
  const std::string path =
      write_sweep(dir, kSmallData + "axes:\n  acc: {key: accumulator.bits, values: [16, 32]}\n",
                  "defaults:\n  weights: {bits: 8}\n  activations: {bits: 8}\n  accumulator: {overflow: saturate}\n");
  const sweep::SweepSpec spec = sweep::load_sweep(path);
  const sweep::RunSummary s = sweep::run_sweep(spec, (dir / "out").string(), {});
  REQUIRE(s.results.size() == 2);
  const sweep::PointResult& narrow = s.results[0];
  const sweep::PointResult& wide = s.results[1];
  CHECK(wide.overflow_events == 0);
  CHECK(narrow.overflow_events > 0);
  int64_t flagged = 0;
  for (size_t l = 0; l < narrow.layers.size(); ++l) {
    const sweep::LayerResult& n = narrow.layers[l];
    CHECK(n.acc_bits == 16);
    // A layer whose data needed more than 16 bits must have overflowed there, and its worst case says so.
    if (wide.layers[l].acc_observed_bits > 16) {
      CHECK(n.overflow_events > 0);
      CHECK(n.acc_worst_bits > 16);
    }
    flagged += n.acc_worst_bits > n.acc_bits;
  }
  CHECK(flagged > 0);
  CHECK(read_file_bytes((dir / "out" / "report.md").string()).find("can overflow") != std::string::npos);
}

TEST_CASE(
    "Sweep/sensitivity lowers one layer at a time, and the search's config meets its target when quantized on its own",
    "[sweep]") {
  const fs::path dir = scratch("search");
  const std::string path = write_sweep(dir, kSmallData +
                                                "sensitivity: {key: weights.bits, value: 3}\n"
                                                "search: {key: weights.bits, values: [8, 5, 3], target_top1: 0.8}\n");
  const sweep::SweepSpec spec = sweep::load_sweep(path);
  const sweep::RunSummary s = sweep::run_sweep(spec, (dir / "out").string(), {2, 0, 1});
  CHECK(s.results.empty());  // no axes: no grid
  // Nothing to plot against cost, but the sensitivity bars are drawn, and gnuplot failed nowhere.
  for (const char* file : {"sensitivity.png", "sensitivity.svg"}) CHECK(fs::file_size(dir / "out" / file) > 1000);
  for (const char* log : {"gnuplot.png.log", "gnuplot.svg.log"}) CHECK(!fs::exists(dir / "out" / log));

  const std::vector<std::string> layers = sweep::mac_layer_names(spec);
  REQUIRE(layers == std::vector<std::string>{"/stem/stem.0/Conv", "/down/down.0/Conv", "/dw/dw.0/Conv", "/pw/pw.0/Conv",
                                             "/conv3/conv3.0/Conv", "/head/Gemm"});
  REQUIRE(s.analyses.sensitivity);
  const auto& sens = *s.analyses.sensitivity;
  for (const sweep::LayerResult& l : sens.baseline.layers) CHECK(l.weight_bits == 8);
  REQUIRE(sens.layers.size() == layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    INFO(layers[i]);
    const sweep::PointResult& r = sens.layers[i].second;
    REQUIRE(r.layers.size() == layers.size());
    for (size_t l = 0; l < layers.size(); ++l)
      CHECK(r.layers[l].weight_bits == (l == i ? 3 : 8));  // read from the codes
  }

  REQUIRE(s.analyses.search);
  const auto& search = *s.analyses.search;
  REQUIRE(search.reached);
  // Each step lowers one layer by one value, keeps the target and costs less than the one before.
  double cost = search.start.cost;
  std::map<std::string, std::string> value;
  for (const std::string& l : layers) value[l] = "8";
  for (const auto& step : search.steps) {
    CHECK(step.result.top1() >= 0.8);
    CHECK(step.result.cost < cost);
    cost = step.result.cost;
    CHECK(step.value == (value[step.layer] == "8" ? "5" : "3"));
    value[step.layer] = step.value;
  }
  for (size_t l = 0; l < layers.size(); ++l) CHECK(search.final_values[l] == value[layers[l]]);
  // The written config, quantized and evaluated here: the top-1 the search reported, and every layer at
  // the bits it chose.
  const std::string written = read_file_bytes((dir / "out" / "search_config.yaml").string());
  const QuantConfig config = parse_quant_config(written, "search_config.yaml");
  const std::string model = kSource + "/examples/fmnist_cnn.onnx";
  const Preprocess norm = *read_sidecar_preprocess(model);
  const Graph graph = import_onnx(model);
  const Tensor calibration = load_fashion_mnist("train", 100, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, model, norm});
  const LabelledImages test = load_fashion_mnist("t10k", 200, norm);
  Top1Result top1;
  count_top1(DirectEngine(q).run(test.images), 200, test.labels, 0, "search", top1);
  const sweep::PointResult& last = search.steps.empty() ? search.start : search.steps.back().result;
  CHECK(top1.correct == last.correct);
  CHECK(top1.top1() >= 0.8);
  for (size_t l = 0; l < layers.size(); ++l)
    CHECK(config.for_node(layers[l]).weight_bits == std::stoi(search.final_values[l]));
  for (const char* f : {"sensitivity.csv", "search.csv", "report.md"}) CHECK(fs::is_regular_file(dir / "out" / f));
}

TEST_CASE(
    "Sweep/the input normalisation comes from the sweep file or the model's sidecar and is part of every point's "
    "identity",
    "[sweep]") {
  const fs::path dir = scratch("normalisation");
  const std::string axes = "axes:\n  wb: {key: weights.bits, values: [4, 8]}\n";
  auto ids = [&](const std::string& sweep_path) {
    const sweep::SweepSpec spec = sweep::load_sweep(sweep_path);
    std::vector<std::string> out;
    for (const sweep::Point& p : sweep::make_points(spec, sweep::sweep_salt(spec))) out.push_back(p.id);
    return out;
  };
  // The shipped CNN with its sidecar (mean 0.2860, std 0.3530), the same values written into the sweep
  // file, and other values: only the last changes what the points compute, and so their identity.
  const std::vector<std::string> from_sidecar = ids(write_sweep(dir, axes));
  const Preprocess sidecar = *read_sidecar_preprocess(kSource + "/examples/fmnist_cnn.onnx");
  const std::vector<std::string> same =
      ids(write_sweep(dir, (std::ostringstream() << std::setprecision(9) << "data: {mean: " << sidecar.mean.at(0)
                                                 << ", std: " << sidecar.std.at(0) << "}\n")
                                   .str() +
                               axes));
  const std::vector<std::string> other = ids(write_sweep(dir, "data: {mean: 0.5, std: 0.25}\n" + axes));
  CHECK(same == from_sidecar);
  CHECK(other[0] != from_sidecar[0]);
  CHECK(other[1] != from_sidecar[1]);
  // The model without its sidecar: no normalisation (a warning), and other points than with it.
  fs::copy_file(kSource + "/examples/fmnist_cnn.onnx", dir / "bare.onnx");
  std::ofstream(dir / "bare_sweep.yaml") << "model: bare.onnx\nbase: base.yaml\n" << axes;
  const std::vector<std::string> bare = ids((dir / "bare_sweep.yaml").string());
  CHECK(bare[0] != from_sidecar[0]);
  std::ofstream(dir / "bare.yaml")
      << "mean: 0.5\nstd: 0.25\n";  // a sidecar added later: the cache does not answer for it
  CHECK(ids((dir / "bare_sweep.yaml").string()) != bare);
  CHECK(error_of(write_sweep(dir, "data: {mean: 0.5}\n" + axes)).find("'mean' and 'std' go together") !=
        std::string::npos);
  CHECK(error_of(write_sweep(dir, "data: {mean: 0.5, std: 0}\n" + axes)).find("'std' is 0") != std::string::npos);
  // The data source: Fashion-MNIST named is the default (the same ids); another source, or the same
  // normalisation written as a pipeline with a resize, are other points.
  CHECK(ids(write_sweep(dir, "data: {source: fashion-mnist}\n" + axes)) == from_sidecar);
  const std::string idx = std::string("idx:") + kFashionMnistDir + "/t10k-images-idx3-ubyte.gz";
  CHECK(ids(write_sweep(dir, "data: {source: \"" + idx + "\"}\n" + axes))[0] != from_sidecar[0]);
  CHECK(ids(write_sweep(dir, "data: {preprocess: {resize: 28, mean: 0.5, std: 0.25}}\n" + axes))[0] != other[0]);
  CHECK(error_of(write_sweep(dir, "data: {preprocess: {mean: 0.5}, mean: 0.5, std: 0.5}\n" + axes))
            .find("either 'preprocess'") != std::string::npos);
  CHECK(error_of(write_sweep(dir, "data: {source: \"cifar7:x\"}\n" + axes)).find("unknown data source") !=
        std::string::npos);
}

TEST_CASE("Sweep/metric: top5 is the accuracy axis of the results, the report and the point ids", "[sweep]") {
  const fs::path dir = scratch("metric");
  const std::string axes = "axes:\n  wb: {key: weights.bits, values: [2, 8]}\n";
  const sweep::SweepSpec top1 = sweep::load_sweep(write_sweep(dir, kSmallData + axes));
  const sweep::SweepSpec top5 = sweep::load_sweep(write_sweep(dir, "metric: top5\n" + kSmallData + axes));
  CHECK(top1.metric == "top1");
  CHECK(top5.metric == "top5");
  CHECK(sweep::sweep_salt(top1) != sweep::sweep_salt(top5));  // a cached top-1 point never answers for top-5
  const sweep::RunSummary s = sweep::run_sweep(top5, (dir / "out").string(), {});
  REQUIRE(s.results.size() == 2);
  for (const sweep::PointResult& r : s.results) {
    CHECK(r.metric == "top5");
    CHECK(r.top5_correct >= r.correct);  // every top-1 hit is a top-5 hit
    CHECK(r.accuracy() == r.top5());
  }
  // 2-bit weights lose top-1 on this CNN far more than they lose top-5
  CHECK(s.results[0].top5_correct > s.results[0].correct);
  const std::string csv = read_file_bytes((dir / "out" / "results.csv").string());
  CHECK(csv.find(",top5,correct,count,") != std::string::npos);
  CHECK(read_file_bytes((dir / "out" / "report.md").string()).find("top-5") != std::string::npos);
  CHECK(error_of(write_sweep(dir, "metric: mse\n" + axes))
            .find("'metric' is 'mse'; expected one of: top1, top5, sqnr, cosine, agreement") != std::string::npos);
}

// The output SQNR, cosine and top-1 agreement with the float model, computed here from the float
// executor's and the DirectEngine's outputs by their textbook formulas (not by OutputAgreement).
TEST_CASE("Sweep/metric: sqnr, cosine and agreement compare with the float model, without labels", "[sweep]") {
  const fs::path dir = scratch("metric_against_float");
  const std::string model = kSource + "/examples/fmnist_cnn.onnx";
  const Preprocess norm = *read_sidecar_preprocess(model);
  // unlabelled inputs: the first 60 test images as a float .npy of model inputs
  const Tensor inputs = load_fashion_mnist("t10k", 60, norm).images;
  write_npy((dir / "inputs.npy").string(), inputs);
  const std::string data = "data: {source: inputs.npy, eval_images: 60, calibration_images: 60, detail_images: 10}\n";
  const std::string axes = "axes:\n  wb: {key: weights.bits, values: [3, 8]}\n";
  CHECK(error_of(write_sweep(dir, data + axes)) == "no error");  // loads; the labels are missing only at run time
  CHECK_THROWS_WITH(sweep::load_sweep_data(sweep::load_sweep(write_sweep(dir, data + axes))),
                    Catch::Contains("has no labels; the metric top1 counts them (metric: sqnr, cosine or agreement"));

  const Graph graph = import_onnx(model);
  const Tensor reference = FloatExecutor(graph).run({{graph.inputs[0].name, inputs}}).at(graph.outputs[0].name);
  for (const std::string metric : {"sqnr", "cosine", "agreement"}) {
    INFO(metric);
    const sweep::SweepSpec spec = sweep::load_sweep(write_sweep(dir, "metric: " + metric + "\n" + data + axes));
    const sweep::RunSummary s = sweep::run_sweep(spec, (dir / ("out_" + metric)).string(), {});
    REQUIRE(s.results.size() == 2);
    for (size_t point = 0; point < 2; ++point) {
      const sweep::PointResult& r = s.results[point];
      REQUIRE(r.error.empty());
      CHECK(r.against_float);
      CHECK(r.count == 60);
      CHECK(r.correct == 0);  // nothing to count without labels
      const int bits = point == 0 ? 3 : 8;
      const QuantConfig config = parse_quant_config(
          "defaults:\n  weights: {bits: " + std::to_string(bits) + "}\n  activations: {bits: 8}\n", "config");
      const IntGraph q = quantize(QuantizeInputs{&graph, &config, &inputs, model, norm});
      const Tensor integer = DirectEngine(q).run(inputs);
      REQUIRE(integer.floats.size() == reference.floats.size());
      double signal = 0, noise = 0, dot = 0, squares = 0;
      int64_t agree = 0;
      const int64_t classes = reference.shape.at(1);
      for (size_t i = 0; i < reference.floats.size(); ++i) {
        const double a = reference.floats[i], b = integer.floats[i];
        signal += a * a, noise += (a - b) * (a - b), dot += a * b, squares += b * b;
      }
      for (int64_t row = 0; row < 60; ++row) {
        const float* a = reference.floats.data() + row * classes;
        const float* b = integer.floats.data() + row * classes;
        agree += std::max_element(a, a + classes) - a == std::max_element(b, b + classes) - b;
      }
      CHECK(r.output_sqnr_db == Approx(10 * std::log10(signal / noise)).epsilon(1e-9));
      CHECK(r.output_cosine == Approx(dot / std::sqrt(signal * squares)).epsilon(1e-9));
      CHECK(r.output_agreement == Approx(agree / 60.0).epsilon(1e-12));
      CHECK(r.accuracy() == (metric == "sqnr"     ? r.output_sqnr_db
                             : metric == "cosine" ? r.output_cosine
                                                  : r.output_agreement));
    }
    // 3-bit weights are further from the float model than 8-bit ones
    CHECK(s.results[0].output_sqnr_db < s.results[1].output_sqnr_db - 6);
    // the figures survive the point cache: a re-run reads them back
    const sweep::RunSummary again = sweep::run_sweep(spec, (dir / ("out_" + metric)).string(), {});
    CHECK(again.cached == 2);
    CHECK(again.results[0].accuracy() == s.results[0].accuracy());
    CHECK(read_file_bytes((dir / ("out_" + metric) / "results.csv").string()).find("," + metric + ",correct,") !=
          std::string::npos);
  }
  CHECK(error_of(write_sweep(dir, "metric: sqnr\n" + data + axes +
                                      "search: {key: weights.bits, values: [8, 4], target_top1: 0.9}\n"))
            .find("'target_top1' is a top-1 target; this sweep's metric is sqnr: write 'target'") != std::string::npos);
  CHECK(error_of(write_sweep(dir, "metric: sqnr\n" + data + axes +
                                      "search: {key: weights.bits, values: [8, 4], target: 20}\n")) == "no error");
  CHECK(error_of(write_sweep(dir, "metric: cosine\n" + data + axes +
                                      "search: {key: weights.bits, values: [8, 4], target: 20}\n"))
            .find("'target' is 20; expected 0..1") != std::string::npos);
}
