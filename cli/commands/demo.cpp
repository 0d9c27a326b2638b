#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "analysis/dual_path.hpp"
#include "cli/commands/commands.hpp"
#include "cli/commands/engine.hpp"
#include "core/data_files.hpp"
#include "model/evaluate.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "ops/op_def.hpp"
#include "quant/quantize.hpp"
#include "quant/selfcheck.hpp"
#include "rtl_bridge/reference_blocks.hpp"
#include "sim/direct_engine.hpp"
#include "sim/systemc/engine.hpp"
#include "vectors/vectors.hpp"

#ifndef CHIPREF_SOURCE_DIR
#error "CHIPREF_SOURCE_DIR must point at the source tree (examples/, configs/; core/data_files.hpp)"
#endif

namespace chipref::cli {

namespace {
struct DemoOptions {
  int multiplier_bits = 31;
  int64_t limit = 0;
  bool show_numerics = false;
  std::string which = "both";  // the shipped models to run: cnn, vit or both
  std::string vectors_dir = (std::filesystem::temp_directory_path() / "chipref-demo").string();
  std::string config = chipref_data_file("configs/w8a8.yaml", CHIPREF_SOURCE_DIR);
  // The shipped models read 1x28x28 Fashion-MNIST images; another copy of them (an IDX pair, an .npy with
  // labels) serves a machine without Debian's dataset-fashion-mnist.
  std::string data = "fashion-mnist";
};

// The labelled inputs of `split` (the first `limit`, 0: all) through the model's preprocessing.
LabelledImages demo_data(const DemoOptions& o, DataSplit split, int64_t limit, const Preprocess& preprocess) {
  DataRequest request;
  request.split = split, request.limit = limit, request.preprocess = preprocess;
  const std::unique_ptr<Dataset> data = open_dataset(o.data, request);
  if (!data->has_labels())
    throw InputError("demo --data " + o.data + ": the demo measures accuracy; these inputs have no labels");
  return LabelledImages{data->rows(0, data->count()), data->labels()};
}

void print_numerics_table(const SelfCheckReport& report) {
  std::string last_label;
  for (const SelfCheckCase& c : report.cases) {
    if (c.label != last_label) {
      last_label = c.label;
      fmt::print("\n{}: scale {:.10g} -> multiplier {} ({} bits), shift {:+d} (represents {:.12g}); output {} zp {}\n",
                 c.label, c.scale, c.multiplier.multiplier, c.multiplier.bits, c.multiplier.shift, c.multiplier.value(),
                 c.out.name(), c.zero_point);
      fmt::print("{:>12} {:>16}", "acc", "exact");
      for (const std::string& name : report.column_names) fmt::print(" {:>17}", name);
      fmt::print("\n");
    }
    fmt::print("{:>12} {:>16.6f}", c.acc, c.exact);
    for (size_t i = 0; i < c.results.size(); ++i) fmt::print(" {:>16}{}", c.results[i], c.within_bound[i] ? ' ' : '!');
    fmt::print("\n");
  }
  fmt::print("\n");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Quantize one shipped model, compare FP32 and integer top-1, and summarise the dual-path check.
IntGraph demo_model(const DemoOptions& o, const std::string& model, int step, int steps) {
  auto t0 = std::chrono::steady_clock::now();
  const QuantConfig config = load_quant_config(o.config);
  const Preprocess norm = choose_normalisation(model, std::nullopt, "").norm;
  const Graph graph = import_onnx(model);
  const Tensor calibration = demo_data(o, DataSplit::train, config.calibration_images, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, model, norm});
  fmt::print(
      "[{}/{}] quantized {} with {} ({} calibration images): {} integer ops, integer-only check passed ({:.1f} s)\n",
      step, steps, model, o.config, calibration.shape[0], q.ops.size(), seconds_since(t0));

  // Accuracy, float reference against the bit-accurate integer network.
  const LabelledImages test = demo_data(o, DataSplit::test, o.limit, norm);
  t0 = std::chrono::steady_clock::now();
  const Top1Result fp32 = evaluate_top1(graph, test);
  const double fp32_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const DirectEngine engine(q);
  const Top1Result integer = evaluate_top1([&](const Tensor& x) { return engine.run(x); }, test, 100, "IntGraph");
  const double int_s = seconds_since(t0);
  fmt::print("      {} (test inputs), {} images:\n", o.data, test.labels.size());
  fmt::print("      FP32 (float executor)       top-1 {:6.2f}%  ({:.1f} s)\n", 100 * fp32.top1(), fp32_s);
  fmt::print("      integer (DirectEngine)      top-1 {:6.2f}%  ({:.1f} s)\n", 100 * integer.top1(), int_s);
  fmt::print("      difference                  {:+.2f} % points\n", 100 * (integer.top1() - fp32.top1()));

  // The same check through the SystemC netlist, every output compared with the DirectEngine's.
  t0 = std::chrono::steady_clock::now();
  SystemCEngine systemc(q);
  int64_t compared = 0, differing = 0;
  const Top1Result netlist = evaluate_top1(
      [&](const Tensor& x) {
        Tensor y = systemc.run(x);
        const Tensor direct = engine.run(x);
        compared += static_cast<int64_t>(y.floats.size());
        for (size_t i = 0; i < y.floats.size(); ++i) differing += y.floats[i] != direct.floats.at(i);
        return y;
      },
      test, 100, "IntGraph (SystemC)");
  fmt::print(
      "      integer (SystemC engine)    top-1 {:6.2f}%  ({:.1f} s incl. a DirectEngine run to compare; {} modules, "
      "MAC array {} x {} {})\n",
      100 * netlist.top1(), seconds_since(t0), systemc.module_count(), q.hardware.mac_rows, q.hardware.mac_cols,
      to_string(q.hardware.dataflow));
  if (differing)
    throw InputError("the SystemC engine differs from the DirectEngine in " + std::to_string(differing) + " of " +
                     std::to_string(compared) + " output values");
  fmt::print("      SystemC vs DirectEngine     identical: {} of {} output values\n", compared, compared);

  // The dual-path summary on the first images: each computing layer against its float fake-quant twin
  // (data movement, which copies codes, is left out of the table).
  std::map<std::string, const ops::OpDef*> def_of;
  for (const Node& op : q.ops) def_of[op.name] = &ops::op_def(op);
  const int64_t report_images = std::min<int64_t>(200, static_cast<int64_t>(test.labels.size()));
  const DualPathReport r =
      compare_paths(graph, q,
                    LabelledImages{rows_of(test.images, 0, report_images),
                                   std::vector<int64_t>(test.labels.begin(), test.labels.begin() + report_images)});
  fmt::print(
      "      dual path on {} images (each layer in isolation; `chipref quantize --report` writes the full report):\n",
      report_images);
  fmt::print("      {:<40} {:>9} {:>8} {:>10} {:>10} {:>9}\n", "layer output", "op", "format", "exact", "<= 1 LSB",
             "SQNR dB");
  for (const auto& l : r.layers) {
    const ops::OpDef* def = def_of.count(l.producer) ? def_of.at(l.producer) : nullptr;
    if (def && def->moves_codes) continue;
    const std::string type = def ? def->name : "";
    fmt::print("      {:<40} {:>9} {:>8} {:>9.3f}% {:>9.3f}% {:>9.1f}\n",
               l.value.size() > 40 ? "..." + l.value.substr(l.value.size() - 37) : l.value, type, l.format,
               100.0 * (l.elements - l.differing) / l.elements, 100.0 * l.within_one / l.elements, l.sqnr_db());
  }
  return q;
}

// Golden vectors of the first model's IntGraph for a few test images, written and verified.
void demo_vectors(const DemoOptions& o, const IntGraph& q, const std::string& dir, int step, int steps) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string model_dir = (std::filesystem::path(dir) / "intgraph").string(),
                    vectors_dir = (std::filesystem::path(dir) / "vectors").string();
  save_int_graph(q, model_dir);
  vectors::Options options;
  options.formats = {vectors::Format::mem, vectors::Format::bin, vectors::Format::npy, vectors::Format::h};
  const int64_t images = 3;
  DirectEngine engine(q);
  const vectors::Manifest m =
      vectors::write_vectors(q, model_dir, demo_data(o, DataSplit::test, images, q.preprocess).images,
                             vectors::data_input_source(o.data, images), vectors_dir, options, engine);
  const int64_t files = vectors::verify_vectors(vectors_dir, make_engine_by_name);
  fmt::print(
      "[{}/{}] golden vectors of {} for {} test images (mem, bin, npy, h): {} files, {} manifest entries -> {}; "
      "verify: all match ({:.1f} s)\n",
      step, steps, q.source_model, images, files, m.entries.size(), vectors_dir, seconds_since(t0));
}

// One real layer of the first model through the Verilated reference RTL: its MAC array (the first MAC
// layer with dense weights) and the MulShift unit that requantizes it, on the golden vectors just written.
int demo_cosim(const IntGraph& q, const std::string& dir, int step, int steps) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string vectors_dir = (std::filesystem::path(dir) / "vectors").string();
  const Node* mac = nullptr;
  const Node* requant = nullptr;
  for (const Node& op : q.ops)
    if (!mac && ops::op_def(op).mac == ops::MacOperand::weights && q.constants.count(op.inputs.at(1))) mac = &op;
  for (const Node& op : q.ops)
    if (mac && ops::op_def(op).requantizes_accumulators && op.inputs.at(0) == mac->outputs.at(0)) requant = &op;
  if (!mac || !requant)
    throw InputError("demo: " + q.source_model + " has no MAC layer with dense weights followed by a MulShift");
  std::string line;
  bool passed = true;
  for (const auto& [block, layer] : {std::pair<std::string, const Node*>{"mac_array", mac}, {"mulshift", requant}}) {
    const cosim::CosimResult r = cosim::cosim_reference_block(block, vectors_dir, layer->name, 1000);
    if (!r.passed()) fmt::print("{}", cosim::format_report(r));
    passed = passed && r.passed();
    line += fmt::format("{}{} {}: {} ({} values compared, {} cycles)", line.empty() ? "" : "; ", block, layer->name,
                        r.passed() ? "PASS" : "FAIL", r.compared, r.cycles);
  }
  fmt::print("[{}/{}] cosim on Verilated reference RTL (rtl_bridge/rtl, docs/cosim.md): {} ({:.1f} s)\n", step, steps,
             line, seconds_since(t0));
  return passed ? 0 : 3;
}

int run_demo(const DemoOptions& o) {
  std::vector<std::string> models;
  if (o.which != "vit") models.push_back(chipref_data_file("examples/fmnist_cnn.onnx", CHIPREF_SOURCE_DIR));
  if (o.which != "cnn") models.push_back(chipref_data_file("examples/fmnist_vit.onnx", CHIPREF_SOURCE_DIR));
  const int steps = 3 + static_cast<int>(models.size());
  // 1. The arithmetic: sample accumulators requantized in every flavour and rounding mode.
  const SelfCheckReport report = run_numerics_self_check(o.multiplier_bits);
  const size_t checks = report.cases.size() * report.column_names.size();
  fmt::print(
      "[1/{}] numerics self-check: {} of {} requantized samples within their error bound (docs/numerics.md §3.2): {}\n",
      steps, checks - report.failures, checks, report.failures == 0 ? "PASS" : "FAIL");
  if (o.show_numerics || report.failures) print_numerics_table(report);
  if (report.failures) return 1;
  // 2.. Each shipped model quantized into an integer-only network, FP32 against integer.
  std::optional<IntGraph> first;
  for (size_t i = 0; i < models.size(); ++i) {
    IntGraph q = demo_model(o, models[i], static_cast<int>(i) + 2, steps);
    if (!first) first = std::move(q);
  }
  demo_vectors(o, *first, o.vectors_dir, steps - 1, steps);
  return demo_cosim(*first, o.vectors_dir, steps, steps);
}
}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo",
                                 "The main job end to end: numerics self-check, then the shipped CNN and ViT quantized "
                                 "with configs/w8a8.yaml, FP32 vs integer "
                                 "accuracy, the dual-path check per layer, golden vectors of the first model written "
                                 "and verified, and one of its layers co-simulated "
                                 "on the reference RTL");
  cmd->add_option("--multiplier-bits", o->multiplier_bits, "Multiplier width for the numerics self-check")
      ->check(CLI::Range(8, 31))
      ->capture_default_str();
  cmd->add_option("--limit", o->limit, "Evaluate only the first N test images (0: all 10000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--model", o->which, "Which shipped model: cnn, vit or both")
      ->check(CLI::IsMember({"cnn", "vit", "both"}))
      ->capture_default_str();
  cmd->add_option("--vectors-dir", o->vectors_dir, "Where the golden vectors (and the IntGraph they come from) go")
      ->capture_default_str();
  cmd->add_option("--config", o->config, "Quantization config")->check(CLI::ExistingFile)->capture_default_str();
  cmd->add_option("--data", o->data,
                  std::string("Fashion-MNIST as the shipped models read it (1x28x28 images and labels; "
                              "calibration from its training split, accuracy on its test split), from any source: ") +
                      kDataSpecHelp)
      ->capture_default_str();
  cmd->add_flag("--show-numerics", o->show_numerics,
                "Print the self-check table (every sample, flavour and rounding mode)");
  cmd->callback([&exit_code, o] { exit_code = run_demo(*o); });
}

}  // namespace chipref::cli
