#include "quant/qoperator.hpp"

#include <algorithm>

namespace chipref {

namespace {

class Rewriter {
 public:
  explicit Rewriter(Graph& g) : g_(g) {}

  int run() {
    std::vector<Node> out;
    int rewritten = 0;
    for (const Node& n : g_.nodes) {
      if (n.domain.empty() && n.op_type == "QLinearConv") {
        conv(n, out);
        ++rewritten;
      } else if (n.domain.empty() && n.op_type == "QLinearMatMul") {
        matmul(n, out);
        ++rewritten;
      } else {
        out.push_back(n);
      }
    }
    g_.nodes = std::move(out);
    return rewritten;
  }

 private:
  [[noreturn]] void fail(const Node& n, const std::string& why) const {
    throw InputError(g_.source + ": " + n.describe() + ": " + why);
  }

  const Tensor& constant(const Node& n, size_t i, const char* what) const {
    const auto it = n.has_input(i) ? g_.initializers.find(n.inputs[i]) : g_.initializers.end();
    if (it == g_.initializers.end()) fail(n, std::string(what) + " must be a constant");
    return it->second;
  }

  static Node make(const std::string& type, const std::string& name, std::vector<std::string> ins, std::string out) {
    Node n;
    n.op_type = type, n.name = name, n.inputs = std::move(ins), n.outputs = {std::move(out)};
    return n;
  }

  // DequantizeLinear of input (value, scale, zero point) of n; per axis `axis` when the scale is a vector.
  std::string dequantized(const Node& n, size_t value, size_t scale, size_t zero_point, int64_t axis,
                          std::vector<Node>& out) {
    const std::string name = n.inputs.at(value) + "/" + n.name + "/dequantized";
    Node dq = make("DequantizeLinear", n.name + "/DequantizeLinear_" + std::to_string(value),
                   {n.inputs.at(value), n.inputs.at(scale)}, name);
    if (n.has_input(zero_point)) dq.inputs.push_back(n.inputs[zero_point]);
    if (constant(n, scale, "a scale").numel() > 1) dq.attributes["axis"] = axis;
    out.push_back(std::move(dq));
    return name;
  }

  void quantized_output(const Node& n, const std::string& value, size_t scale, size_t zero_point,
                        std::vector<Node>& out) {
    if (constant(n, scale, "y_scale").numel() != 1) fail(n, "y_scale must be one value (per-tensor output)");
    Node q = make("QuantizeLinear", n.name + "/QuantizeLinear", {value, n.inputs.at(scale)}, n.outputs.at(0));
    if (n.has_input(zero_point)) q.inputs.push_back(n.inputs[zero_point]);
    out.push_back(std::move(q));
  }

  // QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B])
  void conv(const Node& n, std::vector<Node>& out) {
    const std::string x = dequantized(n, 0, 1, 2, 1, out), w = dequantized(n, 3, 4, 5, 0, out);
    Node conv = make("Conv", n.name, {x, w}, n.outputs.at(0) + "/float");
    conv.attributes = n.attributes;
    if (n.has_input(8)) {
      // The bias's scale: x_scale·w_scale per output channel in float32, zero point 0 (the QLinearConv spec).
      const Tensor& xs = constant(n, 1, "x_scale");
      const Tensor& ws = constant(n, 4, "w_scale");
      Tensor bs = Tensor::zeros(DType::float32, {ws.numel()});
      for (int64_t c = 0; c < ws.numel(); ++c) bs.floats[c] = xs.floats.at(0) * ws.floats[c];
      const std::string scale = n.inputs[8] + "/" + n.name + "/scale";
      g_.initializers[scale] = bs.numel() == 1 ? Tensor::of_floats({}, bs.floats) : bs;
      Node dq = make("DequantizeLinear", n.name + "/DequantizeLinear_8", {n.inputs[8], scale},
                     n.inputs[8] + "/" + n.name + "/dequantized");
      if (bs.numel() > 1) dq.attributes["axis"] = int64_t{0};
      conv.inputs.push_back(dq.outputs[0]);
      out.push_back(std::move(dq));
    }
    const std::string y = conv.outputs[0];
    out.push_back(std::move(conv));
    quantized_output(n, y, 6, 7, out);
  }

  // QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)
  void matmul(const Node& n, std::vector<Node>& out) {
    const Tensor& b = constant(n, 3, "b (the weights)");
    const std::string a = dequantized(n, 0, 1, 2, 0, out), w = dequantized(n, 3, 4, 5, b.rank() - 1, out);
    Node mm = make("MatMul", n.name, {a, w}, n.outputs.at(0) + "/float");
    const std::string y = mm.outputs[0];
    out.push_back(std::move(mm));
    quantized_output(n, y, 6, 7, out);
  }

  Graph& g_;
};

}  // namespace

int qoperator_to_qdq(Graph& graph) { return Rewriter(graph).run(); }

}  // namespace chipref
