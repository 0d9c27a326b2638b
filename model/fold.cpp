#include "model/fold.hpp"

#include <algorithm>
#include <set>

#include "model/executor.hpp"

namespace chipref {

namespace {
// A fully static shape for `name`, or nullptr.
const Shape* static_shape(const Graph& g, const std::string& name) {
  const Shape* s = g.known_shape(name);
  if (!s) return nullptr;
  for (int64_t d : *s)
    if (d < 0) return nullptr;
  return s;
}

int fold_pass(Graph& graph, const std::function<bool(const Node&)>& keep) {
  int folded = 0;
  std::set<std::string> graph_outputs;
  for (const auto& o : graph.outputs) graph_outputs.insert(o.name);
  std::vector<Node> kept;
  for (const Node& node : graph.nodes) {
    const bool produces_graph_output =
        std::any_of(node.outputs.begin(), node.outputs.end(), [&](const std::string& o) { return graph_outputs.count(o) != 0; });
    if (keep && keep(node)) {
      kept.push_back(node);
      continue;
    }
    std::vector<const Tensor*> inputs;
    bool constant = !produces_graph_output;
    for (const auto& in : node.inputs) {
      if (in.empty()) {
        inputs.push_back(nullptr);
        continue;
      }
      const auto it = graph.initializers.find(in);
      constant = constant && it != graph.initializers.end();
      inputs.push_back(it == graph.initializers.end() ? nullptr : &it->second);
    }
    if (!produces_graph_output && node.op_type == "Shape" && node.domain.empty() && !constant) {
      if (const Shape* shape = static_shape(graph, node.inputs.at(0))) {
        Tensor shaped;  // Shape reads only the shape, never the data
        shaped.shape = *shape;
        const std::vector<Tensor> out = run_node(node, graph.opset, {&shaped});
        graph.initializers[node.outputs[0]] = out[0];
        ++folded;
        continue;
      }
    }
    if (constant && !node.inputs.empty()) {
      std::vector<Tensor> out = run_node(node, graph.opset, inputs);
      for (size_t i = 0; i < node.outputs.size(); ++i)
        if (!node.outputs[i].empty()) graph.initializers[node.outputs[i]] = std::move(out[i]);
      ++folded;
      continue;
    }
    if (node.op_type == "Constant" && node.domain.empty() && !produces_graph_output) {
      graph.initializers[node.outputs[0]] = run_node(node, graph.opset, {})[0];
      ++folded;
      continue;
    }
    kept.push_back(node);
  }
  graph.nodes = std::move(kept);
  // Drop initializers that only fed folded nodes.
  std::set<std::string> used;
  for (const auto& n : graph.nodes) used.insert(n.inputs.begin(), n.inputs.end());
  used.insert(graph_outputs.begin(), graph_outputs.end());
  for (auto it = graph.initializers.begin(); it != graph.initializers.end();)
    it = used.count(it->first) ? std::next(it) : graph.initializers.erase(it);
  return folded;
}

bool inputs_static(const Graph& graph) {
  for (const auto& in : graph.inputs)
    for (int64_t d : in.shape)
      if (d < 0) return false;
  return true;
}
}  // namespace

FoldResult fold_constants(Graph& graph, const std::function<bool(const Node&)>& keep) {
  FoldResult result;
  for (;;) {
    const int folded = fold_pass(graph, keep);
    result.nodes_folded += folded;
    if (folded == 0 || !inputs_static(graph) || !result.measure_error.empty()) break;
    const MeasuredShapes measured = measure_unknown_shapes(graph);
    result.shapes_measured += measured.filled;
    result.measure_error = measured.error;
    if (measured.filled == 0) break;
  }
  return result;
}

MeasuredShapes measure_unknown_shapes(Graph& graph) {
  MeasuredShapes result;
  TensorMap zeros;
  for (const auto& in : graph.inputs) {
    for (int64_t d : in.shape)
      if (d < 0) return {0, "graph input '" + in.name + "' has a dynamic shape " + shape_to_string(in.shape)};
    zeros[in.name] = Tensor::zeros(in.dtype, in.shape);
  }
  TensorMap values;
  try {
    values = FloatExecutor(graph).run(zeros, true);
  } catch (const InputError& e) {
    return {0, e.what()};
  }
  for (const auto& [name, tensor] : values) {
    ValueInfo* known = nullptr;
    for (auto& o : graph.outputs)
      if (o.name == name) known = &o;
    if (!known) known = &graph.value_info[name];
    bool complete = known->shape_known;
    for (int64_t d : known->shape) complete = complete && d >= 0;
    if (complete) continue;
    known->name = name;
    known->dtype = tensor.dtype;
    known->shape = tensor.shape;
    known->shape_known = true;
    ++result.filled;
  }
  return result;
}

}  // namespace chipref
