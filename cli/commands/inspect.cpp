#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands/commands.hpp"
#include "cli/commands/engine.hpp"
#include "model/fold.hpp"
#include "model/inspect.hpp"
#include "model/int_graph.hpp"
#include "model/onnx_import.hpp"
#include "ops/lut.hpp"
#include "ops/op_def.hpp"
#include "ops/sparse_decode.hpp"
#include "quant/config.hpp"
#include "quant/quantize.hpp"

namespace chipref::cli {

namespace {
struct InspectOptions {
  std::string model, config;
  int64_t batch = 1;
  bool json = false, tables = false, lowering = false;
  EngineChoice engine;
};

nlohmann::json port_json(const PortCount& p) {
  return {{"transactions", p.transactions}, {"elements", p.elements}, {"bytes", p.bits / 8.0}};
}

// The SystemC engine's boundary monitors after the trial run, one entry per module.
nlohmann::json modules_json(const SystemCEngine& engine) {
  nlohmann::json modules = nlohmann::json::array();
  for (const ModuleStats& s : engine.stats()) {
    nlohmann::json m = {
        {"name", s.name}, {"kind", s.kind}, {"op", s.op_type}, {"in", port_json(s.in)}, {"out", port_json(s.out)}};
    if (s.kind == "MacArray")
      m.update({{"weights", port_json(s.weights)},
                {"weight_tiles", s.weights.transactions},
                {"macs", s.macs},
                {"pe_slots", s.pe_slots},
                {"utilisation", s.pe_slots ? static_cast<double>(s.macs) / static_cast<double>(s.pe_slots) : 0.0},
                {"activation_elements_streamed", s.activation_elements},
                {"overflow_events", s.overflow_events}});
    modules.push_back(m);
  }
  return modules;
}

void print_modules(const SystemCEngine& engine, int64_t batch) {
  const HardwareConfig& hw = engine.hardware();
  fmt::print(
      "\nSystemC netlist: {} modules; MAC array {} x {}, {}, FIFOs {} deep; boundary monitors for one run of batch "
      "{}:\n",
      engine.module_count(), hw.mac_rows, hw.mac_cols, to_string(hw.dataflow), hw.fifo_depth, batch);
  fmt::print("{:<32} {:<13} {:>6} {:>12} {:>12} {:>7} {:>12} {:>12} {:>7}\n", "module", "kind", "trans", "bytes in",
             "bytes out", "tiles", "weight bytes", "MACs", "util");
  for (const ModuleStats& s : engine.stats()) {
    fmt::print("{:<32} {:<13} {:>6} {:>12} {:>12}",
               s.name.size() > 32 ? "..." + s.name.substr(s.name.size() - 29) : s.name, s.kind, s.out.transactions,
               s.in.bits / 8, s.out.bits / 8);
    if (s.kind == "MacArray")
      fmt::print(" {:>7} {:>12} {:>12} {:>6.1f}%", s.weights.transactions, s.weights.bits / 8, s.macs,
                 s.pe_slots ? 100.0 * static_cast<double>(s.macs) / static_cast<double>(s.pe_slots) : 0.0);
    fmt::print("\n");
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// Each lookup table: what it computes, between which quantizations, and every entry with the input
// code it sits at and both real values.
void print_tables(const IntGraph& g) {
  for (const Node& op : g.ops) {
    if (&ops::op_def(op) != &ops::lut_op_def()) continue;
    const QuantParams &in = g.values.at(op.inputs.at(0)).quant, &out = g.values.at(op.outputs.at(0)).quant;
    const int64_t channels = ops::lut_channels(g, op);
    // A single table is channel −1; a per-channel table prints each row.
    for (int64_t channel = channels > 1 ? 0 : -1; channel < (channels > 1 ? channels : 0); ++channel) {
      const kernels::Lut t = ops::read_lut(g, op, channel);
      fmt::print(
          "\ntable {}{}: {} from {} (scale {:.6g}, zp {}) to {} (scale {:.6g}, zp {}); {} entries every {} codes{}\n",
          op.name, channel >= 0 ? fmt::format(" (channel {})", channel) : std::string(),
          ops::lut_op_def().approximates(op), in.format.name(), in.scale, in.zero_point, out.format.name(), out.scale,
          out.zero_point, t.table.size(), int64_t{1} << t.shift, t.interpolate ? ", interpolated" : "");
      fmt::print("{:>8} {:>12} {:>8} {:>12}\n", "in code", "x", "out code", "y");
      for (size_t i = 0; i < t.table.size(); ++i) {
        const int64_t c = t.in_min + (static_cast<int64_t>(i) << t.shift);
        fmt::print("{:>8} {:>12.6g} {:>8} {:>12.6g}\n", c, in.scale * static_cast<double>(c - in.zero_point),
                   t.table[i], out.scale * static_cast<double>(t.table[i] - out.zero_point));
      }
    }
  }
}

// An IntGraph: its ops with value formats, constants and MACs.
int inspect_int_graph(const InspectOptions& o) {
  const IntGraph g = load_int_graph(o.model);
  auto describe = [&](const std::string& name) {
    if (auto it = g.values.find(name); it != g.values.end())
      return it->second.quant.format.name() + shape_to_string(it->second.shape) +
             (it->second.quant.zero_point ? " zp " + std::to_string(it->second.quant.zero_point) : "");
    if (auto it = g.constants.find(name); it != g.constants.end()) {
      const auto w = g.weights.find(name);  // weights: their own format (int4 in an int8 tensor) and zero points
      if (w == g.weights.end()) return std::string(to_string(it->second.dtype)) + shape_to_string(it->second.shape);
      const std::vector<int64_t>& z = w->second.zero_points;
      const bool one = std::all_of(z.begin(), z.end(), [&](int64_t v) { return v == z[0]; });
      return w->second.format.name() + shape_to_string(it->second.shape) +
             (!one        ? " zp per channel"
              : z[0] != 0 ? " zp " + std::to_string(z[0])
                          : "");
    }
    return std::string("float");
  };
  // MACs from the shapes of a trial run on zeros at the batch asked for: stored value shapes say -1
  // wherever the batch enters (also [17, -1, 48] or [-1, 17, 12] for 4·batch heads).
  RunTrace trial;
  Shape input_shape = g.input_shape;
  if (!input_shape.empty()) input_shape[0] = o.batch;
  std::unique_ptr<SystemCEngine> systemc;
  if (!o.engine.rtl.empty() && o.engine.engine != "systemc")
    throw InputError("--rtl runs blocks inside the SystemC netlist: add --engine systemc");
  if (o.engine.engine == "systemc") {
    systemc = make_systemc_engine(g, o.engine);
    systemc->run(Tensor::zeros(DType::float32, input_shape), &trial);
  } else {
    DirectEngine(g).run(Tensor::zeros(DType::float32, input_shape), &trial);
  }
  auto traced = [&](const std::string& name) -> const Shape& { return trial.values.at(name).shape; };
  nlohmann::json ops = nlohmann::json::array();
  int64_t total_macs = 0, total_params = 0;
  std::map<std::string, int> flavours;  // requantization stages per flavour
  for (const Node& op : g.ops) {
    if (op.has("flavour")) ++flavours[op.get_string("flavour")];
    int64_t macs = 0, params = 0;
    if (const ops::OpDef& def = ops::op_def(op); def.is_mac()) {
      const Shape second =
          def.mac == ops::MacOperand::weights ? mac_weight_codes(g, op.inputs.at(1)).shape : traced(op.inputs.at(1));
      macs = ops::mac_count(op, traced(op.inputs.at(0)), second, traced(op.outputs.at(0)));
    } else if (def.block_facts) {  // a block-format layer: its element codes, output elements × reduction
      const ops::BlockMacFacts f = def.block_facts(g, op);
      macs = element_count(traced(op.outputs.at(0))) * f.reduction, params = f.weight_elements;
    }
    for (const auto& in : op.inputs)
      if (g.weights.count(in)) params += element_count(mac_weight_codes(g, in).shape);
    total_macs += macs, total_params += params;
    std::vector<std::string> ins, outs;
    for (const auto& in : op.inputs) ins.push_back(describe(in));
    for (const auto& out : op.outputs) outs.push_back(describe(out));
    ops.push_back({{"name", op.name},
                   {"op", op.op_type},
                   {"inputs", ins},
                   {"outputs", outs},
                   {"weights", params},
                   {"macs", macs}});
    if (op.has("method")) ops.back()["method"] = op.get_string("method");  // a non-linear's table: lut or I-BERT poly
    if (ops::has_role(op, ops::OpRole::constant)) {
      const kernels::NmWeights nm = nm_weights_of(g, op);
      ops.back()["sparsity"] = {
          {"pattern", std::to_string(nm.pattern.n) + ":" + std::to_string(nm.pattern.m)},
          {"nonzero", std::count_if(nm.values.begin(), nm.values.end(), [](int32_t v) { return v != 0; })},
          {"weights", nm.rows * nm.k}};
    }
  }
  if (o.json) {
    nlohmann::json j{{"model", o.model},
                     {"intgraph", true},
                     {"source_model", g.source_model},
                     {"config", g.config_name},
                     {"ops", ops},
                     {"requant_flavours", flavours},
                     {"total_weights", total_params},
                     {"total_macs", total_macs}};
    if (systemc) j["systemc_modules"] = modules_json(*systemc);
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  std::string requant;
  for (const auto& [flavour, count] : flavours)
    requant += (requant.empty() ? "" : ", ") + fmt::format("{} × {}", count, flavour) +
               (flavour == "float" ? " (a float32 multiply, as ONNX Runtime: not integer-only hardware)" : "");
  fmt::print("{}: IntGraph from {} with {}; {} ops, integer tensors only; requantization: {}\n", o.model,
             g.source_model, g.config_name, g.ops.size(), requant.empty() ? "none" : requant);
  for (const auto& op : ops) {
    fmt::print("{:<32} {:<11} {} -> {}", op["name"].get<std::string>(), op["op"].get<std::string>(),
               join(op["inputs"].get<std::vector<std::string>>()), join(op["outputs"].get<std::vector<std::string>>()));
    if (op["macs"].get<int64_t>()) fmt::print("  ({} MACs)", op["macs"].get<int64_t>());
    if (op.contains("method") && op["method"] == "poly") fmt::print("  (I-BERT integer polynomial)");
    if (op.contains("sparsity"))
      fmt::print("  ({} sparse: {} of {} weights non-zero)", op["sparsity"]["pattern"].get<std::string>(),
                 op["sparsity"]["nonzero"].get<int64_t>(), op["sparsity"]["weights"].get<int64_t>());
    fmt::print("\n");
  }
  fmt::print("total: {} weights, {} MACs per batch of {}\n", total_params, total_macs, o.batch);
  if (systemc) print_modules(*systemc, o.batch);
  if (o.tables) print_tables(g);
  return 0;
}

// --lowering: what each node of the model would lower to, or why not, before quantizing. Calibrated on
// synthetic inputs (standard normal, fixed seed) of the input's shape, or for integer inputs (token ids)
// 0 and 1 alternating (rows of any table): the ranges do not change which rules apply, only the parameters.
int inspect_lowering(const InspectOptions& o) {
  const Graph graph = import_onnx(o.model);  // as quantize imports it: the batch stays dynamic
  const QuantConfig config =
      o.config.empty() ? parse_quant_config("defaults: {}\n", "the default config") : load_quant_config(o.config);
  Shape shape = graph.inputs.at(0).shape;
  if (!shape.empty() && shape[0] < 0) shape[0] = 8;
  for (int64_t d : shape)
    if (d < 0) throw InputError(o.model + ": the input's shape " + shape_to_string(shape) + " is not static");
  const bool ids = graph.inputs[0].dtype != DType::float32;
  Tensor calibration = Tensor::zeros(ids ? DType::int64 : DType::float32, shape);
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : calibration.floats) v = normal(rng);
  for (size_t i = 0; i < calibration.ints.size(); ++i) calibration.ints[i] = static_cast<int64_t>(i % 2);
  const std::vector<LoweringOutcome> rows =
      survey_lowering(QuantizeInputs{&graph, &config, &calibration, o.model, Normalisation{}});
  const auto refused =
      std::count_if(rows.begin(), rows.end(), [](const LoweringOutcome& r) { return !r.refused.empty(); });
  if (o.json) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const LoweringOutcome& r : rows) {
      nlohmann::json n = {{"name", r.node}, {"op", r.op_type}, {"lowers", r.refused.empty()}};
      if (!r.int_ops.empty()) n["int_ops"] = r.int_ops;
      if (!r.fused_into.empty()) n["fused_into"] = r.fused_into;
      if (!r.refused.empty()) n["reason"] = r.refused;
      if (!r.no_op.empty()) n["no_op"] = r.no_op;
      nodes.push_back(n);
    }
    fmt::print("{}\n", nlohmann::json{{"model", o.model}, {"nodes", nodes}, {"refused", refused}}.dump(2));
    return refused ? 3 : 0;
  }
  size_t name_w = 4, op_w = 2;
  for (const LoweringOutcome& r : rows)
    name_w = std::max(name_w, r.node.size()), op_w = std::max(op_w, r.op_type.size());
  fmt::print("{}: what each node of the prepared graph (after folding and fusions) lowers to\n", o.model);
  fmt::print("{:<{}}  {:<{}}  {}\n", "node", name_w, "op", op_w, "integer ops");
  for (const LoweringOutcome& r : rows) {
    const std::string what = !r.refused.empty()      ? "NOT LOWERED: " + r.refused
                             : !r.fused_into.empty() ? "fused into " + r.fused_into
                                                     : join(r.int_ops);
    fmt::print("{:<{}}  {:<{}}  {}\n", r.node, name_w, r.op_type, op_w,
               what.empty() ? "(no op: " + r.no_op + ")" : what);
  }
  fmt::print("{} of {} nodes lower{}\n", static_cast<int64_t>(rows.size()) - refused, rows.size(),
             refused ? fmt::format("; {} do not (exit 3)", refused) : std::string());
  return refused ? 3 : 0;
}

int run_inspect(const InspectOptions& o) {
  if (o.lowering) {
    if (is_int_graph_dir(o.model)) throw InputError(o.model + ": --lowering inspects an ONNX model, not an IntGraph");
    return inspect_lowering(o);
  }
  if (!o.config.empty()) throw InputError("--config applies with --lowering only");
  if (is_int_graph_dir(o.model)) return inspect_int_graph(o);
  if (o.engine.engine != "direct")
    throw InputError(o.model + ": --engine applies to an IntGraph; an ONNX model is inspected as a float graph");
  Graph graph = import_onnx(o.model, ImportOptions{o.batch});
  const size_t imported_nodes = graph.nodes.size();
  const FoldResult folded = fold_constants(graph);
  const MeasuredShapes measured = measure_unknown_shapes(graph);  // what no folding pass needed
  if (!measured.error.empty())
    fmt::print(stderr, "chipref: note: some shapes stay unknown ('?'): a trial run on zeros failed: {}\n",
               measured.error);
  const GraphSummary s = summarize(graph);
  if (o.json) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& n : s.nodes)
      nodes.push_back({{"name", n.name},
                       {"op", n.op_type},
                       {"inputs", n.input_shapes},
                       {"outputs", n.output_shapes},
                       {"params", n.params},
                       {"macs", n.macs}});
    nlohmann::json j = {{"model", o.model},
                        {"opset", graph.opset},
                        {"batch", o.batch},
                        {"nodes", nodes},
                        {"imported_nodes", imported_nodes},
                        {"folded_nodes", folded.nodes_folded},
                        {"measured_shapes", folded.shapes_measured + measured.filled},
                        {"total_params", s.total_params},
                        {"total_macs", s.total_macs}};
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  size_t name_w = 4, op_w = 2, in_w = 6, out_w = 7;
  for (const auto& n : s.nodes) {
    name_w = std::max(name_w, n.name.size()), op_w = std::max(op_w, n.op_type.size());
    in_w = std::max(in_w, join(n.input_shapes).size()), out_w = std::max(out_w, join(n.output_shapes).size());
  }
  fmt::print(
      "{}: opset {}, batch {}; {} nodes imported, {} folded (constant shape arithmetic), {} shapes measured by a trial "
      "run\n",
      o.model, graph.opset, o.batch, imported_nodes, folded.nodes_folded, folded.shapes_measured + measured.filled);
  fmt::print("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>10}  {:>12}\n", "node", name_w, "op", op_w, "inputs", in_w, "outputs",
             out_w, "params", "MACs");
  for (const auto& n : s.nodes)
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>10}  {:>12}\n", n.name, name_w, n.op_type, op_w,
               join(n.input_shapes), in_w, join(n.output_shapes), out_w, n.params, n.macs);
  fmt::print("total: {} nodes, {} parameters, {} MACs per batch of {}\n", s.nodes.size(), s.total_params, s.total_macs,
             o.batch);
  return 0;
}
}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<InspectOptions>();
  auto* cmd =
      app.add_subcommand("inspect", "Nodes, shapes, parameters and MACs of an ONNX model or an IntGraph directory");
  cmd->add_option("MODEL", o->model, "ONNX model or IntGraph directory")->required()->check(CLI::ExistingPath);
  cmd->add_option("--batch", o->batch, "Size given to a dynamic batch dimension")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object instead of the table");
  cmd->add_flag("--tables", o->tables, "An IntGraph: also print every lookup table, entry by entry");
  cmd->add_flag("--lowering", o->lowering,
                "An ONNX model: what each node would lower to, or why not, before quantizing (calibrated on synthetic "
                "inputs); exit 3 if any node does not lower");
  cmd->add_option("--config", o->config, "With --lowering: the quantization config (default: the config defaults)")
      ->check(CLI::ExistingFile);
  add_engine_option(*cmd, o->engine);
  cmd->callback([&exit_code, o] { exit_code = run_inspect(*o); });
}

}  // namespace chipref::cli
