#include "model/executor.hpp"

#include "model/ops/ops.hpp"

namespace chipref {

namespace {
std::string op_key(const std::string& domain, const std::string& op_type) {
  return domain.empty() ? op_type : domain + "::" + op_type;
}

const ops::OpTable& op_table() {
  static const ops::OpTable table = [] {
    ops::OpTable t;
    ops::register_elementwise(t);
    ops::register_linear(t);
    ops::register_pool_norm(t);
    ops::register_shape(t);
    ops::register_quantize(t);
    return t;
  }();
  return table;
}
}  // namespace

const Tensor& OpContext::input(size_t i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is required but missing");
  return *inputs[i];
}

void OpContext::fail(const std::string& what) const { throw InputError(node.describe() + ": " + what); }
void OpContext::unsupported(const std::string& what) const { throw Unsupported(node.describe() + ": " + what); }

bool is_supported_op(const std::string& domain, const std::string& op_type) {
  return op_table().count(op_key(domain, op_type)) != 0;
}

std::vector<std::string> supported_ops() {
  std::vector<std::string> names;
  for (const auto& entry : op_table()) names.push_back(entry.first);
  return names;
}

std::vector<Tensor> run_node(const Node& node, int64_t opset, const std::vector<const Tensor*>& inputs) {
  const auto it = op_table().find(op_key(node.domain, node.op_type));
  if (it == op_table().end()) throw Unsupported(node.describe() + ": operator is not supported by the executor");
  OpContext ctx{node, opset, inputs, std::vector<Tensor>(node.outputs.size())};
  it->second(ctx);
  return std::move(ctx.outputs);
}

FloatExecutor::FloatExecutor(const Graph& graph) : graph_(graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    const auto it = op_table().find(op_key(node.domain, node.op_type));
    if (it == op_table().end())
      throw InputError(graph.source + ": " + node.describe() + ": operator is not supported by the executor");
    kernels_.push_back(it->second);
    for (const auto& in : node.inputs) last_use_[in] = i;
  }
  for (const auto& out : graph.outputs) last_use_[out.name] = graph.nodes.size();
}

int64_t FloatExecutor::fixed_batch_runs(const TensorMap& inputs) const {
  if (graph_.inputs.size() != 1 || graph_.inputs[0].shape.empty() || graph_.inputs[0].shape[0] <= 0) return 1;
  const ValueInfo& in = graph_.inputs[0];
  const auto it = inputs.find(in.name);
  if (it == inputs.end() || it->second.rank() != static_cast<int64_t>(in.shape.size())) return 1;
  const int64_t n = it->second.shape[0], batch = in.shape[0];
  if (n == batch || n == 0) return 1;
  if (n % batch)
    throw InputError(graph_.source + ": graph input '" + in.name + "' has a fixed batch of " + std::to_string(batch) +
                     " (as exported); " + std::to_string(n) + " inputs are not a multiple of it");
  return n / batch;
}

TensorMap FloatExecutor::run(const TensorMap& inputs, bool keep_intermediates, const OutputHook& hook) const {
  const int64_t runs = fixed_batch_runs(inputs);
  if (runs == 1) return run_batch(inputs, keep_intermediates, hook);
  const ValueInfo& in = graph_.inputs[0];
  const Tensor& all = inputs.at(in.name);
  const int64_t batch = in.shape[0];
  TensorMap stacked;
  for (int64_t r = 0; r < runs; ++r) {
    TensorMap one = inputs;
    one[in.name] = rows_of(all, r * batch, batch);
    for (auto& [name, t] : run_batch(one, keep_intermediates, hook)) {
      if (t.rank() == 0) {  // a scalar of the graph's shape arithmetic: the same in every run
        stacked.emplace(name, std::move(t));
        continue;
      }
      append_rows(stacked[name], t);
    }
  }
  return stacked;
}

TensorMap FloatExecutor::run_batch(const TensorMap& inputs, bool keep_intermediates, const OutputHook& hook) const {
  TensorMap computed;
  auto lookup = [&](const std::string& name) -> const Tensor* {
    if (auto it = computed.find(name); it != computed.end()) return &it->second;
    if (auto it = inputs.find(name); it != inputs.end()) return &it->second;
    if (auto it = graph_.initializers.find(name); it != graph_.initializers.end()) return &it->second;
    return nullptr;
  };
  for (const auto& in : graph_.inputs) {
    const auto it = inputs.find(in.name);
    if (it == inputs.end()) throw InputError(graph_.source + ": no data given for graph input '" + in.name + "'");
    const Tensor& t = it->second;
    bool shape_ok = t.shape.size() == in.shape.size() || in.shape.empty();
    for (size_t d = 0; shape_ok && d < in.shape.size(); ++d) shape_ok = in.shape[d] < 0 || in.shape[d] == t.shape[d];
    if (!shape_ok || t.dtype != in.dtype)
      throw InputError(graph_.source + ": graph input '" + in.name + "' is " + std::string(to_string(t.dtype)) +
                       shape_to_string(t.shape) + "; expected " + std::string(to_string(in.dtype)) +
                       shape_to_string(in.shape));
  }
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& node = graph_.nodes[i];
    OpContext ctx{node, graph_.opset, {}, std::vector<Tensor>(node.outputs.size())};
    for (const auto& name : node.inputs) ctx.inputs.push_back(name.empty() ? nullptr : lookup(name));
    try {
      kernels_[i](ctx);
    } catch (const Unsupported& e) {
      throw Unsupported(graph_.source + ": " + e.what());
    } catch (const InputError& e) {
      throw InputError(graph_.source + ": " + e.what());
    }
    for (size_t o = 0; o < node.outputs.size(); ++o)
      if (!node.outputs[o].empty()) {
        if (hook) hook(node.outputs[o], ctx.outputs[o]);
        computed[node.outputs[o]] = std::move(ctx.outputs[o]);
      }
    if (!keep_intermediates)  // free what no later node reads
      for (const auto& name : node.inputs)
        if (auto it = last_use_.find(name); it != last_use_.end() && it->second == i) computed.erase(name);
  }
  if (keep_intermediates) return computed;
  TensorMap outputs;
  for (const auto& out : graph_.outputs) {
    const Tensor* t = lookup(out.name);
    if (!t) throw InputError(graph_.source + ": graph output '" + out.name + "' was not computed");
    outputs[out.name] = *t;
  }
  return outputs;
}

}  // namespace chipref
