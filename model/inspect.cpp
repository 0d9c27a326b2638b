#include "model/inspect.hpp"

namespace chipref {

namespace {
bool is_static(const Shape* s) {
  if (!s) return false;
  for (int64_t d : *s)
    if (d < 0) return false;
  return true;
}

std::string describe_shape(const Shape* s) {
  if (!s) return "?";
  std::string out = "[";
  for (size_t i = 0; i < s->size(); ++i)
    out += (i ? "," : "") + ((*s)[i] < 0 ? std::string("?") : std::to_string((*s)[i]));
  return out + "]";
}

// Reduction length per output element of the product ops; 0 for every other op.
int64_t reduction_length(const Graph& g, const Node& n) {
  const auto& op = n.op_type;
  if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv") {
    const Shape* w = g.known_shape(n.inputs.at(op == "QLinearConv" ? 3 : 1));
    if (!is_static(w) || w->size() < 2) return 0;
    int64_t k = 1;
    for (size_t d = 1; d < w->size(); ++d) k *= (*w)[d];  // C/group · kernel positions
    return k;
  }
  if (op == "Gemm") {
    const Shape* a = g.known_shape(n.inputs.at(0));
    if (!is_static(a) || a->size() != 2) return 0;
    return n.get_int("transA", 0) ? (*a)[0] : (*a)[1];
  }
  if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul") {
    const Shape* a = g.known_shape(n.inputs.at(0));
    return is_static(a) && !a->empty() ? a->back() : 0;
  }
  return 0;
}
}  // namespace

GraphSummary summarize(const Graph& graph) {
  GraphSummary summary;
  for (const Node& n : graph.nodes) {
    NodeSummary s{n.name, n.domain.empty() ? n.op_type : n.domain + "::" + n.op_type, {}, {}, 0, 0};
    for (const auto& in : n.inputs) {
      if (in.empty()) continue;
      s.input_shapes.push_back(describe_shape(graph.known_shape(in)));
      // Parameters are the float tensors a node learns (weights, biases, norm statistics), not scalar
      // bounds or integer shape arguments.
      if (auto it = graph.initializers.find(in);
          it != graph.initializers.end() && it->second.is_float() && it->second.rank() >= 1)
        s.params += it->second.numel();
    }
    for (const auto& out : n.outputs)
      if (!out.empty()) s.output_shapes.push_back(describe_shape(graph.known_shape(out)));
    const int64_t k = reduction_length(graph, n);
    const Shape* out = n.outputs.empty() ? nullptr : graph.known_shape(n.outputs[0]);
    if (k > 0 && is_static(out)) s.macs = element_count(*out) * k;
    summary.total_params += s.params;
    summary.total_macs += s.macs;
    summary.nodes.push_back(std::move(s));
  }
  return summary;
}

}  // namespace chipref
