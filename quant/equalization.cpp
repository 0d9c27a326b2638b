#include "quant/equalization.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "quant/config_keys.hpp"

namespace chipref {

namespace {

// One side of a pair: a constant weight tensor and how a channel (L1's output, L2's input) lies in it.
struct ChannelView {
  Tensor* weights = nullptr;
  Tensor* bias = nullptr;  // L1's, scaled with its output channel
  int64_t channels = 0;
  // Element e of channel c is floats[first(c) + (e / run) · stride + e % run], e < count.
  int64_t count = 0, run = 1, stride = 0, channel_step = 0;

  template <class F>
  void for_each(int64_t c, F f) const {
    for (int64_t e = 0; e < count; ++e)
      f(weights->floats[static_cast<size_t>(c * channel_step + (e / run) * stride + e % run)]);
  }
  double range(int64_t c) const {
    double r = 0;
    for_each(c, [&](float w) { r = std::max(r, static_cast<double>(std::fabs(w))); });
    return r;
  }
};

bool is_default_gemm(const Node& n) {
  return n.get_int("transA", 0) == 0 && n.get_float("alpha", 1.0f) == 1.0f && n.get_float("beta", 1.0f) == 1.0f;
}

// L1's output channels: rows of [out, ...] weights (Conv, Gemm with transB), columns of [in, out] (Gemm).
bool output_channels(Graph& g, const Node& n, ChannelView& v) {
  const auto w = g.initializers.find(n.inputs.at(1));
  if (w == g.initializers.end() || !w->second.is_float()) return false;
  const Shape& s = w->second.shape;
  v.weights = &w->second;
  if (n.op_type == "Conv" && s.size() == 4) {
    v.channels = s[0], v.count = s[1] * s[2] * s[3], v.run = v.count, v.stride = 0, v.channel_step = v.count;
  } else if (n.op_type == "Gemm" && s.size() == 2 && is_default_gemm(n)) {
    if (n.get_int("transB", 0) != 0)
      v.channels = s[0], v.count = s[1], v.run = s[1], v.channel_step = s[1];
    else
      v.channels = s[1], v.count = s[0], v.run = 1, v.stride = s[1], v.channel_step = 1;
  } else {
    return false;
  }
  if (n.has_input(2)) {
    const auto b = g.initializers.find(n.inputs[2]);
    if (b == g.initializers.end() || !b->second.is_float() || b->second.rank() != 1 || b->second.numel() != v.channels)
      return false;
    v.bias = &b->second;
  }
  return true;
}

// L2's input channels: Conv [M, C, kh, kw] (groups 1) or depthwise [C, 1, kh, kw]; Gemm [out, in] (transB)
// or [in, out]; MatMul [in, out].
bool input_channels(Graph& g, const Node& n, int64_t channels, ChannelView& v) {
  const auto w = g.initializers.find(n.inputs.at(1));
  if (w == g.initializers.end() || !w->second.is_float()) return false;
  const Shape& s = w->second.shape;
  v.weights = &w->second;
  v.channels = channels;
  if (n.op_type == "Conv" && s.size() == 4) {
    const int64_t groups = n.get_int("group", 1), taps = s[2] * s[3];
    if (groups == 1 && s[1] == channels)
      v.count = s[0] * taps, v.run = taps, v.stride = s[1] * taps, v.channel_step = taps;
    else if (groups == channels && s[0] == channels && s[1] == 1)
      v.count = taps, v.run = taps, v.channel_step = taps;
    else
      return false;
    return true;
  }
  if (s.size() != 2) return false;
  const bool rows_are_inputs = n.op_type == "MatMul" || (n.op_type == "Gemm" && n.get_int("transB", 0) == 0);
  if ((n.op_type == "Gemm" && !is_default_gemm(n)) || (n.op_type != "Gemm" && n.op_type != "MatMul")) return false;
  if (rows_are_inputs) {
    if (s[0] != channels) return false;
    v.count = s[1], v.run = s[1], v.channel_step = s[1];
  } else {
    if (s[1] != channels) return false;
    v.count = s[0], v.run = 1, v.stride = s[1], v.channel_step = 1;
  }
  return true;
}

}  // namespace

std::vector<EqualizedPair> equalize_cross_layer(Graph& g, const std::function<bool(const std::string&)>& wanted) {
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
  std::vector<std::vector<std::string>> rescaled;
  for (const Node& l1 : g.nodes) {
    if (!l1.domain.empty() || (l1.op_type != "Conv" && l1.op_type != "Gemm") || l1.inputs.size() < 2 ||
        l1.outputs.size() != 1 || !wanted(l1.name))
      continue;
    const Node* next = only_reader(l1.outputs[0]);
    if (next && next->op_type == "Relu" && next->domain.empty()) next = only_reader(next->outputs.at(0));
    if (!next || !next->domain.empty() || next->inputs.size() < 2) continue;
    if ((l1.op_type == "Conv") != (next->op_type == "Conv")) continue;  // no reshape in between
    Pair p;
    if (!output_channels(g, l1, p.first) || !input_channels(g, *next, p.first.channels, p.second)) continue;
    bool own = readers[l1.inputs[1]] == 1 && readers[next->inputs[1]] == 1;
    if (l1.has_input(2)) own = own && readers[l1.inputs[2]] == 1;
    if (!own) continue;  // a weight another node reads too would change that node
    p.names = EqualizedPair{l1.name, next->name};
    pairs.push_back(p);
    // The tensors between the two now hold rescaled channels: new names, so that nothing compares them
    // with the original graph's tensors of the old names (the dual-path report finds no reference for them).
    rescaled.push_back(reader_of.at(l1.outputs[0]) == static_cast<size_t>(next - g.nodes.data())
                           ? std::vector<std::string>{l1.outputs[0]}
                           : std::vector<std::string>{l1.outputs[0], g.nodes[reader_of.at(l1.outputs[0])].outputs[0]});
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
        const float down = static_cast<float>(1 / s), up = static_cast<float>(s);
        p.first.for_each(c, [&](float& w) { w *= down; });
        if (p.first.bias) p.first.bias->floats[static_cast<size_t>(c)] *= down;
        p.second.for_each(c, [&](float& w) { w *= up; });
      }
    if (largest_change < 1e-6) break;
  }
  std::map<std::string, std::string> renamed;
  for (const auto& tensors : rescaled)
    for (const std::string& t : tensors) renamed[t] = t + ".equalized";
  for (Node& n : g.nodes) {
    for (std::string& in : n.inputs)
      if (const auto r = renamed.find(in); r != renamed.end()) in = r->second;
    for (std::string& out : n.outputs)
      if (const auto r = renamed.find(out); r != renamed.end()) out = r->second;
  }
  for (const auto& [from, to] : renamed)
    if (const auto info = g.value_info.find(from); info != g.value_info.end()) {
      ValueInfo v = info->second;
      v.name = to;
      g.value_info.erase(info);
      g.value_info[to] = v;
    }
  std::vector<EqualizedPair> names;
  for (const Pair& p : pairs) names.push_back(p.names);
  return names;
}

std::vector<ConfigKey> equalization_config_keys() {
  return {boolean_key(
      "weights", "equalization", &LayerQuantConfig::cross_layer_equalization,
      "cross-layer equalization (Nagel et al. 2019) of this Conv or Gemm with the MAC layer after it (through a Relu "
      "at most): output channel i divided by s_i, the next layer's input channel i multiplied by it, "
      "s_i = √(r1_i / r2_i) of the channels' largest \\|w\\|; the float function is unchanged (docs/numerics.md "
      "§16)")};
}

}  // namespace chipref
