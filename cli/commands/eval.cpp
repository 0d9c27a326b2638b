#include <fmt/format.h>

#include <nlohmann/json.hpp>

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
  std::optional<float> mean, std;
  int64_t limit = 0;
  int64_t batch = 100;
  bool json = false;
  std::optional<std::string> sparse_kernel;  // decode (default) or skip-zero; an IntGraph only
  EngineChoice engine;
};

int run_eval(const EvalOptions& o) {
  Normalisation norm;
  std::string norm_source = "none";
  const bool integer = is_int_graph_dir(o.model);
  std::optional<IntGraph> int_graph;
  std::optional<Graph> float_graph;
  if (integer) {
    if (o.mean) throw InputError(o.model + ": an IntGraph records its input normalisation; --mean/--std do not apply");
  } else if (o.sparse_kernel) {
    throw InputError(o.model +
                     ": --sparse-kernel chooses how an IntGraph's N:M-sparse layers compute; an ONNX model runs on the "
                     "float executor");
  } else if (o.engine.engine != "direct") {
    throw InputError(o.model + ": --engine chooses what runs an IntGraph; an ONNX model runs on the float executor");
  }
  if (integer) {
    int_graph = load_int_graph(o.model);
    norm = int_graph->preprocess;
    norm_source = "the IntGraph";
  } else {
    float_graph = import_onnx(o.model);  // a broken model is named before anything about its data
    const NormalisationChoice choice = choose_normalisation(
        o.model, o.mean ? std::optional<Normalisation>(Normalisation{*o.mean, *o.std}) : std::nullopt, "flags");
    norm = choice.norm;
    norm_source = choice.source;
  }
  const LabelledImages data = load_fashion_mnist("t10k", o.limit, norm);
  Top1Result r;
  if (integer) {
    const auto run =
        make_runner(*int_graph, o.engine,
                    o.sparse_kernel == std::string("skip-zero") ? SparseKernel::skip_zero : SparseKernel::decode);
    r = evaluate_top1(run, data, o.batch, o.model);
  } else {
    r = evaluate_top1(*float_graph, data, o.batch);
  }
  if (o.json) {
    nlohmann::json j{{"top1", r.top1()}, {"count", r.count}, {"correct", r.correct}};
    if (integer) j["engine"] = o.engine.engine;
    if (integer && !o.engine.rtl.empty()) j["rtl"] = o.engine.rtl;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{}: top-1 {:.2f}% ({} of {} Fashion-MNIST test images{}); normalisation mean {} std {} (from {})\n",
               o.model, 100.0 * r.top1(), r.correct, r.count,
               integer ? ", " + o.engine.engine + " engine" : std::string(), norm.mean, norm.std, norm_source);
  }
  return 0;
}
}  // namespace

void add_eval_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand("eval",
                                 "Top-1 accuracy on the Fashion-MNIST test set: an ONNX model (float reference "
                                 "executor) or an IntGraph directory (DirectEngine or SystemC engine)");
  cmd->add_option("MODEL", o->model, "ONNX model, or an IntGraph directory written by quantize")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--data", o->data, "Dataset")->check(CLI::IsMember({"fashion-mnist"}))->capture_default_str();
  auto* mean = cmd->add_option("--mean", o->mean,
                               "Subtract after scaling pixels to [0,1] (default: the model's sidecar YAML, else 0)")
                   ->check(finite_number());
  auto* std = cmd->add_option("--std", o->std, "Divide by this after subtracting the mean (default: sidecar, else 1)")
                  ->check(finite_number(true));
  mean->needs(std);
  std->needs(mean);
  cmd->add_option("--limit", o->limit, "Evaluate only the first N test images (0: all 10000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", o->batch, "Images per executor run (for models with a dynamic batch)")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}))
      ->capture_default_str();
  cmd->add_option("--sparse-kernel", o->sparse_kernel,
                  "An IntGraph's N:M-sparse layers: decode the weights once and run the dense kernels, or compute from "
                  "the kept values only "
                  "(the same integers); default decode")
      ->check(CLI::IsMember({"decode", "skip-zero"}));
  add_engine_option(*cmd, o->engine, true, true);
  cmd->add_flag("--json", o->json,
                "Print one JSON object {\"top1\", \"count\", \"correct\"} (and \"engine\" for an IntGraph)");
  cmd->callback([&exit_code, o] { exit_code = run_eval(*o); });
}

}  // namespace chipref::cli
