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

// run_node on a constant node, its errors naming the model and the node (op errors name the node already).
std::vector<Tensor> fold_node(const Graph& graph, const Node& node, const std::vector<const Tensor*>& inputs) {
  try {
    return run_node(node, graph.opset, inputs);
  } catch (const InputError& e) {
    std::string what = e.what();
    if (what.rfind(node.describe(), 0) != 0) what = node.describe() + ": " + what;
    throw InputError(graph.source + ": " + what);
  }
}

int fold_pass(Graph& graph, const std::function<bool(const Node&)>& keep) {
  int folded = 0;
  std::set<std::string> graph_outputs;
  for (const auto& o : graph.outputs) graph_outputs.insert(o.name);
  std::vector<Node> kept;
  for (const Node& node : graph.nodes) {
    const bool produces_graph_output = std::any_of(node.outputs.begin(), node.outputs.end(),
                                                   [&](const std::string& o) { return graph_outputs.count(o) != 0; });
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
        const std::vector<Tensor> out = fold_node(graph, node, {&shaped});
        graph.initializers[node.outputs[0]] = out[0];
        ++folded;
        continue;
      }
    }
    if (constant && !node.inputs.empty()) {
      std::vector<Tensor> out = fold_node(graph, node, inputs);
      for (size_t i = 0; i < node.outputs.size(); ++i)
        if (!node.outputs[i].empty()) graph.initializers[node.outputs[i]] = std::move(out[i]);
      ++folded;
      continue;
    }
    if (node.op_type == "Constant" && node.domain.empty() && !produces_graph_output) {
      graph.initializers[node.outputs[0]] = fold_node(graph, node, {})[0];
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

namespace {

constexpr int64_t kProbeBatches[2] = {2, 3};

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype == b.dtype && a.shape == b.shape && a.floats == b.floats && a.ints == b.ints;
}

Graph folded_at_batch(const Graph& graph, int64_t batch, const std::function<bool(const Node&)>& keep) {
  Graph probe = graph;
  probe.inputs[0].shape[0] = batch;
  const MeasuredShapes measured = measure_unknown_shapes(probe);
  if (!measured.error.empty())
    throw InputError(graph.source + ": cannot fold the shape arithmetic on the dynamic batch: a trial run at batch " +
                     std::to_string(batch) + " failed: " + measured.error);
  fold_constants(probe, keep);
  return probe;
}

// -1 where the two probes' shapes differ (the batch and what is proportional to it).
void merge_shape(ValueInfo& into, const ValueInfo* other) {
  if (!other || other->shape.size() != into.shape.size()) {
    into.shape_known = false, into.shape.clear();
    return;
  }
  for (size_t d = 0; d < into.shape.size(); ++d)
    if (into.shape[d] != other->shape[d]) into.shape[d] = -1;
}

// The entry of a Reshape target that is k·batch at both probes, or -1 if there is not exactly one.
int64_t batch_entry(const Tensor& at_first, const Tensor& at_second) {
  if (at_first.is_float() || at_first.rank() != 1 || at_first.shape != at_second.shape) return -1;
  int64_t found = -1;
  for (int64_t d = 0; d < at_first.numel(); ++d) {
    const int64_t a = at_first.ints[d], b = at_second.ints[d];
    if (a == b) continue;
    if (found >= 0 || a % kProbeBatches[0] || b % kProbeBatches[1] || a / kProbeBatches[0] != b / kProbeBatches[1])
      return -1;
    found = d;
  }
  return found;
}

// True if t (at the first probe) and u (at the second) are one slice repeated along axis 0.
bool repeated_along_batch(const Tensor& t, const Tensor& u) {
  if (!t.is_float() || !u.is_float() || t.rank() == 0 || t.shape[0] != kProbeBatches[0] ||
      u.shape[0] != kProbeBatches[1])
    return false;
  if (!std::equal(t.shape.begin() + 1, t.shape.end(), u.shape.begin() + 1, u.shape.end())) return false;
  const size_t slice = t.floats.size() / static_cast<size_t>(kProbeBatches[0]);
  for (const Tensor* x : {&t, &u})
    for (size_t i = slice; i < x->floats.size(); ++i)
      if (x->floats[i] != x->floats[i % slice]) return false;
  return true;
}

}  // namespace

int fold_dynamic_batch(Graph& graph, const std::function<bool(const Node&)>& keep) {
  if (inputs_static(graph) || std::none_of(graph.nodes.begin(), graph.nodes.end(),
                                           [](const Node& n) { return n.op_type == "Shape" && n.domain.empty(); }))
    return 0;
  for (size_t i = 0; i < graph.inputs.size(); ++i)
    for (size_t d = 0; d < graph.inputs[i].shape.size(); ++d)
      if (graph.inputs[i].shape[d] < 0 && (i != 0 || d != 0))
        throw InputError(graph.source + ": input '" + graph.inputs[i].name + "' has a dynamic dimension " +
                         std::to_string(d) + "; only a dynamic batch (axis 0 of the first input) can be folded");
  Graph first = folded_at_batch(graph, kProbeBatches[0], keep);
  const Graph second = folded_at_batch(graph, kProbeBatches[1], keep);
  bool same_nodes = first.nodes.size() == second.nodes.size();
  for (size_t i = 0; same_nodes && i < first.nodes.size(); ++i)
    same_nodes = first.nodes[i].name == second.nodes[i].name;
  if (!same_nodes)
    throw InputError(graph.source +
                     ": the shape arithmetic folds differently at batch 2 and 3; export with a fixed batch size");

  std::vector<Node> broadcasts;
  for (auto& [name, tensor] : first.initializers) {
    const auto other = second.initializers.find(name);
    if (other == second.initializers.end())
      throw InputError(graph.source + ": constant '" + name + "' exists at batch 2 but not at batch 3");
    if (same_tensor(tensor, other->second)) continue;
    const Node* reader = nullptr;
    bool only_reshape_targets = true;
    for (const Node& n : first.nodes)
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (n.inputs[k] == name) {
          if (!reader) reader = &n;
          only_reshape_targets = only_reshape_targets && n.op_type == "Reshape" && n.domain.empty() && k == 1;
        }
    const std::string where =
        graph.source + ": " + (reader ? reader->describe() : std::string("the graph")) + " reads '" + name + "', which";
    if (only_reshape_targets && !tensor.is_float()) {
      const int64_t d = batch_entry(tensor, other->second);
      if (d < 0)
        throw InputError(where +
                         " depends on the batch size in more than one entry (or not in proportion to it); export with "
                         "a fixed batch size");
      // The entry becomes -1 (inferred), or 0 (copied from the input) when the target has a -1 already
      // and every reading Reshape's input has exactly that size there at both probes.
      const bool has_infer = std::count(tensor.ints.begin(), tensor.ints.end(), -1) != 0;
      bool copies = true;
      for (const Node& n : first.nodes)
        if (n.inputs.size() > 1 && n.inputs[1] == name) {
          const Shape* at_first = first.known_shape(n.inputs[0]);
          const Shape* at_second = second.known_shape(n.inputs[0]);
          copies = copies && n.get_int("allowzero", 0) == 0 && at_first && at_second &&
                   static_cast<int64_t>(at_first->size()) > d && static_cast<int64_t>(at_second->size()) > d &&
                   (*at_first)[d] == tensor.ints[d] && (*at_second)[d] == other->second.ints[d];
        }
      if (has_infer && !copies)
        throw InputError(where +
                         " has a -1 and an entry proportional to the batch that is not the input's size there; export "
                         "with a fixed batch size");
      tensor.ints[d] = has_infer ? 0 : -1;
      continue;
    }
    if (!repeated_along_batch(tensor, other->second))
      throw InputError(where +
                       " depends on the batch size in a way folding cannot express (neither a Reshape target nor a "
                       "constant repeated along the batch); "
                       "export with a fixed batch size");
    Tensor one = tensor;
    one.shape[0] = 1;
    one.floats.resize(one.floats.size() / static_cast<size_t>(kProbeBatches[0]));
    Node broadcast;
    broadcast.name = name + "/BatchBroadcast", broadcast.op_type = kBatchBroadcastOp, broadcast.domain = kChiprefDomain;
    broadcast.inputs = {name + ":one", graph.inputs[0].name}, broadcast.outputs = {name};
    broadcasts.push_back(std::move(broadcast));
    tensor = std::move(one);
  }
  for (auto& [name, info] : first.value_info) {
    if (!info.shape_known) continue;
    const auto it = second.value_info.find(name);
    merge_shape(info, it == second.value_info.end() ? nullptr : &it->second);
  }
  for (const Node& b : broadcasts) {
    Tensor one = std::move(first.initializers.at(b.outputs[0]));
    first.initializers.erase(b.outputs[0]);
    ValueInfo& info = first.value_info[b.outputs[0]];
    info.name = b.outputs[0], info.dtype = one.dtype, info.shape = one.shape, info.shape[0] = -1,
    info.shape_known = true;
    first.initializers[b.inputs[0]] = std::move(one);
  }
  first.nodes.insert(first.nodes.begin(), broadcasts.begin(), broadcasts.end());
  for (size_t i = 0; i < first.outputs.size(); ++i) merge_shape(first.outputs[i], &second.outputs.at(i));
  first.inputs[0].shape[0] = -1;
  const int folded = static_cast<int>(graph.nodes.size() + broadcasts.size() - first.nodes.size());
  graph = std::move(first);
  return folded;
}

MeasuredShapes measure_unknown_shapes(Graph& graph) {
  MeasuredShapes result;
  TensorMap zeros;
  for (const auto& in : graph.inputs) {
    for (int64_t d : in.shape)
      if (d < 0) return {0, "graph input '" + in.name + "' has a dynamic shape " + shape_to_string(in.shape)};
    checked_element_count(in.shape, graph.source + ": graph input '" + in.name + "'");
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
