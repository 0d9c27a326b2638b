#include "quant/prequantized.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "model/executor.hpp"
#include "model/onnx_import.hpp"

namespace chipref {

namespace {

bool is_op(const Node& n, const char* type, const char* domain = "") { return n.op_type == type && n.domain == domain; }
// ONNX's QuantizeLinear / DequantizeLinear, or ONNX Runtime's com.microsoft ones (16-bit codes).
bool is_qdq(const Node& n, const char* type) { return is_op(n, type) || is_op(n, type, kMicrosoftDomain); }
bool is_qonnx_quant(const Node& n) { return is_op(n, "Quant", kQonnxDomain); }

class Extractor {
 public:
  explicit Extractor(Graph& g) : g_(g) {}

  PrequantizedModel run() {
    for (const auto& o : g_.outputs) graph_outputs_.insert(o.name);
    for (const Node& n : g_.nodes) {
      for (const auto& out : n.outputs) producer_[out] = &n;
      for (const auto& in : n.inputs) consumers_[in].push_back(&n);
    }
    for (const Node& n : g_.nodes) {
      if (removed_.count(&n)) continue;
      if (is_qdq(n, "DequantizeLinear"))
        take_dequantize(n);
      else if (is_qdq(n, "QuantizeLinear"))
        take_quantize(n);
      else if (is_qonnx_quant(n))
        take_qonnx_quant(n);
    }
    std::vector<Node> kept;
    for (const Node& n : g_.nodes)
      if (!removed_.count(&n)) kept.push_back(n);
    for (Node& n : kept) {
      for (auto& in : n.inputs) in = resolved(in);
      for (auto& out : n.outputs)
        if (const auto it = renamed_outputs_.find(out); it != renamed_outputs_.end()) out = it->second;
    }
    g_.nodes = std::move(kept);
    // Constants that only fed quantizers are no longer read.
    std::set<std::string> used(graph_outputs_.begin(), graph_outputs_.end());
    for (const Node& n : g_.nodes) used.insert(n.inputs.begin(), n.inputs.end());
    for (auto it = g_.initializers.begin(); it != g_.initializers.end();)
      it = used.count(it->first) ? std::next(it) : g_.initializers.erase(it);
    return std::move(model_);
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

  static IntFormat format_of(const Node& n, DType dtype, const Graph& g) {
    switch (dtype) {
      case DType::int8:
        return IntFormat::make(8, true);
      case DType::uint8:
        return IntFormat::make(8, false);
      case DType::int16:
        return IntFormat::make(16, true);
      case DType::uint16:
        return IntFormat::make(16, false);
      default:
        throw InputError(g.source + ": " + n.describe() + ": codes of type " + std::string(to_string(dtype)) +
                         " are not supported; expected int8, uint8, int16 or uint16");
    }
  }

  // The tensor a reader should read instead of `name` once quantizers are bypassed.
  std::string resolved(const std::string& name) const {
    const auto it = bypass_.find(name);
    return it == bypass_.end() ? name : resolved(it->second);
  }

  // Readers of `fake` (a quantizer's float output) read `real` (the tensor it quantized) instead. When
  // `fake` is a graph output it keeps its name: the producer of `real` is renamed to it.
  void bypass(const Node& quantizer, const std::string& fake, const std::string& real, const QuantParams& q) {
    if (graph_outputs_.count(fake)) {
      const auto producer = producer_.find(real);
      if (producer == producer_.end() || graph_outputs_.count(real))
        fail(quantizer, "a graph output that is a quantized graph input is not supported");
      renamed_outputs_[real] = fake;
      bypass_[real] = fake;
      record_activation(quantizer, fake, q);
    } else {
      bypass_[fake] = real;
      record_activation(quantizer, real, q);
    }
  }

  void record_activation(const Node& quantizer, const std::string& tensor, const QuantParams& q) {
    const auto [it, inserted] = model_.activations.emplace(tensor, q);
    if (!inserted &&
        (it->second.scale != q.scale || it->second.zero_point != q.zero_point || !(it->second.format == q.format)))
      fail(quantizer, "tensor '" + tensor + "' is already quantized by " + model_.activation_producers.at(tensor) +
                          " with other parameters");
    model_.activation_producers.emplace(tensor, quantizer.describe());
  }

  // A DequantizeLinear of a constant: keep its codes, replace it by its float values.
  void take_dequantize(const Node& dq) {
    const auto init = g_.initializers.find(dq.inputs.at(0));
    // Integer codes as the graph's input (a QOperator model's uint8 image): the input's quantization.
    const auto input =
        std::find_if(g_.inputs.begin(), g_.inputs.end(), [&](const ValueInfo& v) { return v.name == dq.inputs[0]; });
    if (input != g_.inputs.end() && input->dtype != DType::float32) {
      const Tensor& scale = constant(dq, 1, "x_scale");
      if (scale.numel() != 1) fail(dq, "per-axis dequantization of a graph input is not supported (one scale)");
      const int64_t zp = dq.has_input(2) ? constant(dq, 2, "x_zero_point").ints.at(0) : 0;
      const QuantParams params{format_of(dq, input->dtype, g_), zp, static_cast<double>(scale.floats.at(0))};
      bypass(dq, dq.outputs.at(0), input->name, params);
      removed_.insert(&dq);
      return;
    }
    if (init == g_.initializers.end() || init->second.is_float())
      fail(dq, "reads '" + dq.inputs[0] + "', which is neither an integer constant nor the output of a QuantizeLinear");
    const Tensor& codes = init->second;
    const Tensor& scale = constant(dq, 1, "x_scale");
    QuantizedConstant c;
    c.codes = codes;
    c.format = codes.dtype == DType::int32 ? IntFormat::int_bits(32) : format_of(dq, codes.dtype, g_);  // a bias
    c.scales.assign(scale.floats.begin(), scale.floats.end());
    c.zero_points = dq.has_input(2) ? constant(dq, 2, "x_zero_point").ints : std::vector<int64_t>(c.scales.size(), 0);
    c.axis = scale.numel() > 1 ? dq.get_int("axis", 1) : 0;
    if (c.axis < 0) c.axis += codes.rank();
    c.producer = dq.describe();
    std::vector<const Tensor*> inputs;
    for (const auto& in : dq.inputs) inputs.push_back(in.empty() ? nullptr : &g_.initializers.at(in));
    g_.initializers[dq.outputs.at(0)] = run_node(dq, g_.opset, inputs).at(0);  // the float graph still runs
    model_.constants[dq.outputs[0]] = std::move(c);
    removed_.insert(&dq);
  }

  // QuantizeLinear → DequantizeLinear on an activation: the pair disappears, its parameters stay.
  void take_quantize(const Node& q) {
    const Tensor& scale = constant(q, 1, "y_scale");
    if (scale.numel() != 1) fail(q, "per-axis quantization of an activation is not supported (one scale per tensor)");
    const Tensor zp = q.has_input(2) ? constant(q, 2, "y_zero_point") : Tensor::of_ints(DType::uint8, {}, {0});
    const QuantParams params{format_of(q, zp.dtype, g_), zp.ints.at(0), static_cast<double>(scale.floats.at(0))};
    if (!(params.scale > 0) || !std::isfinite(params.scale))
      fail(q, "scale " + std::to_string(params.scale) + " is not a positive finite number");
    const auto readers = consumers_.find(q.outputs.at(0));
    if (readers == consumers_.end() || graph_outputs_.count(q.outputs[0]))
      fail(q, "its integer output must be read by DequantizeLinear nodes (it is " +
                  std::string(graph_outputs_.count(q.outputs[0])
                                  ? "a graph output: the integer network's boundary is chipref's own)"
                                  : "read by nothing)"));
    for (const Node* dq : readers->second) {
      if (!is_qdq(*dq, "DequantizeLinear"))
        fail(q, "its output is read by " + dq->describe() + "; expected DequantizeLinear nodes only");
      const Tensor& dq_scale = constant(*dq, 1, "x_scale");
      const int64_t dq_zp = dq->has_input(2) ? constant(*dq, 2, "x_zero_point").ints.at(0) : 0;
      if (dq_scale.numel() != 1 || dq_scale.floats[0] != scale.floats[0] || dq_zp != params.zero_point)
        fail(*dq, "dequantizes with other parameters than " + q.describe() + " quantized with");
      bypass(*dq, dq->outputs.at(0), q.inputs.at(0), params);
      removed_.insert(dq);
    }
    removed_.insert(&q);
  }

  // QONNX Quant: on a constant it gives codes; on an activation, parameters.
  void take_qonnx_quant(const Node& n) {
    const Tensor& scale = constant(n, 1, "scale");
    const Tensor& zeropt = constant(n, 2, "zeropt");
    const Tensor& bitwidth = constant(n, 3, "bitwidth");
    const double bits = bitwidth.floats.at(0);
    const bool is_signed = n.get_int("signed", 1) != 0, narrow = n.get_int("narrow", 0) != 0;
    if (bits < 2 || bits > 16 || bits != std::floor(bits))
      fail(n, "bit width " + std::to_string(bits) + " is not an integer in 2..16");
    for (float z : zeropt.floats)
      if (z != std::floor(z)) fail(n, "zero point " + std::to_string(z) + " is not an integer");
    const auto init = g_.initializers.find(n.inputs.at(0));
    if (init != g_.initializers.end()) {
      // Codes from the fake-quantized values: y = (q − z)·s exactly in float32 for |q − z| < 2^23, so q = round(y / s)
      // + z.
      std::vector<const Tensor*> inputs;
      for (const auto& in : n.inputs) inputs.push_back(&g_.initializers.at(in));
      const Tensor y = run_node(n, g_.opset, inputs).at(0);
      QuantizedConstant c;
      const int64_t per_channel = y.rank() > 0 ? y.shape[0] : 1;
      if (scale.numel() != 1 && scale.numel() != per_channel)
        fail(n, "scale must be per tensor or one per output channel (axis 0)");
      if (zeropt.numel() != 1 && zeropt.numel() != scale.numel())
        fail(n, "zero point and scale have different lengths");
      c.scales.assign(scale.floats.begin(), scale.floats.end());
      for (float z : zeropt.floats) c.zero_points.push_back(static_cast<int64_t>(z));
      if (c.zero_points.size() < c.scales.size()) c.zero_points.resize(c.scales.size(), c.zero_points.at(0));
      c.axis = 0;
      c.format = IntFormat::make(static_cast<int>(bits), is_signed);
      c.codes = Tensor::zeros(bits <= 8 ? DType::int8 : DType::int16, y.shape);
      if (!is_signed) c.codes.dtype = bits <= 8 ? DType::uint8 : DType::uint16;
      const int64_t inner = y.numel() / std::max<int64_t>(per_channel, 1);
      for (int64_t e = 0; e < y.numel(); ++e) {
        const size_t k = c.scales.size() == 1 ? 0 : static_cast<size_t>(e / inner);
        c.codes.ints[e] = static_cast<int64_t>(std::nearbyint(y.floats[e] / c.scales[k])) + c.zero_points[k];
      }
      c.producer = n.describe();
      g_.initializers[n.outputs.at(0)] = y;
      model_.constants[n.outputs[0]] = std::move(c);
      removed_.insert(&n);
      return;
    }
    if (scale.numel() != 1 || zeropt.numel() != 1)
      fail(n, "per-channel quantization of an activation is not supported (one scale per tensor)");
    if (narrow) fail(n, "narrow-range activations are not supported (their codes exclude the format's minimum)");
    const std::string mode = n.get_string("rounding_mode", std::string("ROUND"));
    if (mode != "ROUND" && mode != "HALF_EVEN")
      fail(n, "rounding_mode '" + mode +
                  "' on an activation is not supported; the integer network rounds half to even (ROUND)");
    const QuantParams params{IntFormat::make(static_cast<int>(bits), is_signed), static_cast<int64_t>(zeropt.floats[0]),
                             static_cast<double>(scale.floats[0])};
    if (!params.format.contains(params.zero_point))
      fail(n, "zero point " + std::to_string(params.zero_point) + " is outside " + params.format.name());
    bypass(n, n.outputs.at(0), n.inputs.at(0), params);
    removed_.insert(&n);
  }

  Graph& g_;
  PrequantizedModel model_;
  std::set<std::string> graph_outputs_;
  std::map<std::string, const Node*> producer_;
  std::map<std::string, std::vector<const Node*>> consumers_;
  std::set<const Node*> removed_;
  std::map<std::string, std::string> bypass_;           // fake-quantized name → the real tensor readers use
  std::map<std::string, std::string> renamed_outputs_;  // producer output → graph output name it takes
};

}  // namespace

bool is_quantizer_node(const Node& n) {
  return is_qdq(n, "QuantizeLinear") || is_qdq(n, "DequantizeLinear") || is_qonnx_quant(n);
}

bool is_prequantized(const Graph& graph) {
  return std::any_of(graph.nodes.begin(), graph.nodes.end(), [](const Node& n) { return is_quantizer_node(n); });
}

PrequantizedModel extract_prequantized(Graph& graph) { return Extractor(graph).run(); }

}  // namespace chipref
