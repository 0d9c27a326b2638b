#include "quant/passes.hpp"

#include "model/ops/ops.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "model/executor.hpp"

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
      const double k =
          static_cast<double>(gamma->floats.at(c)) / std::sqrt(static_cast<double>(var->floats.at(c)) + eps);
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

int channel_affine_to_depthwise(Graph& g) {
  int rewritten = 0;
  for (Node& n : g.nodes) {
    if (!n.domain.empty() || n.outputs.size() != 1) continue;
    const bool bn = n.op_type == "BatchNormalization";
    if (!bn && n.op_type != "Mul" && n.op_type != "Add" && n.op_type != "Sub" && n.op_type != "Div") continue;
    if (!bn && n.inputs.size() != 2) continue;
    // The activation operand and the constant one (Sub and Div: the constant second).
    const bool constant_first = !bn && (n.op_type == "Mul" || n.op_type == "Add") && float_initializer(g, n.inputs[0]);
    const std::string x = n.inputs.at(constant_first ? 1 : 0);
    if (g.initializers.count(x)) continue;
    const ValueInfo* info = g.find_value(x);
    if (!info || !info->shape_known || info->shape.size() != 4) continue;  // the lowering's convolutions are 2-D
    const int64_t channels = info->shape[1];
    if (channels <= 0) continue;
    std::vector<double> weight(static_cast<size_t>(channels), 1.0), bias(static_cast<size_t>(channels), 0.0);
    if (bn) {
      const Tensor *gamma = float_initializer(g, n.inputs.at(1)), *beta = float_initializer(g, n.inputs.at(2));
      const Tensor *mean = float_initializer(g, n.inputs.at(3)), *var = float_initializer(g, n.inputs.at(4));
      if (!gamma || !beta || !mean || !var) continue;
      const double eps = n.get_float("epsilon", 1e-5f);
      for (int64_t c = 0; c < channels; ++c) {
        const auto i = static_cast<size_t>(c);
        weight[i] = static_cast<double>(gamma->floats.at(i)) / std::sqrt(static_cast<double>(var->floats.at(i)) + eps);
        bias[i] = static_cast<double>(beta->floats.at(i)) - static_cast<double>(mean->floats.at(i)) * weight[i];
      }
    } else {
      const Tensor* k = float_initializer(g, n.inputs[constant_first ? 0 : 1]);
      if (!k || k->numel() != channels || channels == 1) continue;  // a scalar stays a rescaling
      // One value per channel: right-aligned to the input's rank, `channels` on axis 1 and 1 elsewhere.
      Shape aligned = k->shape;
      while (aligned.size() < info->shape.size()) aligned.insert(aligned.begin(), 1);
      bool per_channel = aligned.size() == info->shape.size();
      for (size_t d = 0; per_channel && d < aligned.size(); ++d) per_channel = aligned[d] == (d == 1 ? channels : 1);
      if (!per_channel) continue;
      for (int64_t c = 0; c < channels; ++c) {
        const double v = k->floats.at(static_cast<size_t>(c));
        double& w = weight[static_cast<size_t>(c)];
        double& b = bias[static_cast<size_t>(c)];
        if (n.op_type == "Mul") w = v;
        if (n.op_type == "Div") w = 1.0 / v;
        if (n.op_type == "Add") b = v;
        if (n.op_type == "Sub") b = -v;
      }
    }
    Tensor w = Tensor::zeros(DType::float32, {channels, 1, 1, 1}), b = Tensor::zeros(DType::float32, {channels});
    for (int64_t c = 0; c < channels; ++c)
      w.floats[static_cast<size_t>(c)] = static_cast<float>(weight[static_cast<size_t>(c)]),
      b.floats[static_cast<size_t>(c)] = static_cast<float>(bias[static_cast<size_t>(c)]);
    if (std::any_of(w.floats.begin(), w.floats.end(), [](float v) { return !std::isfinite(v); })) continue;
    const std::string w_name = n.name + ".depthwise_weight", b_name = n.name + ".depthwise_bias";
    g.initializers[w_name] = std::move(w);
    g.initializers[b_name] = std::move(b);
    Node conv;
    conv.name = n.name, conv.op_type = "Conv";
    conv.inputs = {x, w_name, b_name};
    conv.outputs = n.outputs;
    conv.attributes["group"] = channels;
    conv.attributes["kernel_shape"] = std::vector<int64_t>{1, 1};
    n = std::move(conv);
    ++rewritten;
  }
  return rewritten;
}

int reduce_mean_to_pool(Graph& g) {
  int rewritten = 0;
  std::vector<Node> nodes;
  for (Node& n : g.nodes) {
    const bool sum = n.op_type == "ReduceSum";
    const ValueInfo* info =
        (n.op_type == "ReduceMean" || sum) && n.domain.empty() ? g.find_value(n.inputs.at(0)) : nullptr;
    // The axes: an attribute, or a constant second input (ReduceSum from opset 13).
    std::vector<int64_t> axes;
    if (info && n.has("axes")) axes = n.get_ints("axes");
    if (info && n.inputs.size() > 1 && !n.inputs[1].empty()) {
      const auto it = g.initializers.find(n.inputs[1]);
      if (it != g.initializers.end() && !it->second.is_float()) axes = it->second.ints;
    }
    for (int64_t& a : axes) a = a < 0 ? a + 4 : a;
    std::sort(axes.begin(), axes.end());
    if (!info || !info->shape_known || info->shape.size() != 4 || axes != std::vector<int64_t>{2, 3} ||
        info->shape[2] <= 0 || info->shape[3] <= 0) {
      nodes.push_back(std::move(n));
      continue;
    }
    const bool keepdims = n.get_int("keepdims", 1) != 0;
    ValueInfo pooled = *info;  // [N, C, 1, 1]
    pooled.shape[2] = pooled.shape[3] = 1;
    if (pooled.dim_names.size() == 4) pooled.dim_names[2] = pooled.dim_names[3] = "";
    auto intermediate = [&](const std::string& name) {
      pooled.name = name;
      g.value_info[name] = pooled;
      return name;
    };
    // The mean, times H·W for a sum (a constant scalar Mul: the codes stay, the readers' scales take it),
    // then [N, C] without keepdims.
    std::string last = keepdims && !sum ? n.outputs[0] : intermediate(n.name + "/mean");
    Node pool;
    pool.name = n.name, pool.op_type = "GlobalAveragePool";
    pool.inputs = {n.inputs[0]};
    pool.outputs = {last};
    nodes.push_back(pool);
    if (sum) {
      const std::string area = n.name + "/area";
      g.initializers[area] = Tensor::of_floats({}, {static_cast<float>(info->shape[2] * info->shape[3])});
      Node times;
      times.name = n.name + "/times_area", times.op_type = "Mul";
      times.inputs = {last, area};
      times.outputs = {keepdims ? n.outputs[0] : intermediate(n.name + "/sum")};
      last = times.outputs[0];
      nodes.push_back(times);
    }
    if (!keepdims) {
      Node flatten;
      flatten.name = n.name + "/Flatten", flatten.op_type = "Flatten";
      flatten.inputs = {last};
      flatten.outputs = {n.outputs[0]};
      flatten.attributes["axis"] = int64_t{1};
      nodes.push_back(flatten);
    }
    ++rewritten;
  }
  g.nodes = std::move(nodes);
  return rewritten;
}

int remove_identities(Graph& g) {
  int removed = 0;
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    bool identity = n.domain.empty() && (n.op_type == "Identity" || n.op_type == "Dropout");
    if (n.domain.empty() && n.op_type == "Pad" && n.get_string("mode", std::string("constant")) == "constant") {
      const auto it = g.initializers.find(n.inputs.at(1));
      identity = it != g.initializers.end() &&
                 std::all_of(it->second.ints.begin(), it->second.ints.end(), [](int64_t p) { return p == 0; });
    }
    // x · 1 and x / 1 are x in every float (±∞ and NaN included): torch's attention multiplies its scores
    // and its additive mask by a scale of 1. The constant must not broadcast x to a higher rank.
    if (n.domain.empty() && (n.op_type == "Mul" || n.op_type == "Div") && n.inputs.size() == 2) {
      for (size_t k : {size_t{1}, size_t{0}}) {
        if (k == 0 && n.op_type == "Div") continue;
        const auto c = g.initializers.find(n.inputs[k]);
        const Shape* other = g.known_shape(n.inputs[1 - k]);
        if (c == g.initializers.end() || g.initializers.count(n.inputs[1 - k]) || c->second.numel() != 1 ||
            c->second.value(0) != 1.0 || (c->second.rank() > 0 && (!other || other->size() < c->second.shape.size())))
          continue;
        if (k == 0) std::swap(n.inputs[0], n.inputs[1]);
        identity = true;
        break;
      }
    }
    const bool graph_output =
        std::any_of(g.outputs.begin(), g.outputs.end(), [&](const ValueInfo& o) { return o.name == n.outputs[0]; });
    // A Dropout's mask (torch exports one even when nothing reads it) must be unread to drop the node.
    const bool mask_read =
        n.op_type == "Dropout" && n.outputs.size() > 1 && !n.outputs[1].empty() &&
        (std::any_of(g.nodes.begin(), g.nodes.end(),
                     [&](const Node& r) { return std::count(r.inputs.begin(), r.inputs.end(), n.outputs[1]) > 0; }) ||
         std::any_of(g.outputs.begin(), g.outputs.end(), [&](const ValueInfo& o) { return o.name == n.outputs[1]; }));
    if (identity && !graph_output && !mask_read) {
      rename_uses(g, n.outputs[0], n.inputs[0]);
      ++removed;
      continue;
    }
    kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
  return removed;
}

namespace {
// Rebuilds the node list without the erased nodes; each replacement takes the place of the erased node
// at its index (a fused pattern's last node, so that the graph stays topologically sorted).
int replace_patterns(Graph& g, const std::vector<bool>& erase, const std::map<size_t, Node>& replacements) {
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!erase[i])
      kept.push_back(g.nodes[i]);
    else if (const auto it = replacements.find(i); it != replacements.end())
      kept.push_back(it->second);
  }
  g.nodes = std::move(kept);
  return static_cast<int>(replacements.size());
}

// Matches the decomposed LayerNorm whose first ReduceMean is node `start`; fills the nodes to erase,
// the LayerNormalization to insert and returns true when it is one.
class LayerNormMatcher {
 public:
  explicit LayerNormMatcher(const Graph& g) : g_(g), counts_(consumer_counts(g)) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (const auto& in : g.nodes[i].inputs) readers_[in].push_back(i);
  }

  bool match(size_t start, std::vector<size_t>& nodes, Node& fused) const {
    const Node& mean = g_.nodes[start];
    if (!is(mean, "ReduceMean") || !last_axis(mean)) return false;
    const std::string x = mean.inputs.at(0);
    const Node* sub = only_reader(mean.outputs[0], "Sub");
    if (!sub || sub->inputs.at(0) != x || sub->inputs.at(1) != mean.outputs[0]) return false;
    const std::string d = sub->outputs[0];
    const Node *pow = reader(d, "Pow"), *div = reader(d, "Div");
    if (!pow || !div || count(d) != 2 || div->inputs.at(0) != d) return false;
    const Tensor* two = float_initializer(g_, pow->inputs.at(1));
    if (!two || two->numel() != 1 || two->floats[0] != 2.0f) return false;
    const Node* var = only_reader(pow->outputs[0], "ReduceMean");
    if (!var || !last_axis(*var)) return false;
    const Node* add_eps = only_reader(var->outputs[0], "Add");
    if (!add_eps) return false;
    const Tensor* eps = constant_operand(*add_eps, var->outputs[0]);
    if (!eps || eps->numel() != 1) return false;
    const Node* sqrt = only_reader(add_eps->outputs[0], "Sqrt");
    if (!sqrt || div->inputs.at(1) != sqrt->outputs[0] || count(sqrt->outputs[0]) != 1) return false;
    const Node* mul = only_reader(div->outputs[0], "Mul");
    if (!mul) return false;
    const Tensor* gamma = constant_operand(*mul, div->outputs[0]);
    const Node* add = only_reader(mul->outputs[0], "Add");
    if (!gamma || !add) return false;
    const Tensor* beta = constant_operand(*add, mul->outputs[0]);
    if (!beta || gamma->rank() != 1 || beta->rank() != 1) return false;
    for (const Node* n : {&mean, sub, pow, var, add_eps, sqrt, div, mul, add}) nodes.push_back(index(*n));
    fused = Node{};
    fused.name = mean.name + "/LayerNormalization";
    fused.op_type = "LayerNormalization";
    fused.inputs = {x, operand_name(*mul, div->outputs[0]), operand_name(*add, mul->outputs[0])};
    fused.outputs = {add->outputs[0]};
    fused.attributes["axis"] = int64_t{-1};
    fused.attributes["epsilon"] = eps->floats[0];
    return true;
  }

 private:
  static bool is(const Node& n, const char* type) { return n.op_type == type && n.domain.empty(); }
  bool last_axis(const Node& n) const {
    const auto axes = n.get_ints("axes", std::vector<int64_t>{});
    const Shape* shape = g_.known_shape(n.inputs.at(0));
    return axes.size() == 1 && n.get_int("keepdims", 1) == 1 &&
           (axes[0] == -1 || (shape && axes[0] == static_cast<int64_t>(shape->size()) - 1));
  }
  int count(const std::string& t) const {
    const auto it = counts_.find(t);
    return it == counts_.end() ? 0 : it->second;
  }
  const Node* reader(const std::string& t, const char* type) const {
    const auto it = readers_.find(t);
    if (it == readers_.end()) return nullptr;
    for (size_t i : it->second)
      if (is(g_.nodes[i], type)) return &g_.nodes[i];
    return nullptr;
  }
  const Node* only_reader(const std::string& t, const char* type) const {
    return count(t) == 1 ? reader(t, type) : nullptr;
  }
  std::string operand_name(const Node& n, const std::string& other) const {
    return n.inputs.at(n.inputs.at(0) == other ? 1 : 0);
  }
  const Tensor* constant_operand(const Node& n, const std::string& other) const {
    if (n.inputs.size() != 2 || (n.inputs[0] != other && n.inputs[1] != other)) return nullptr;
    return float_initializer(g_, operand_name(n, other));
  }
  size_t index(const Node& n) const { return static_cast<size_t>(&n - g_.nodes.data()); }

  const Graph& g_;
  std::map<std::string, int> counts_;
  std::map<std::string, std::vector<size_t>> readers_;
};
}  // namespace

int fuse_layer_norm(Graph& g) {
  const LayerNormMatcher matcher(g);
  std::vector<bool> erase(g.nodes.size(), false);
  std::map<size_t, Node> insert_at;  // the fused node takes the place of the pattern's last node
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    std::vector<size_t> nodes;
    Node fused;
    if (erase[i] || !matcher.match(i, nodes, fused)) continue;
    for (size_t k : nodes) erase[k] = true;
    insert_at[*std::max_element(nodes.begin(), nodes.end())] = fused;
  }
  return replace_patterns(g, erase, insert_at);
}

namespace {
// Tensor → the index of its reader, for the tensors exactly one node reads.
std::map<std::string, size_t> single_readers(const Graph& g) {
  const auto counts = consumer_counts(g);
  std::map<std::string, size_t> reader;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& in : g.nodes[i].inputs)
      if (counts.count(in) && counts.at(in) == 1) reader[in] = i;
  return reader;
}
}  // namespace

int fuse_gelu(Graph& g) {
  const std::map<std::string, size_t> reader = single_readers(g);
  auto next = [&](const std::string& t, const char* type) -> const Node* {
    const auto it = reader.find(t);
    if (it == reader.end() || g.nodes[it->second].op_type != type || !g.nodes[it->second].domain.empty())
      return nullptr;
    return &g.nodes[it->second];
  };
  auto scalar = [&](const Node& n, const std::string& other, double value) {
    if (n.inputs.size() != 2) return false;
    const Tensor* c = float_initializer(g, n.inputs[0] == other ? n.inputs[1] : n.inputs[0]);
    return c && c->numel() == 1 && std::fabs(c->floats[0] - value) <= 1e-6 * std::fabs(value);
  };
  std::vector<bool> erase(g.nodes.size(), false);
  std::map<size_t, Node> replace;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& div = g.nodes[i];
    if (div.op_type != "Div" || !div.domain.empty() || div.inputs.size() != 2) continue;
    const std::string x = div.inputs[0];
    const Tensor* root2 = float_initializer(g, div.inputs[1]);
    if (!root2 || root2->numel() != 1 || std::fabs(root2->floats[0] - 1.4142135623730951) > 1e-6) continue;
    const Node* erf = next(div.outputs[0], "Erf");
    const Node* add = erf ? next(erf->outputs[0], "Add") : nullptr;
    if (!add || !scalar(*add, erf->outputs[0], 1.0)) continue;
    const Node* mul_x = next(add->outputs[0], "Mul");
    if (!mul_x || mul_x->inputs.size() != 2 || (mul_x->inputs[0] != x && mul_x->inputs[1] != x)) continue;
    const Node* half = next(mul_x->outputs[0], "Mul");
    if (!half || !scalar(*half, mul_x->outputs[0], 0.5)) continue;
    const std::vector<const Node*> pattern = {&div, erf, add, mul_x, half};
    size_t last = 0;
    for (const Node* n : pattern) {
      const size_t k = static_cast<size_t>(n - g.nodes.data());
      erase[k] = true, last = std::max(last, k);
    }
    Node gelu;
    gelu.name = div.name + "/Gelu";
    gelu.op_type = "Gelu";
    gelu.inputs = {x};
    gelu.outputs = {half->outputs[0]};
    gelu.attributes["approximate"] = std::string("none");
    replace[last] = gelu;
  }
  return replace_patterns(g, erase, replace);
}

int fuse_gated_activations(Graph& g) {
  // x · gate(x): the gate's chain of ops from x, each read only by the next, and what replaces it.
  struct Gated {
    std::vector<std::string> chain;
    std::string op, domain, suffix;
    bool (*accepts)(const std::vector<const Node*>& chain);
  };
  static const std::vector<Gated> kGated = {
      {{"Sigmoid"}, kSiluOp, kChiprefDomain, "/Silu", [](const std::vector<const Node*>&) { return true; }},
      {{"Softplus", "Tanh"}, "Mish", "", "/Mish", [](const std::vector<const Node*>&) { return true; }},
      {{"HardSigmoid"},
       "HardSwish",
       "",
       "/HardSwish",
       [](const std::vector<const Node*>& c) {  // HardSwish's own slope and offset, as float32
         return c[0]->get_float("alpha", 0.2f) == 1.0f / 6.0f && c[0]->get_float("beta", 0.5f) == 0.5f;
       }},
  };
  const std::map<std::string, size_t> reader = single_readers(g);
  std::set<std::string> graph_outputs;
  for (const auto& o : g.outputs) graph_outputs.insert(o.name);
  std::vector<bool> erase(g.nodes.size(), false);
  std::map<size_t, Node> replace;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const Gated& gated : kGated) {
      const std::string x = g.nodes[i].inputs.empty() ? "" : g.nodes[i].inputs[0];
      std::vector<const Node*> chain;
      std::vector<size_t> indices;
      size_t k = i;
      bool ok = true;
      for (size_t step = 0; step < gated.chain.size() && ok; ++step) {
        const Node& n = g.nodes[k];
        ok = n.op_type == gated.chain[step] && n.domain.empty() && !erase[k] && n.outputs.size() == 1 &&
             !graph_outputs.count(n.outputs[0]) && (step == 0 || n.inputs.at(0) == chain.back()->outputs[0]);
        if (!ok) break;
        chain.push_back(&n), indices.push_back(k);
        const auto r = reader.find(n.outputs[0]);
        if (r == reader.end())
          ok = false;
        else
          k = r->second;
      }
      if (!ok || !gated.accepts(chain)) continue;
      const Node& mul = g.nodes[k];
      const std::string gate = chain.back()->outputs[0];
      if (mul.op_type != "Mul" || !mul.domain.empty() || mul.inputs.size() != 2 || erase[k]) continue;
      if (!((mul.inputs[0] == x && mul.inputs[1] == gate) || (mul.inputs[1] == x && mul.inputs[0] == gate))) continue;
      indices.push_back(k);
      for (size_t j : indices) erase[j] = true;
      Node fused;
      fused.name = g.nodes[i].name + gated.suffix;
      fused.op_type = gated.op;
      fused.domain = gated.domain;
      fused.inputs = {x};
      fused.outputs = {mul.outputs[0]};
      replace[*std::max_element(indices.begin(), indices.end())] = fused;
      break;
    }
  }
  return replace_patterns(g, erase, replace);
}

int divisions_to_reciprocals(Graph& g) {
  int rewritten = 0;
  std::vector<Node> nodes;
  for (Node& n : g.nodes) {
    const ValueInfo* divisor = g.find_value(n.inputs.size() == 2 ? n.inputs[1] : std::string());
    // Integer division (shape arithmetic that folding left) truncates: not a reciprocal's product.
    if (n.op_type != "Div" || !n.domain.empty() || n.inputs.size() != 2 || g.initializers.count(n.inputs[1]) ||
        (divisor && divisor->dtype != DType::float32)) {
      nodes.push_back(std::move(n));
      continue;
    }
    Node reciprocal;
    reciprocal.name = n.name + "/Reciprocal", reciprocal.op_type = "Reciprocal";
    reciprocal.inputs = {n.inputs[1]};
    reciprocal.outputs = {n.name + "/reciprocal"};
    if (divisor) {
      ValueInfo info = *divisor;
      info.name = reciprocal.outputs[0];
      g.value_info[info.name] = info;
    }
    Node times = n;
    times.op_type = "Mul";
    times.inputs[1] = reciprocal.outputs[0];
    nodes.push_back(std::move(reciprocal));
    nodes.push_back(std::move(times));
    ++rewritten;
  }
  g.nodes = std::move(nodes);
  return rewritten;
}

}  // namespace chipref

namespace chipref {

int conv_transposes_to_convs(Graph& g) {
  int rewritten = 0;
  std::vector<Node> out;
  for (const Node& n : g.nodes) {
    const Tensor* w = n.domain.empty() && n.op_type == "ConvTranspose" && n.inputs.size() > 1
                          ? float_initializer(g, n.inputs[1])
                          : nullptr;
    const Shape* xs = w ? g.known_shape(n.inputs[0]) : nullptr;
    std::string error;
    const ops::TransposedConvGeometry geo = xs && xs->size() == 4 && w->rank() == 4
                                                ? ops::conv_transpose_geometry(n, *xs, w->shape, &error)
                                                : ops::TransposedConvGeometry{};
    bool fits = !geo.axes.empty() && error.empty();
    std::vector<int64_t> pads(4), strides, dilations;
    for (size_t a = 0; fits && a < 2; ++a) {
      const ops::TransposedAxis& t = geo.axes[a];
      pads[a] = t.dilation * (t.kernel - 1) - t.pad_start;
      pads[a + 2] = t.dilation * (t.kernel - 1) - t.pad_end + t.output_padding;
      fits = pads[a] >= 0 && pads[a + 2] >= 0;
      strides.push_back(t.stride), dilations.push_back(t.dilation);
    }
    if (!fits) {  // the lowering refuses it, naming it
      out.push_back(n);
      continue;
    }
    // W [C, M/g, kh, kw] → W' [M, C/g, kh, kw], flipped in space.
    const int64_t c_in = w->shape[0], m_group = w->shape[1], kh = w->shape[2], kw = w->shape[3];
    const int64_t c_group = c_in / geo.group;
    Tensor flipped = Tensor::zeros(DType::float32, {m_group * geo.group, c_group, kh, kw});
    for (int64_t c = 0; c < c_in; ++c)
      for (int64_t m = 0; m < m_group; ++m)
        for (int64_t ky = 0; ky < kh; ++ky)
          for (int64_t kx = 0; kx < kw; ++kx) {
            const int64_t grp = c / c_group, o = grp * m_group + m, ci = c % c_group;
            flipped.floats[((o * c_group + ci) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)] =
                w->floats[((c * m_group + m) * kh + ky) * kw + kx];
          }
    const std::string weights = n.inputs[1] + "/as_conv";
    g.initializers[weights] = std::move(flipped);
    std::string x = n.inputs[0];
    if (strides != std::vector<int64_t>{1, 1}) {
      Node d;
      d.name = n.name + "/dilate", d.op_type = kDilateOp, d.domain = kChiprefDomain;
      d.inputs = {x}, d.outputs = {n.name + "/dilated"};
      d.attributes["strides"] = strides;
      x = d.outputs[0];
      out.push_back(std::move(d));
    }
    Node conv;
    conv.name = n.name, conv.op_type = "Conv", conv.inputs = {x, weights}, conv.outputs = n.outputs;
    if (n.has_input(2)) conv.inputs.push_back(n.inputs[2]);
    conv.attributes["pads"] = pads, conv.attributes["dilations"] = dilations;
    conv.attributes["group"] = geo.group;
    conv.attributes["kernel_shape"] = std::vector<int64_t>{kh, kw};
    out.push_back(std::move(conv));
    ++rewritten;
  }
  g.nodes = std::move(out);
  return rewritten;
}

}  // namespace chipref
