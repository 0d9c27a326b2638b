#include "quant/qoperator.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "model/onnx_import.hpp"

namespace chipref {

namespace {

class Rewriter {
 public:
  explicit Rewriter(Graph& g) : g_(g) {}

  int run() {
    register_quantized_codes();
    std::vector<Node> out;
    int rewritten = 0;
    for (const Node& n : g_.nodes) {
      if (n.domain.empty() && n.op_type == "QLinearConv") {
        conv(n, out);
        ++rewritten;
      } else if (n.domain.empty() && n.op_type == "QLinearMatMul") {
        matmul(n, out);
        ++rewritten;
      } else if (moves_codes(n)) {
        move_codes(n, out);
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

  // A float tensor the rewrite adds, with the shape of the codes it stands for (what shape inference gave them).
  void float_like(const std::string& name, const std::string& codes) {
    const ValueInfo* v = g_.find_value(codes);
    if (v == nullptr) return;
    ValueInfo info = *v;
    info.name = name, info.dtype = DType::float32;
    g_.value_info[name] = info;
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
    float_like(name, n.inputs[value]);
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
    float_like(y, n.outputs[0]);
    out.push_back(std::move(conv));
    quantized_output(n, y, 6, 7, out);
  }

  // QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)
  void matmul(const Node& n, std::vector<Node>& out) {
    const Tensor& b = constant(n, 3, "b (the weights)");
    const std::string a = dequantized(n, 0, 1, 2, 0, out), w = dequantized(n, 3, 4, 5, b.rank() - 1, out);
    Node mm = make("MatMul", n.name, {a, w}, n.outputs.at(0) + "/float");
    const std::string y = mm.outputs[0];
    float_like(y, n.outputs[0]);
    out.push_back(std::move(mm));
    quantized_output(n, y, 6, 7, out);
  }

  // The codes' quantization (scale and zero point tensor names) of every tensor of integer codes the graph
  // writes with a QuantizeLinear or QOperator node, and of integer graph inputs a DequantizeLinear or
  // QOperator node reads.
  void register_quantized_codes() {
    std::set<std::string> integer_inputs;
    for (const ValueInfo& v : g_.inputs)
      if (v.dtype != DType::float32) integer_inputs.insert(v.name);
    const auto input = [&](const Node& n, size_t i) { return n.has_input(i) ? n.inputs[i] : std::string(); };
    for (const Node& n : g_.nodes) {
      const bool standard = n.domain.empty() || n.domain == kMicrosoftDomain;
      if (standard && n.op_type == "QuantizeLinear")
        codes_[n.outputs.at(0)] = {input(n, 1), input(n, 2)};
      else if (standard && n.op_type == "DequantizeLinear" && integer_inputs.count(n.inputs.at(0)))
        codes_[n.inputs[0]] = {input(n, 1), input(n, 2)};
      if (n.domain.empty() && (n.op_type == "QLinearConv" || n.op_type == "QLinearMatMul")) {
        codes_[n.outputs.at(0)] = {input(n, 6), input(n, 7)};
        if (integer_inputs.count(n.inputs.at(0))) codes_[n.inputs[0]] = {input(n, 1), input(n, 2)};
      }
    }
  }

  // Ops that only select, reorder or copy elements: on codes of one quantization they give the same codes as
  // on the values those codes stand for, requantized with the same parameters (dequantization is strictly
  // increasing, so it commutes with a maximum too).
  bool moves_codes(const Node& n) const {
    static const std::set<std::string> movers{"Identity",  "Reshape", "Flatten",      "Transpose",    "Squeeze",
                                              "Unsqueeze", "MaxPool", "Slice",        "Split",        "Gather",
                                              "Expand",    "Tile",    "DepthToSpace", "SpaceToDepth", "Resize"};
    if (!n.domain.empty() || !movers.count(n.op_type) || n.inputs.empty() || !codes_.count(n.inputs[0])) return false;
    return n.op_type != "Resize" || n.get_string("mode", std::string("nearest")) == "nearest";
  }

  // The op on the dequantized codes, each output quantized back with the same parameters: the codes it
  // moved, now in the QDQ form the pre-quantized path reads.
  void move_codes(const Node& n, std::vector<Node>& out) {
    const Quantization q = codes_.at(n.inputs[0]);
    if (n.op_type == "MaxPool" && n.outputs.size() > 1 && !n.outputs[1].empty())
      fail(n, "its Indices output on integer codes is not supported");
    const std::string x = n.inputs[0] + "/" + n.name + "/dequantized";
    Node dq = make("DequantizeLinear", n.name + "/DequantizeLinear_0", {n.inputs[0], q.scale}, x);
    if (!q.zero_point.empty()) dq.inputs.push_back(q.zero_point);
    out.push_back(std::move(dq));
    float_like(x, n.inputs[0]);
    Node moved = n;
    moved.inputs[0] = x;
    std::vector<Node> requantized;
    for (size_t i = 0; i < moved.outputs.size() && (i == 0 || n.op_type == "Split"); ++i) {
      const std::string codes = n.outputs[i];
      moved.outputs[i] = codes + "/float";
      float_like(moved.outputs[i], codes);
      Node back =
          make("QuantizeLinear", n.name + "/QuantizeLinear_" + std::to_string(i), {moved.outputs[i], q.scale}, codes);
      if (!q.zero_point.empty()) back.inputs.push_back(q.zero_point);
      requantized.push_back(std::move(back));
      codes_[codes] = q;
    }
    out.push_back(std::move(moved));
    for (Node& back : requantized) out.push_back(std::move(back));
  }

  struct Quantization {
    std::string scale, zero_point;
  };

  Graph& g_;
  std::map<std::string, Quantization> codes_;
};

}  // namespace

int qoperator_to_qdq(Graph& graph) { return Rewriter(graph).run(); }

}  // namespace chipref
