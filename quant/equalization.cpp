#include "quant/equalization.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "quant/channel_views.hpp"
#include "quant/config_keys.hpp"

namespace chipref {

namespace {
// A Clip whose lower bound is 0 (ReLU6 and the like): min from its input 1 (opset ≥ 11) or attribute.
bool clips_at_zero(const Graph& g, const Node& n) {
  if (n.op_type != "Clip" || !n.domain.empty()) return false;
  if (!n.has_input(1)) return n.inputs.size() == 1 && n.get_float("min", -1.0f) == 0.0f;
  const auto lo = g.initializers.find(n.inputs[1]);
  return lo != g.initializers.end() && lo->second.is_float() && lo->second.numel() == 1 && lo->second.floats[0] == 0.0f;
}
}  // namespace

std::vector<EqualizedPair> equalize_cross_layer(Graph& graph,
                                                const std::function<EqualizationChoice(const std::string&)>& choose) {
  // The factors are found on a copy, by rescaling it round after round; the graph itself is rescaled once
  // by their products, with apply_rescaling, as a replay from the IntGraph's record would.
  Graph g = graph;
  std::map<std::string, int> readers;
  for (const Node& n : g.nodes)
    for (const std::string& in : n.inputs) ++readers[in];
  for (const ValueInfo& o : g.outputs) readers[o.name] += 2;  // a graph output is never rescaled
  std::map<std::string, size_t> reader_of;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const std::string& in : g.nodes[i].inputs) reader_of[in] = i;
  const auto only_reader = [&](const std::string& tensor) -> const Node* {
    const auto r = readers.find(tensor);
    return r != readers.end() && r->second == 1 ? &g.nodes[reader_of.at(tensor)] : nullptr;
  };
  struct Pair {
    ChannelView first, second;
    EqualizedPair names;
  };
  std::vector<Pair> pairs;
  for (const Node& l1 : g.nodes) {
    if (!l1.domain.empty() || (l1.op_type != "Conv" && l1.op_type != "Gemm") || l1.inputs.size() < 2 ||
        l1.outputs.size() != 1)
      continue;
    const EqualizationChoice choice = choose(l1.name);
    if (!choice.equalize) continue;
    const Node* next = only_reader(l1.outputs[0]);
    std::vector<std::string> unclipped;
    if (next && choice.through_clip && clips_at_zero(g, *next)) {
      unclipped.push_back(next->name);
      next = only_reader(next->outputs.at(0));
    } else if (next && next->op_type == "Relu" && next->domain.empty()) {
      next = only_reader(next->outputs.at(0));
    }
    if (!next || !next->domain.empty() || next->inputs.size() < 2) continue;
    if ((l1.op_type == "Conv") != (next->op_type == "Conv")) continue;  // no reshape in between
    Pair p;
    if (!output_channel_view(g, l1, p.first) || !input_channel_view(g, *next, p.first.channels, p.second)) continue;
    bool own = readers[l1.inputs[1]] == 1 && readers[next->inputs[1]] == 1;
    if (l1.has_input(2)) own = own && readers[l1.inputs[2]] == 1;
    if (!own) continue;  // a weight another node reads too would change that node
    p.names.first = l1.name, p.names.second = next->name, p.names.unclipped = unclipped;
    p.names.factors.assign(static_cast<size_t>(p.first.channels), 1.0);
    // The tensors between the two hold rescaled channels: renamed (quant/channel_views.hpp says why).
    p.names.renamed = reader_of.at(l1.outputs[0]) == static_cast<size_t>(next - g.nodes.data())
                          ? std::vector<std::string>{l1.outputs[0]}
                          : std::vector<std::string>{l1.outputs[0], g.nodes[reader_of.at(l1.outputs[0])].outputs[0]};
    pairs.push_back(p);
  }
  // Pair by pair until the factors settle (one round for pairs that share no layer).
  for (int round = 0; round < 100; ++round) {
    double largest_change = 0;
    for (Pair& p : pairs)
      for (int64_t c = 0; c < p.first.channels; ++c) {
        const double r1 = p.first.range(c), r2 = p.second.range(c);
        if (r1 <= 0 || r2 <= 0) continue;
        const double s = std::sqrt(r1 / r2);
        largest_change = std::max(largest_change, std::fabs(std::log(s)));
        p.first.divide(c, s);
        p.second.multiply(c, s);
        p.names.factors[static_cast<size_t>(c)] *= s;
      }
    if (largest_change < 1e-6) break;
  }
  std::vector<EqualizedPair> names;
  for (const Pair& p : pairs) {
    apply_rescaling(graph, p.names.rescaling());
    names.push_back(p.names);
  }
  return names;
}

std::vector<ConfigKey> equalization_config_keys() {
  return {boolean_key("weights", "equalization", &LayerQuantConfig::cross_layer_equalization,
                      "cross-layer equalization (Nagel et al. 2019) of this Conv or Gemm with the MAC layer after it "
                      "(through a Relu at most): output channel i divided by s_i, the next layer's input channel i "
                      "multiplied by it, s_i = √(r1_i / r2_i) of the channels' largest \\|w\\|; the float function "
                      "is unchanged (docs/numerics.md §16)"),
          boolean_key("weights", "equalization_relu6", &LayerQuantConfig::equalization_through_clip,
                      "with `equalization`: also through a Clip from 0 (ReLU6), which becomes a Relu, as the "
                      "paper does for MobileNetV2; this changes the float function wherever the Clip's input "
                      "exceeds its upper bound")};
}

}  // namespace chipref
