#include "quant/passes.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace chipref {

namespace {
std::map<std::string, int> consumer_counts(const Graph& g) {
  std::map<std::string, int> counts;
  for (const Node& n : g.nodes)
    for (const auto& in : n.inputs) ++counts[in];
  for (const auto& o : g.outputs) ++counts[o.name];
  return counts;
}

// Every reader of `from` reads `to` instead.
void rename_uses(Graph& g, const std::string& from, const std::string& to) {
  for (Node& n : g.nodes)
    for (auto& in : n.inputs)
      if (in == from) in = to;
  for (auto& o : g.outputs)
    if (o.name == from) o.name = to;
}

const Tensor* float_initializer(const Graph& g, const std::string& name) {
  const auto it = g.initializers.find(name);
  return it != g.initializers.end() && it->second.is_float() ? &it->second : nullptr;
}
}  // namespace

int fold_batch_norm(Graph& g) {
  int folded = 0;
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& out : g.nodes[i].outputs) producer[out] = i;
  const auto consumers = consumer_counts(g);
  std::vector<bool> erase(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& bn = g.nodes[i];
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.outputs.size() != 1) continue;
    const auto p = producer.find(bn.inputs.at(0));
    if (p == producer.end()) continue;
    Node& conv = g.nodes[p->second];
    if (conv.op_type != "Conv" || consumers.at(conv.outputs[0]) != 1) continue;
    const Tensor* w = float_initializer(g, conv.inputs.at(1));
    const Tensor *gamma = float_initializer(g, bn.inputs.at(1)), *beta = float_initializer(g, bn.inputs.at(2));
    const Tensor *mean = float_initializer(g, bn.inputs.at(3)), *var = float_initializer(g, bn.inputs.at(4));
    const Tensor* bias = conv.has_input(2) ? float_initializer(g, conv.inputs[2]) : nullptr;
    if (!w || !gamma || !beta || !mean || !var || (conv.has_input(2) && !bias)) continue;
    const int64_t channels = w->shape.at(0), per = w->numel() / channels;
    const double eps = bn.get_float("epsilon", 1e-5f);
    Tensor w_folded = *w;
    Tensor b_folded = Tensor::zeros(DType::float32, {channels});
    for (int64_t c = 0; c < channels; ++c) {
      const double k = static_cast<double>(gamma->floats.at(c)) / std::sqrt(static_cast<double>(var->floats.at(c)) + eps);
      for (int64_t j = 0; j < per; ++j) w_folded.floats[c * per + j] = static_cast<float>(w->floats[c * per + j] * k);
      const double b = bias ? bias->floats[c] : 0.0;
      b_folded.floats[c] = static_cast<float>((b - mean->floats.at(c)) * k + beta->floats.at(c));
    }
    // New names: the original initializers may be shared with other nodes.
    const std::string w_name = conv.name + ".weight_bn_folded", b_name = conv.name + ".bias_bn_folded";
    g.initializers[w_name] = std::move(w_folded);
    g.initializers[b_name] = std::move(b_folded);
    conv.inputs.resize(3);
    conv.inputs[1] = w_name, conv.inputs[2] = b_name;
    conv.outputs[0] = bn.outputs[0];  // the Conv now produces what the BN produced
    erase[i] = true;
    ++folded;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!erase[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  return folded;
}

int remove_identities(Graph& g) {
  int removed = 0;
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    bool identity = n.domain.empty() && (n.op_type == "Identity" || n.op_type == "Dropout");
    if (n.domain.empty() && n.op_type == "Pad" && n.get_string("mode", std::string("constant")) == "constant") {
      const auto it = g.initializers.find(n.inputs.at(1));
      identity = it != g.initializers.end() && std::all_of(it->second.ints.begin(), it->second.ints.end(), [](int64_t p) { return p == 0; });
    }
    const bool graph_output = std::any_of(g.outputs.begin(), g.outputs.end(), [&](const ValueInfo& o) { return o.name == n.outputs[0]; });
    if (identity && !graph_output && (n.op_type != "Dropout" || n.outputs.size() == 1 || n.outputs[1].empty())) {
      rename_uses(g, n.outputs[0], n.inputs[0]);
      ++removed;
      continue;
    }
    kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
  return removed;
}

}  // namespace chipref
