#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cli/commands/commands.hpp"
#include "model/fold.hpp"
#include "model/inspect.hpp"
#include "model/onnx_import.hpp"

namespace chipref::cli {

namespace {
struct InspectOptions {
  std::string model;
  int64_t batch = 1;
  bool json = false;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

int run_inspect(const InspectOptions& o) {
  Graph graph = import_onnx(o.model, ImportOptions{o.batch});
  const size_t imported_nodes = graph.nodes.size();
  const FoldResult folded = fold_constants(graph);
  const MeasuredShapes measured = measure_unknown_shapes(graph);  // what no folding pass needed
  if (!measured.error.empty())
    fmt::print(stderr, "chipref: note: some shapes stay unknown ('?'): a trial run on zeros failed: {}\n", measured.error);
  const GraphSummary s = summarize(graph);
  if (o.json) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& n : s.nodes)
      nodes.push_back({{"name", n.name}, {"op", n.op_type}, {"inputs", n.input_shapes}, {"outputs", n.output_shapes},
                       {"params", n.params}, {"macs", n.macs}});
    nlohmann::json j = {{"model", o.model},         {"opset", graph.opset},       {"batch", o.batch},
                        {"nodes", nodes},           {"imported_nodes", imported_nodes}, {"folded_nodes", folded.nodes_folded},
                        {"measured_shapes", folded.shapes_measured + measured.filled},
                        {"total_params", s.total_params}, {"total_macs", s.total_macs}};
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  size_t name_w = 4, op_w = 2, in_w = 6, out_w = 7;
  for (const auto& n : s.nodes) {
    name_w = std::max(name_w, n.name.size()), op_w = std::max(op_w, n.op_type.size());
    in_w = std::max(in_w, join(n.input_shapes).size()), out_w = std::max(out_w, join(n.output_shapes).size());
  }
  fmt::print("{}: opset {}, batch {}; {} nodes imported, {} folded (constant shape arithmetic), {} shapes measured by a trial run\n",
             o.model, graph.opset, o.batch, imported_nodes, folded.nodes_folded, folded.shapes_measured + measured.filled);
  fmt::print("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>10}  {:>12}\n", "node", name_w, "op", op_w, "inputs", in_w, "outputs", out_w,
             "params", "MACs");
  for (const auto& n : s.nodes)
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>10}  {:>12}\n", n.name, name_w, n.op_type, op_w, join(n.input_shapes), in_w,
               join(n.output_shapes), out_w, n.params, n.macs);
  fmt::print("total: {} nodes, {} parameters, {} MACs per batch of {}\n", s.nodes.size(), s.total_params, s.total_macs, o.batch);
  return 0;
}
}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand("inspect", "Nodes, shapes, parameters and MACs of an ONNX model");
  cmd->add_option("MODEL", o->model, "ONNX model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--batch", o->batch, "Size given to a dynamic batch dimension")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object instead of the table");
  cmd->callback([&exit_code, o] { exit_code = run_inspect(*o); });
}

}  // namespace chipref::cli
