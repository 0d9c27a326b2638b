#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "analysis/agreement.hpp"
#include "cli/commands/commands.hpp"
#include "cli/commands/engine.hpp"
#include "model/evaluate.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"

namespace chipref::cli {

namespace {
struct EvalOptions {
  std::string model;
  std::string data = "fashion-mnist";
  std::string preprocess;  // a --preprocess file
  std::optional<float> mean, std;
  int64_t limit = 0;
  int64_t batch = 100;
  bool json = false;
  std::optional<std::string> sparse_kernel;  // decode (default) or skip-zero; an IntGraph only
  std::string against;                       // "float" (the IntGraph's source model) or an ONNX path
  std::optional<double> tolerance;
  EngineChoice engine;
};

// eval QDIR --against float|M.onnx: the integer network's outputs against the float model's on the same inputs.
int run_agreement(const EvalOptions& o, const IntGraph& q, const BatchRunner& integer, const Dataset& data) {
  const std::string float_path = o.against == "float" ? q.source_model : o.against;
  if (!std::filesystem::exists(float_path))
    throw InputError(o.model + ": its float model " + float_path + " is not there; give it with --against M.onnx");
  const Graph float_graph = import_onnx(float_path);
  int64_t batch = o.batch;
  const BatchRunner reference = float_graph_runner(float_graph, data, batch);
  // Default tolerance: 4 steps of the output's codes (the value its final dequantize reads), past what
  // rounding alone leaves after a few layers; 0 where the output has no codes.
  double step = 0;
  for (const Node& op : q.ops)
    if (std::find(op.outputs.begin(), op.outputs.end(), q.output_name) != op.outputs.end() && !op.inputs.empty() &&
        q.values.count(op.inputs[0]))
      step = q.values.at(op.inputs[0]).quant.scale;
  const double tolerance = o.tolerance ? *o.tolerance : 4.0 * step;
  const OutputAgreement a =
      compare_outputs(reference, integer, data, std::min(batch, std::max<int64_t>(data.count(), 1)), tolerance,
                      q.output_name, o.engine.jobs);
  const auto at_json = [](const ElementAt& e) {
    return nlohmann::json{{"input", e.input}, {"index", e.index}, {"float", e.reference}, {"integer", e.measured}};
  };
  if (o.json) {
    nlohmann::json out{{"name", a.name},
                       {"elements", a.elements},
                       {"sqnr_db", std::isinf(a.sqnr.db()) ? nlohmann::json("inf") : nlohmann::json(a.sqnr.db())},
                       {"cosine", a.cosine()},
                       {"max_abs_error", a.max_abs_error},
                       {"max_abs_error_at", at_json(a.max_error_at)},
                       {"top1_agreement", a.top1_agreement()},
                       {"rows", a.rows},
                       {"tolerance", a.tolerance},
                       {"first_difference", a.first_difference ? at_json(*a.first_difference) : nlohmann::json()}};
    nlohmann::json j{{"against", float_path},
                     {"count", data.count()},
                     {"data", o.data},
                     {"engine", o.engine.engine},
                     {"outputs", nlohmann::json::array({out})}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print(
        "{} against {} on {} inputs of {}:\n  output '{}': SQNR {:.2f} dB, cosine {:.6f}, max |error| {:.6g} "
        "(input {}, element {}), top-1 agreement {:.2f}% over {} rows\n",
        o.model, float_path, data.count(), data.name(), a.name, a.sqnr.db(), a.cosine(), a.max_abs_error,
        a.max_error_at.input, a.max_error_at.index, 100.0 * a.top1_agreement(), a.rows);
    if (a.first_difference)
      fmt::print("  first element beyond the tolerance {:.6g}: input {}, element {}: float {:.6g}, integer {:.6g}\n",
                 a.tolerance, a.first_difference->input, a.first_difference->index, a.first_difference->reference,
                 a.first_difference->measured);
    else
      fmt::print("  every element within the tolerance {:.6g}\n", a.tolerance);
  }
  return 0;
}

int run_eval(const EvalOptions& o) {
  Preprocess preprocess;
  std::string preprocess_source = "none";
  const bool integer = is_int_graph_dir(o.model);
  std::optional<IntGraph> int_graph;
  std::optional<Graph> float_graph;
  if (integer) {
    if (o.mean || !o.preprocess.empty())
      throw InputError(o.model +
                       ": an IntGraph records its input preprocessing (quantize --preprocess); --preprocess and "
                       "--mean/--std do not apply");
  } else if (o.sparse_kernel) {
    throw InputError(o.model +
                     ": --sparse-kernel chooses how an IntGraph's N:M-sparse layers compute; an ONNX model runs on the "
                     "float executor");
  } else if (o.engine.engine != "direct") {
    throw InputError(o.model + ": --engine chooses what runs an IntGraph; an ONNX model runs on the float executor");
  }
  if (!o.preprocess.empty() && o.mean) throw InputError("give either --preprocess or --mean/--std, not both");
  if (integer) {
    int_graph = load_int_graph(o.model);
    preprocess = int_graph->preprocess;
    preprocess_source = "the IntGraph";
  } else {
    float_graph = import_onnx(o.model);  // a broken model is named before anything about its data
    std::optional<Preprocess> given;
    if (!o.preprocess.empty()) given = read_preprocess_file(o.preprocess);
    if (o.mean) given = Preprocess(Normalisation{*o.mean, *o.std});
    const NormalisationChoice choice =
        choose_normalisation(o.model, given, o.preprocess.empty() ? "flags" : o.preprocess);
    preprocess = choice.norm;
    preprocess_source = choice.source;
  }
  DataRequest request;
  request.split = DataSplit::test;
  request.limit = o.limit;
  request.preprocess = preprocess;
  request.threads = o.engine.jobs;
  const std::unique_ptr<Dataset> data = open_dataset(o.data, request);
  if (!o.preprocess.empty() && !data->preprocessed())
    fmt::print(stderr,
               "chipref: warning: {} holds model inputs as they are (not images); --preprocess does not apply\n",
               data->name());
  if (!o.against.empty()) {
    if (!integer)
      throw InputError(o.model + ": --against compares an IntGraph with its float model; this is the float model");
    return run_agreement(
        o, *int_graph,
        make_runner(*int_graph, o.engine,
                    o.sparse_kernel == std::string("skip-zero") ? SparseKernel::skip_zero : SparseKernel::decode),
        *data);
  }
  ClassificationResult r;
  if (integer) {
    const auto run =
        make_runner(*int_graph, o.engine,
                    o.sparse_kernel == std::string("skip-zero") ? SparseKernel::skip_zero : SparseKernel::decode);
    r = evaluate_classifier(run, *data, o.batch, o.model, o.engine.jobs);
  } else {
    int64_t batch = o.batch;
    const BatchRunner run = float_graph_runner(*float_graph, *data, batch);
    r = evaluate_classifier(run, *data, std::min<int64_t>(batch, std::max<int64_t>(data->count(), 1)), o.model,
                            o.engine.jobs);
  }
  const auto ratio = [](int64_t a, int64_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  if (o.json) {
    nlohmann::json per_class = nlohmann::json::array();
    for (size_t c = 0; c < r.per_class_count.size(); ++c) {
      nlohmann::json entry{{"label", c}, {"count", r.per_class_count[c]}, {"correct", r.per_class_top1[c]}};
      if (c < data->class_names().size()) entry["class"] = data->class_names()[c];
      per_class.push_back(entry);
    }
    nlohmann::json j{{"top1", ratio(r.top1, r.count)},
                     {"top5", ratio(r.top5, r.count)},
                     {"count", r.count},
                     {"correct", r.top1},
                     {"top5_correct", r.top5},
                     {"per_class", per_class},
                     {"data", o.data},
                     {"preprocess", preprocess_to_json(preprocess)}};
    if (integer) j["engine"] = o.engine.engine;
    if (integer && !o.engine.rtl.empty()) j["rtl"] = o.engine.rtl;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{}: top-1 {:.2f}% ({} of {}), top-5 {:.2f}% on {}{}; preprocessing {} (from {})\n", o.model,
               100.0 * ratio(r.top1, r.count), r.top1, r.count, 100.0 * ratio(r.top5, r.count), data->name(),
               integer ? ", " + o.engine.engine + " engine" : std::string(), preprocess.describe(), preprocess_source);
  }
  return 0;
}
}  // namespace

void add_eval_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand("eval",
                                 "Top-1 and top-5 accuracy, with per-class counts, on labelled data: an ONNX model "
                                 "(float reference executor) or an IntGraph directory (DirectEngine or SystemC "
                                 "engine)");
  cmd->add_option("MODEL", o->model, "ONNX model, or an IntGraph directory written by quantize")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--data", o->data, std::string("The inputs and their labels (the test split): ") + kDataSpecHelp)
      ->capture_default_str();
  cmd->add_option("--preprocess", o->preprocess,
                  "A YAML preprocessing pipeline (resize, center_crop, scale, mean, std, channel_order, layout; "
                  "docs/data.md) for an ONNX model's images (default: the model's sidecar YAML)")
      ->check(CLI::ExistingFile);
  auto* mean = cmd->add_option("--mean", o->mean,
                               "Subtract after scaling pixels to [0,1] (default: the model's sidecar YAML, else 0)")
                   ->check(finite_number());
  auto* std = cmd->add_option("--std", o->std, "Divide by this after subtracting the mean (default: sidecar, else 1)")
                  ->check(finite_number(true));
  mean->needs(std);
  std->needs(mean);
  cmd->add_option("--limit", o->limit, "Evaluate only the first N inputs (0: all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", o->batch, "Images per executor run (for models with a dynamic batch)")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}))
      ->capture_default_str();
  cmd->add_option("--sparse-kernel", o->sparse_kernel,
                  "An IntGraph's N:M-sparse layers: decode the weights once and run the dense kernels, or compute from "
                  "the kept values only "
                  "(the same integers); default decode")
      ->check(CLI::IsMember({"decode", "skip-zero"}));
  cmd->add_option("--against", o->against,
                  "Compare an IntGraph's outputs with a float model's on the same inputs instead of measuring "
                  "accuracy (labels not needed): 'float' for the ONNX model it was quantized from, or an ONNX path. "
                  "Prints SQNR, cosine, max |error|, top-1 agreement and the first element beyond --tolerance");
  cmd->add_option("--tolerance", o->tolerance,
                  "With --against: the absolute error past which an element counts as differing (default: 4 steps of "
                  "the output's quantization scale)")
      ->check(CLI::NonNegativeNumber);
  add_engine_option(*cmd, o->engine, true, true);
  cmd->add_flag("--json", o->json,
                "Print one JSON object {\"top1\", \"top5\", \"count\", \"correct\", \"top5_correct\", "
                "\"per_class\": [{\"label\", \"class\", \"count\", \"correct\"}], \"data\", \"preprocess\"} (and "
                "\"engine\" for an IntGraph)");
  cmd->callback([&exit_code, o] { exit_code = run_eval(*o); });
}

}  // namespace chipref::cli
