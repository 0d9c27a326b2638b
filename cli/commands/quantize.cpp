#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include "analysis/dual_path.hpp"
#include "cli/commands/commands.hpp"
#include "core/files.hpp"
#include "model/io/datasets.hpp"
#include "model/io/npy.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "ops/op_def.hpp"
#include "quant/prequantized.hpp"
#include "quant/quantize.hpp"

namespace chipref::cli {

namespace {
struct QuantizeOptions {
  std::string model, config, calib = "fashion-mnist", output, preprocess, report_data = "fashion-mnist";
  std::optional<float> mean, std;
  int64_t calib_count = 0;
  bool strict = false, calib_given = false;
  std::string report;
  int64_t report_images = 1000;
};

int run_quantize(const QuantizeOptions& o) {
  const QuantConfig config = load_quant_config(o.config);
  const Graph graph = import_onnx(o.model);
  // Integers (token ids) are not pixels: no normalisation applies to them.
  const bool integer_input = !graph.inputs.empty() && graph.inputs[0].dtype != DType::float32;
  if (!o.preprocess.empty() && o.mean) throw InputError("give either --preprocess or --mean/--std, not both");
  std::optional<Preprocess> given;
  if (!o.preprocess.empty()) given = read_preprocess_file(o.preprocess);
  if (o.mean) given = Preprocess(Normalisation{*o.mean, *o.std});
  const Preprocess norm =
      integer_input ? Preprocess{}
                    : choose_normalisation(o.model, given, o.preprocess.empty() ? "flags" : o.preprocess).norm;
  if (const std::string unmatched = unmatched_overrides_message(config, graph); !unmatched.empty()) {
    if (o.strict) throw InputError(unmatched);
    fmt::print(stderr, "chipref: warning: {}\n", unmatched);
  }
  const bool given_params = is_prequantized(graph);
  if (given_params && (o.calib_given || o.calib_count > 0))
    fmt::print(
        stderr,
        "chipref: warning: {} is already quantized (QDQ / QONNX); its own parameters are used and --calib is ignored\n",
        o.model);
  const int64_t count = o.calib_count > 0 ? o.calib_count : config.calibration_images;
  std::unique_ptr<const Dataset> samples;  // what calibrates: read batch by batch
  if (!given_params) {
    DataRequest request;
    request.split = DataSplit::train;
    request.limit = count;
    request.preprocess = norm;
    auto data = open_dataset(o.calib, request);
    if (!o.preprocess.empty() && !data->preprocessed())
      fmt::print(stderr,
                 "chipref: warning: {} holds model inputs as they are (not images); --preprocess does not apply\n",
                 data->name());
    const DType dtype = data->dtype();
    if ((dtype == DType::float32) == integer_input || dtype == DType::boolean)
      throw InputError(data->name() + ": calibration inputs must be " +
                       (integer_input
                            ? "integers (the model's input '" + graph.inputs[0].name + "' is " +
                                  std::string(to_string(graph.inputs[0].dtype)) + ": token ids or codes, in an .npy)"
                            : std::string("float32 (or images)")) +
                       " [N, ...], got " + std::string(to_string(dtype)) + shape_to_string(data->shape()));
    if (o.calib_count > data->count())
      throw InputError(
          fmt::format("--calib-count {}: {} holds only {} calibration inputs", o.calib_count, o.calib, data->count()));
    samples = std::move(data);
  }
  QuantizeInputs inputs{&graph, &config, nullptr, o.model, norm};
  inputs.calibration_samples = samples.get();
  const IntGraph q = quantize(inputs);
  save_int_graph(q, o.output);
  int64_t macs = 0, mulshifts = 0, block_macs = 0, block_matmuls = 0;
  for (const Node& op : q.ops) {
    const ops::OpDef& def = ops::op_def(op);
    macs += def.mac == ops::MacOperand::weights, mulshifts += def.requantizes_accumulators;
    if (def.block_facts) ++(def.block_facts(q, op).constant_weights ? block_macs : block_matmuls);
  }
  std::string blocks = block_macs ? fmt::format(" ({} in block formats)", block_macs) : "";
  if (block_matmuls) blocks += fmt::format(", {} activation matmul(s) in block formats", block_matmuls);
  macs += block_macs;
  const std::string source = given_params ? std::string("its own QDQ/QONNX parameters (no calibration)")
                                          : fmt::format("{} calibration images", samples->count());
  fmt::print("{}: quantized with {} on {} -> {} ({} ops: {} MAC{}, {} MulShift; integer-only check passed)\n", o.model,
             o.config, source, o.output, q.ops.size(), macs, blocks, mulshifts);
  if (!q.rescalings.empty()) {  // the float passes that rescaled channels (graph.json's "rescalings")
    int64_t pairs = 0, smoothed = 0, unclipped = 0;
    for (const ChannelRescaling& r : q.rescalings) {
      (r.pass == "smoothquant" ? smoothed : pairs) += 1;
      unclipped += static_cast<int64_t>(r.unclipped.size());
    }
    fmt::print("  rescaled before calibration: {} equalized layer pairs{}, {} tensors smoothed (SmoothQuant)\n", pairs,
               unclipped ? fmt::format(" ({} ReLU6 made ReLU)", unclipped) : "", smoothed);
  }
  if (!o.report.empty()) {
    // A network with N:M-sparse layers is reported beside its dense twin (same config, no pruning).
    const bool sparse = std::any_of(q.ops.begin(), q.ops.end(),
                                    [](const Node& op) { return ops::has_role(op, ops::OpRole::constant); });
    std::optional<IntGraph> dense;
    if (sparse) {
      QuantizeInputs without = inputs;
      without.ignore_sparsity = true;
      dense = quantize(without);
    }
    DataRequest request;
    request.split = DataSplit::test;
    request.limit = o.report_images;
    request.preprocess = norm;
    const std::unique_ptr<Dataset> report_data = open_dataset(o.report_data, request);
    if (!report_data->has_labels())
      throw InputError(report_data->name() + ": the report measures accuracy, so --report-data needs labels");
    const LabelledImages labelled{report_data->rows(0, report_data->count()), report_data->labels()};
    const DualPathReport r = compare_paths(graph, q, labelled, 100, dense ? &*dense : nullptr);
    const std::string json_path = std::filesystem::path(o.report).replace_extension(".json").string();
    write_output_file(o.report, report_markdown(r));
    write_output_file(json_path, report_json(r));
    int64_t elements = 0, within_one = 0, exact = 0;
    for (const auto& l : r.layers)
      elements += l.elements, within_one += l.within_one, exact += l.elements - l.differing;
    fmt::print(
        "report: {} and {}: top-1 FP32 {:.2f}%, fake-quant {:.2f}%, integer {:.2f}% on {} test images; integer vs "
        "fake-quant "
        "codes: {:.3f}% exact, {:.4f}% within 1 LSB over {} layers\n",
        o.report, json_path, 100 * r.fp32.top1(), 100 * r.fake_quant.top1(), 100 * r.integer.top1(), r.integer.count,
        100.0 * exact / std::max<int64_t>(elements, 1), 100.0 * within_one / std::max<int64_t>(elements, 1),
        r.layers.size());
    if (r.dense_integer)
      fmt::print("sparsity: {} N:M layers; integer top-1 {:.2f}% sparse vs {:.2f}% with the same config dense\n",
                 r.sparse_layers.size(), 100 * r.integer.top1(), 100 * r.dense_integer->top1());
  }
  return 0;
}
}  // namespace

void add_quantize_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<QuantizeOptions>();
  auto* cmd = app.add_subcommand("quantize", "Quantize an ONNX model into an integer-only IntGraph directory");
  cmd->add_option("MODEL", o->model,
                  "ONNX model: float (calibrated here) or already quantized (QDQ or QONNX: its parameters are kept)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--config", o->config, "Quantization config (YAML, see docs/config.md)")
      ->required()
      ->check(CLI::ExistingFile);
  auto* calib =
      cmd->add_option(
             "--calib", o->calib,
             std::string("Calibration data, the first N inputs of its training split: ") + kDataSpecHelp +
                 ". A .npy holds model inputs as they are (float32; integers for a model whose input is token ids)")
          ->capture_default_str();
  cmd->add_option("--calib-count", o->calib_count,
                  "Calibration inputs: the first N of --calib (default: the config's calibration.images, or all of a "
                  "smaller source)")
      ->check(CLI::Range(int64_t{1}, int64_t{60000}));
  auto* mean =
      cmd->add_option("--mean", o->mean, "Input normalisation mean (default: the model's sidecar YAML, else 0)")
          ->check(finite_number());
  auto* std = cmd->add_option("--std", o->std, "Input normalisation std (default: sidecar, else 1)")
                  ->check(finite_number(true));
  mean->needs(std);
  std->needs(mean);
  cmd->add_option("--preprocess", o->preprocess,
                  "A YAML preprocessing pipeline (docs/data.md) for the model's images, recorded in the IntGraph "
                  "(default: the model's sidecar YAML)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--report", o->report, "Write the dual-path report here (Markdown) and beside it as .json");
  cmd->add_option("--report-data", o->report_data,
                  std::string("Labelled data the report evaluates (its test split): ") + kDataSpecHelp)
      ->capture_default_str();
  cmd->add_option("--report-images", o->report_images, "Test images the report evaluates")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}))
      ->capture_default_str();
  cmd->add_flag("--strict", o->strict, "Make a layer pattern that matches no node an error instead of a warning");
  cmd->add_option("-o,--output", o->output, "Output IntGraph directory (graph.json + tensors/)")->required();
  cmd->callback([&exit_code, o, calib] {
    o->calib_given = calib->count() > 0;
    exit_code = run_quantize(*o);
  });
}

}  // namespace chipref::cli
