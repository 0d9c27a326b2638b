#include "quant/channel_views.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace chipref {

bool is_plain_gemm(const Node& n) {
  return n.get_int("transA", 0) == 0 && n.get_float("alpha", 1.0f) == 1.0f && n.get_float("beta", 1.0f) == 1.0f;
}

bool output_channel_view(Graph& g, const Node& n, ChannelView& v) {
  const auto w = g.initializers.find(n.inputs.at(1));
  if (w == g.initializers.end() || !w->second.is_float()) return false;
  const Shape& s = w->second.shape;
  v.weights = &w->second;
  if (n.op_type == "Conv" && s.size() == 4) {
    v.channels = s[0], v.count = s[1] * s[2] * s[3], v.run = v.count, v.stride = 0, v.channel_step = v.count;
  } else if (n.op_type == "Gemm" && s.size() == 2 && is_plain_gemm(n)) {
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

bool input_channel_view(Graph& g, const Node& n, int64_t channels, ChannelView& v) {
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
  if ((n.op_type == "Gemm" && !is_plain_gemm(n)) || (n.op_type != "Gemm" && n.op_type != "MatMul")) return false;
  if (rows_are_inputs) {
    if (s[0] != channels) return false;
    v.count = s[1], v.run = s[1], v.channel_step = s[1];
  } else {
    if (s[1] != channels) return false;
    v.count = s[0], v.run = 1, v.stride = s[1], v.channel_step = 1;
  }
  return true;
}

namespace {
Tensor* float_constant(Graph& g, const std::string& name, int rank) {
  const auto t = g.initializers.find(name);
  return t != g.initializers.end() && t->second.is_float() && t->second.rank() == rank ? &t->second : nullptr;
}
}  // namespace

bool channel_last_producer_view(Graph& g, const Node& n, ChannelView& v, std::string& output) {
  if (!n.domain.empty() || n.outputs.empty()) return false;
  v = ChannelView{};
  output = n.outputs[0];
  if (n.op_type == "LayerNormalization") {
    Tensor* gamma = n.has_input(1) ? float_constant(g, n.inputs[1], 1) : nullptr;
    if (!gamma) return false;
    v.weights = gamma, v.channels = gamma->numel(), v.count = 1, v.run = 1, v.stride = 0, v.channel_step = 1;
    if (n.has_input(2)) {
      v.bias = float_constant(g, n.inputs[2], 1);
      if (!v.bias || v.bias->numel() != v.channels) return false;
    }
    return true;
  }
  if (n.op_type == "Gemm") return n.inputs.size() >= 2 && output_channel_view(g, n, v);
  if (n.op_type != "MatMul" || n.inputs.size() != 2) return false;
  Tensor* w = float_constant(g, n.inputs[1], 2);
  if (!w) return false;
  const int64_t k = w->shape[0], channels = w->shape[1];
  v.weights = w, v.channels = channels, v.count = k, v.run = 1, v.stride = channels, v.channel_step = 1;
  const Node* add = nullptr;
  int readers = 0;
  for (const Node& r : g.nodes)
    for (const std::string& in : r.inputs)
      if (in == output) ++readers, add = &r;
  if (readers != 1 || add->op_type != "Add" || !add->domain.empty() || add->inputs.size() != 2) return true;
  Tensor* bias = float_constant(g, add->inputs.at(add->inputs[0] == output ? 1 : 0), 1);
  if (bias && bias->numel() == channels) v.bias = bias, output = add->outputs.at(0);
  return true;
}

const char* rescaling_suffix(const std::string& pass) { return pass == "smoothquant" ? ".smoothed" : ".equalized"; }

void apply_rescaling(Graph& g, const ChannelRescaling& r) {
  const auto node = [&](const std::string& name) -> Node& {
    const auto n = std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& x) { return x.name == name; });
    if (n == g.nodes.end())
      throw InputError(g.source + ": the IntGraph's " + r.pass + " of '" + r.producer + "' names node '" + name +
                       "', which the model does not have");
    return *n;
  };
  const auto mismatch = [&](const std::string& name) {
    return InputError(g.source + ": the IntGraph's " + r.pass + " of '" + r.producer + "' does not fit node '" + name +
                      "' of the model (" + std::to_string(r.factors.size()) + " channels recorded)");
  };
  ChannelView producer;
  std::string output;
  const Node& p = node(r.producer);
  const bool viewed = r.pass == "smoothquant" ? channel_last_producer_view(g, p, producer, output)
                                              : output_channel_view(g, p, producer);
  if (!viewed || producer.channels != static_cast<int64_t>(r.factors.size())) throw mismatch(r.producer);
  std::vector<ChannelView> readers;
  for (const std::string& name : r.readers) {
    ChannelView v;
    if (!input_channel_view(g, node(name), producer.channels, v)) throw mismatch(name);
    readers.push_back(v);
  }
  for (int64_t j = 0; j < producer.channels; ++j) {
    const double s = r.factors[static_cast<size_t>(j)];
    producer.divide(j, s);
    for (const ChannelView& v : readers) v.multiply(j, s);
  }
  for (const std::string& name : r.unclipped) {
    Node& clip = node(name);
    if (clip.op_type != "Clip") throw mismatch(name);
    clip.op_type = "Relu";
    clip.inputs.resize(1);
    clip.attributes.clear();
  }
  std::map<std::string, std::string> renamed;
  for (const std::string& t : r.renamed) renamed[t] = t + rescaling_suffix(r.pass);
  rename_tensors(g, renamed);
}

void rename_tensors(Graph& g, const std::map<std::string, std::string>& renamed) {
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
}

}  // namespace chipref
