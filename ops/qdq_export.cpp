#include "ops/qdq_export.hpp"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "core/version.hpp"
#include "kernels/layernorm.hpp"
#include "model/onnx_import.hpp"
#include "numerics/requant.hpp"
#include "ops/mac.hpp"
#include "ops/op_def.hpp"

namespace chipref {

namespace {

// Names in the exported model. An activation value V of the IntGraph is computed by a float op into V,
// quantized into V_q and dequantized into V_dq, which its readers read. The graph output is the
// dequantized last value, under the IntGraph's output name without its ":float" suffix; the float op
// that computes it writes V_float instead (an importer renames it back to V).
std::string strip_float_suffix(const std::string& name) {
  const std::string suffix = ":float";
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0
             ? name.substr(0, name.size() - suffix.size())
             : name;
}

class Exporter {
 public:
  explicit Exporter(const IntGraph& g) : g_(g) {
    const Node& dq = g.ops.back();
    if (dq.has("scales"))
      throw InputError(dq.describe() +
                       ": the network ends in accumulators dequantized per channel (a float tail), "
                       "which has no QDQ form here");
    output_value_ = dq.inputs.at(0);
    output_name_ = strip_float_suffix(g.output_name);
    input_name_ = g.ops.front().outputs.at(0);
  }

  std::string run() {
    onnx::ModelProto model;
    model.set_ir_version(7);
    model.set_producer_name("chipref");
    model.set_producer_version(kVersion);
    model.add_opset_import()->set_version(13);
    model_ = &model;
    graph_ = model.mutable_graph();
    graph_->set_name("chipref_qdq");
    add_io(graph_->add_input(), input_name_, g_.input_shape);
    add_io(graph_->add_output(), output_name_, g_.output_shape);
    quantize_pair(input_name_, input_name_);
    for (size_t i = 1; i + 1 < g_.ops.size(); ++i) export_op(i);
    std::string bytes;
    model.SerializeToString(&bytes);
    return bytes;
  }

 private:
  [[noreturn]] void fail(const Node& op, const std::string& why) const {
    throw InputError("QDQ export: " + op.describe() + ": " + why);
  }

  // Where readers find value V (its dequantized form), and where its float producer writes.
  static std::string read_name(const std::string& v) { return v + "_dq"; }
  std::string write_name(const std::string& v) const { return v == output_value_ ? v + "_float" : v; }

  const QuantParams& quant(const std::string& v) const { return g_.values.at(v).quant; }

  static void add_io(onnx::ValueInfoProto* io, const std::string& name, const Shape& shape) {
    io->set_name(name);
    auto* t = io->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) {
      auto* dim = t->mutable_shape()->add_dim();
      if (d < 0)
        dim->set_dim_param("batch");
      else
        dim->set_dim_value(d);
    }
  }

  template <class T>
  void add_initializer(const std::string& name, int type, const Shape& dims, const std::vector<T>& values) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)));
  }

  onnx::NodeProto* add_node(const std::string& type, const std::string& name, std::vector<std::string> ins,
                            std::vector<std::string> outs) {
    onnx::NodeProto* n = graph_->add_node();
    n->set_op_type(type);
    n->set_name(name);
    for (const auto& i : ins) n->add_input(i);
    for (const auto& o : outs) n->add_output(o);
    return n;
  }
  static void set_ints(onnx::NodeProto* n, const std::string& key, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void set_int(onnx::NodeProto* n, const std::string& key, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void set_string(onnx::NodeProto* n, const std::string& key, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }

  // QuantizeLinear → DequantizeLinear for activation value V (its float form is `float_name`).
  // 8-bit codes: ONNX's QuantizeLinear / DequantizeLinear. 16-bit codes (a wider value, say int16
  // logits): ONNX Runtime's com.microsoft ones, as ORT's own quantizer writes them before opset 21. A
  // value of another width has no QDQ form: it is refused, naming it.
  void quantize_pair(const std::string& v, const std::string& float_name) {
    const QuantParams& q = quant(v);
    const int bits = q.format.bits();
    if (bits != 8 && bits != 16)
      throw InputError("QDQ export: value '" + v + "' is " + q.format.name() +
                       "; QDQ carries 8-bit codes (ONNX QuantizeLinear, opset 13) and 16-bit codes (com.microsoft "
                       "QuantizeLinear) only");
    const bool wide = bits == 16;
    if (wide && !microsoft_domain_) {
      auto* opset = model_->add_opset_import();
      opset->set_domain(kMicrosoftDomain);
      opset->set_version(1);
      microsoft_domain_ = true;
    }
    const int type = q.format.is_signed() ? (wide ? onnx::TensorProto::INT16 : onnx::TensorProto::INT8)
                                          : (wide ? onnx::TensorProto::UINT16 : onnx::TensorProto::UINT8);
    add_initializer(v + "_scale", onnx::TensorProto::FLOAT, {}, std::vector<float>{static_cast<float>(q.scale)});
    if (wide && q.format.is_signed())
      add_initializer(v + "_zero_point", type, {}, std::vector<int16_t>{static_cast<int16_t>(q.zero_point)});
    else if (wide)
      add_initializer(v + "_zero_point", type, {}, std::vector<uint16_t>{static_cast<uint16_t>(q.zero_point)});
    else if (q.format.is_signed())
      add_initializer(v + "_zero_point", type, {}, std::vector<int8_t>{static_cast<int8_t>(q.zero_point)});
    else
      add_initializer(v + "_zero_point", type, {}, std::vector<uint8_t>{static_cast<uint8_t>(q.zero_point)});
    onnx::NodeProto* quantize =
        add_node("QuantizeLinear", v + "_QuantizeLinear", {float_name, v + "_scale", v + "_zero_point"}, {v + "_q"});
    onnx::NodeProto* dequantize =
        add_node("DequantizeLinear", v + "_DequantizeLinear", {v + "_q", v + "_scale", v + "_zero_point"},
                 {v == output_value_ ? output_name_ : read_name(v)});
    if (wide) quantize->set_domain(kMicrosoftDomain), dequantize->set_domain(kMicrosoftDomain);
  }

  // The fused activation a clamp stands for, between the float op (writing `pre`) and the quantizer.
  void clamp_activation(const Node& rq, const std::string& name, const std::string& pre, const std::string& v) {
    const QuantParams& q = quant(v);
    const int64_t lo = rq.get_int("clamp_lo"), hi = rq.get_int("clamp_hi");
    if (lo == q.format.min() && hi == q.format.max()) return;
    if (lo == q.zero_point && hi == q.format.max()) {
      add_node("Relu", name + "_Relu", {pre}, {write_name(v)});
      return;
    }
    add_initializer(name + "_clip_min", onnx::TensorProto::FLOAT, {},
                    std::vector<float>{static_cast<float>(static_cast<double>(lo - q.zero_point) * q.scale)});
    add_initializer(name + "_clip_max", onnx::TensorProto::FLOAT, {},
                    std::vector<float>{static_cast<float>(static_cast<double>(hi - q.zero_point) * q.scale)});
    add_node("Clip", name + "_Clip", {pre, name + "_clip_min", name + "_clip_max"}, {write_name(v)});
  }
  bool clamps(const Node& rq, const std::string& v) const {
    const QuantParams& q = quant(v);
    return rq.get_int("clamp_lo") != q.format.min() || rq.get_int("clamp_hi") != q.format.max();
  }

  // The requantization of accumulators `v` (the mulshift after a MAC or window sum).
  const Node& requantization_of(const std::string& v) const {
    for (const Node& op : g_.ops)
      if (ops::op_def(op).requantizes_accumulators && !op.inputs.empty() && op.inputs[0] == v) return op;
    throw InputError("QDQ export: no mulshift reads '" + v + "'");
  }

  // "<source>.requant" → "<source>": mulshift ops are named after the float node they lower.
  static std::string source_of(const Node& rq) {
    const std::string suffix = ".requant";
    return rq.name.size() > suffix.size() && rq.name.compare(rq.name.size() - suffix.size(), suffix.size(), suffix) == 0
               ? rq.name.substr(0, rq.name.size() - suffix.size())
               : rq.name;
  }

  void export_mac(const Node& mac) {
    const bool conv = &ops::op_def(mac) == &ops::conv_mac_op_def();
    const Node& rq = requantization_of(mac.outputs.at(0));
    const std::string src = mac.get_string("source"), v = rq.outputs.at(0), x = mac.inputs.at(0);
    const Tensor& w = g_.constants.at(mac.inputs.at(1));
    const auto record = g_.weights.find(mac.inputs[1]);
    if (record == g_.weights.end() || record->second.scales.empty())
      fail(mac, "the IntGraph has no weight scales for '" + mac.inputs[1] + "' (quantize it again)");
    const WeightQuant& wq_record = record->second;
    const std::vector<double>& s_w = wq_record.scales;
    const bool is_unsigned = !wq_record.format.is_signed();
    const IntFormat onnx_type = IntFormat::make(8, !is_unsigned);
    for (int64_t code : w.ints)
      if (!onnx_type.contains(code))
        fail(mac, "its weights are wider than 8 bits; opset 13 DequantizeLinear carries 8-bit weights only");
    // A product of an input of rank > 2 is a MatMul (weights [in, out], per-channel along axis 1); else Gemm / Conv.
    const bool matmul = !conv && g_.values.at(x).shape.size() > 2;
    std::vector<int64_t> codes = w.ints;
    Shape w_shape = w.shape;
    if (matmul) {
      const int64_t out = w.shape.at(0), in = w.shape.at(1);
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) codes[i * out + o] = w.ints[o * in + i];
      w_shape = {in, out};
    }
    std::vector<float> scales(s_w.begin(), s_w.end());
    std::vector<int64_t> zero_points(scales.size());
    for (size_t c = 0; c < scales.size(); ++c) zero_points[c] = wq_record.zero_point(static_cast<int64_t>(c));
    const std::string wq = src + "_weight";
    const int type = is_unsigned ? onnx::TensorProto::UINT8 : onnx::TensorProto::INT8;
    const Shape zp_shape = {static_cast<int64_t>(scales.size())};
    const auto add_codes = [&](const std::string& name, const Shape& shape, const std::vector<int64_t>& v) {
      if (is_unsigned)
        add_initializer(name, type, shape, std::vector<uint8_t>(v.begin(), v.end()));
      else
        add_initializer(name, type, shape, std::vector<int8_t>(v.begin(), v.end()));
    };
    add_codes(wq + "_q", w_shape, codes);
    add_initializer(wq + "_scale", onnx::TensorProto::FLOAT, zp_shape, scales);
    add_codes(wq + "_zero_point", zp_shape, zero_points);
    set_int(
        add_node("DequantizeLinear", wq + "_DequantizeLinear", {wq + "_q", wq + "_scale", wq + "_zero_point"}, {wq}),
        "axis", matmul ? 1 : 0);
    std::vector<std::string> inputs = {read_name(x), wq};
    if (mac.inputs.size() > 2) {
      // ONNX Runtime's rule: the bias scale is the float32 product x_scale · w_scale.
      const Tensor& b = g_.constants.at(mac.inputs[2]);
      const std::string bq = src + "_bias";
      std::vector<float> b_scales(scales.size());
      for (size_t c = 0; c < scales.size(); ++c) b_scales[c] = static_cast<float>(quant(x).scale) * scales[c];
      add_initializer(bq + "_q", onnx::TensorProto::INT32, b.shape, std::vector<int32_t>(b.ints.begin(), b.ints.end()));
      add_initializer(bq + "_scale", onnx::TensorProto::FLOAT, {static_cast<int64_t>(b_scales.size())}, b_scales);
      add_initializer(bq + "_zero_point", onnx::TensorProto::INT32, {static_cast<int64_t>(b_scales.size())},
                      std::vector<int32_t>(b_scales.size(), 0));
      set_int(
          add_node("DequantizeLinear", bq + "_DequantizeLinear", {bq + "_q", bq + "_scale", bq + "_zero_point"}, {bq}),
          "axis", 0);
      inputs.push_back(bq);
    }
    const std::string pre = clamps(rq, v) ? src + "_output" : write_name(v);
    if (matmul) {
      const std::string product = inputs.size() > 2 ? src + "_product" : pre;
      add_node("MatMul", src, {inputs[0], inputs[1]}, {product});
      if (inputs.size() > 2)
        add_node("Add", mac.get_string("bias_source", src + "_bias_add"), {product, inputs[2]}, {pre});
      clamp_activation(rq, src, pre, v);
      quantize_pair(v, write_name(v));
      return;
    }
    onnx::NodeProto* n = add_node(conv ? "Conv" : "Gemm", src, inputs, {pre});
    if (conv) {
      set_ints(n, "strides", mac.get_ints("strides"));
      set_ints(n, "pads", mac.get_ints("pads"));
      set_ints(n, "dilations", mac.get_ints("dilations"));
      set_int(n, "group", mac.get_int("group"));
      set_ints(n, "kernel_shape", {w.shape.at(2), w.shape.at(3)});
    } else {
      set_int(n, "transB", 1);
    }
    clamp_activation(rq, src, pre, v);
    quantize_pair(v, write_name(v));
  }

  void export_pool(const Node& sum) {
    const Node& rq = requantization_of(sum.outputs.at(0));
    const std::string src = source_of(rq), v = rq.outputs.at(0);
    const std::string pre = clamps(rq, v) ? src + "_output" : write_name(v);
    if (sum.get_int("global", 0) != 0) {
      add_node("GlobalAveragePool", src, {read_name(sum.inputs.at(0))}, {pre});
    } else {
      onnx::NodeProto* n = add_node("AveragePool", src, {read_name(sum.inputs.at(0))}, {pre});
      set_ints(n, "kernel_shape", sum.get_ints("kernel"));
      set_ints(n, "strides", sum.get_ints("strides"));
      if (sum.has("dilations")) set_ints(n, "dilations", sum.get_ints("dilations"));
      if (sum.has("pads")) {  // the model's own pads (ceil_mode grew the window sum's at the end) and modes
        set_ints(n, "pads", sum.has("explicit_pads") ? sum.get_ints("explicit_pads") : sum.get_ints("pads"));
        set_int(n, "count_include_pad", sum.get_int("count_include_pad", 1));
      }
      if (sum.get_int("ceil_mode", 0) != 0) set_int(n, "ceil_mode", 1);
    }
    clamp_activation(rq, src, pre, v);
    quantize_pair(v, write_name(v));
  }

  // A scalar float initializer (for the formulas below).
  std::string scalar(const std::string& name, float value) {
    add_initializer(name, onnx::TensorProto::FLOAT, {}, std::vector<float>{value});
    return name;
  }

  // The function a LUT approximates, in float: one ONNX op, or its formula in opset-13 ops. The functions
  // with parameters (leaky_relu's α, elu, selu, celu, hard_sigmoid, hard_swish) are not recorded in the
  // IntGraph's lut op, and are refused.
  void export_function(const Node& op, const std::string& function, const std::string& x, const std::string& y) {
    static const std::map<std::string, std::string> kOnnxOp = {
        {"relu", "Relu"},        {"sigmoid", "Sigmoid"},       {"tanh", "Tanh"},
        {"exp", "Exp"},          {"reciprocal", "Reciprocal"}, {"softplus", "Softplus"},
        {"softsign", "Softsign"}};
    const std::string p = op.name + "_" + function;
    if (const auto it = kOnnxOp.find(function); it != kOnnxOp.end()) {
      add_node(it->second, op.name, {x}, {y});
    } else if (function == "gelu_erf") {  // x/2 · (1 + erf(x/√2))
      add_node("Div", p + "_scaled", {x, scalar(p + "_sqrt2", static_cast<float>(std::sqrt(2.0)))}, {p + "_scaled"});
      add_node("Erf", p + "_erf", {p + "_scaled"}, {p + "_erf"});
      add_node("Add", p + "_1p", {p + "_erf", scalar(p + "_one", 1.0F)}, {p + "_1p"});
      add_node("Mul", p + "_x", {x, p + "_1p"}, {p + "_x"});
      add_node("Mul", op.name, {p + "_x", scalar(p + "_half", 0.5F)}, {y});
    } else if (function == "gelu_tanh") {  // x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))
      add_node("Mul", p + "_x2", {x, x}, {p + "_x2"});
      add_node("Mul", p + "_x3", {p + "_x2", x}, {p + "_x3"});
      add_node("Mul", p + "_c3", {p + "_x3", scalar(p + "_k", 0.044715F)}, {p + "_c3"});
      add_node("Add", p + "_inner", {x, p + "_c3"}, {p + "_inner"});
      add_node("Mul", p + "_arg", {p + "_inner", scalar(p + "_s", static_cast<float>(std::sqrt(2.0 / M_PI)))},
               {p + "_arg"});
      add_node("Tanh", p + "_tanh", {p + "_arg"}, {p + "_tanh"});
      add_node("Add", p + "_1p", {p + "_tanh", scalar(p + "_one", 1.0F)}, {p + "_1p"});
      add_node("Mul", p + "_x", {x, p + "_1p"}, {p + "_x"});
      add_node("Mul", op.name, {p + "_x", scalar(p + "_half", 0.5F)}, {y});
    } else if (function == "silu") {  // x · σ(x)
      add_node("Sigmoid", p + "_sigmoid", {x}, {p + "_sigmoid"});
      add_node("Mul", op.name, {x, p + "_sigmoid"}, {y});
    } else if (function == "mish") {  // x · tanh(softplus(x))
      add_node("Softplus", p + "_softplus", {x}, {p + "_softplus"});
      add_node("Tanh", p + "_tanh", {p + "_softplus"}, {p + "_tanh"});
      add_node("Mul", op.name, {x, p + "_tanh"}, {y});
    } else if (function == "rsqrt") {
      add_node("Sqrt", p + "_sqrt", {x}, {p + "_sqrt"});
      add_node("Reciprocal", op.name, {p + "_sqrt"}, {y});
    } else {
      fail(op, "the non-linear '" + function +
                   "' has parameters the IntGraph does not record, so it has no ONNX form here");
    }
  }

  // batch_broadcast: its constant's codes dequantized (the output's quantization: the op moves codes),
  // Expand-ed to [batch of the other input, the constant's other dimensions].
  void export_batch_broadcast(const Node& op, const std::string& y) {
    const Tensor& c = g_.constants.at(op.inputs.at(0));
    const QuantParams& q = quant(op.outputs.at(0));
    std::vector<float> values;
    for (int64_t code : c.ints)
      values.push_back(static_cast<float>(static_cast<double>(code - q.zero_point) * q.scale));
    add_initializer(op.name + "_constant", onnx::TensorProto::FLOAT, c.shape, values);
    add_node("Shape", op.name + "_like_shape", {read_name(op.inputs.at(1))}, {op.name + "_like_shape"});
    add_initializer(op.name + "_from", onnx::TensorProto::INT64, {1}, std::vector<int64_t>{0});
    add_initializer(op.name + "_to", onnx::TensorProto::INT64, {1}, std::vector<int64_t>{1});
    add_node("Slice", op.name + "_batch", {op.name + "_like_shape", op.name + "_from", op.name + "_to"},
             {op.name + "_batch"});
    const std::vector<int64_t> rest(c.shape.begin() + 1, c.shape.end());
    add_initializer(op.name + "_rest", onnx::TensorProto::INT64, {static_cast<int64_t>(rest.size())}, rest);
    set_int(add_node("Concat", op.name + "_shape", {op.name + "_batch", op.name + "_rest"}, {op.name + "_shape"}),
            "axis", 0);
    add_node("Expand", op.name, {op.name + "_constant", op.name + "_shape"}, {y});
  }

  // layernorm (docs/numerics.md §10) as (x − mean) / √(var + ε) · γ + β over the last axis, with the real
  // γ, β and ε its integers stand for: y − z_y = b + R(z · G) with z the normalised value in 2^−15 units,
  // so γ = ±G · 2^15 · s_y and β = b · s_y; E = ε · n² · 4^g / s_x², so ε = E · s_x² / (n² · 4^g).
  void export_layernorm(const Node& op, const std::string& y) {
    const QuantParams &in = quant(op.inputs.at(0)), &out = quant(op.outputs.at(0));
    const Tensor &m = g_.constants.at(op.inputs.at(1)), &shifts = g_.constants.at(op.inputs.at(2)),
                 &negative = g_.constants.at(op.inputs.at(3)), &beta_codes = g_.constants.at(op.inputs.at(4));
    const int bits = static_cast<int>(op.get_int("multiplier_bits"));
    const auto n = static_cast<int64_t>(m.ints.size());
    std::vector<float> gamma, beta;
    for (int64_t j = 0; j < n; ++j) {
      const double g = FixedMultiplier{static_cast<int32_t>(m.ints[j]), static_cast<int>(shifts.ints[j]), bits}.value();
      gamma.push_back(
          static_cast<float>((negative.ints[j] ? -g : g) * std::ldexp(out.scale, kernels::kLayerNormZBits)));
      beta.push_back(static_cast<float>(static_cast<double>(beta_codes.ints[j]) * out.scale));
    }
    const double epsilon = static_cast<double>(op.get_int("epsilon_units")) * in.scale * in.scale /
                           (static_cast<double>(n) * static_cast<double>(n) *
                            std::ldexp(1.0, 2 * static_cast<int>(op.get_int("extra_bits"))));
    const std::string p = op.name, x = read_name(op.inputs.at(0));
    add_initializer(p + "_gamma", onnx::TensorProto::FLOAT, {n}, gamma);
    add_initializer(p + "_beta", onnx::TensorProto::FLOAT, {n}, beta);
    set_ints(add_node("ReduceMean", p + "_mean", {x}, {p + "_mean"}), "axes", {-1});
    add_node("Sub", p + "_centred", {x, p + "_mean"}, {p + "_centred"});
    add_node("Mul", p + "_squared", {p + "_centred", p + "_centred"}, {p + "_squared"});
    set_ints(add_node("ReduceMean", p + "_variance", {p + "_squared"}, {p + "_variance"}), "axes", {-1});
    add_node("Add", p + "_plus_epsilon", {p + "_variance", scalar(p + "_epsilon", static_cast<float>(epsilon))},
             {p + "_plus_epsilon"});
    add_node("Sqrt", p + "_deviation", {p + "_plus_epsilon"}, {p + "_deviation"});
    add_node("Div", p + "_normalised", {p + "_centred", p + "_deviation"}, {p + "_normalised"});
    add_node("Mul", p + "_scaled", {p + "_normalised", p + "_gamma"}, {p + "_scaled"});
    add_node("Add", p, {p + "_scaled", p + "_beta"}, {y});
  }

  void export_op(size_t i) {
    const Node& op = g_.ops[i];
    const ops::QdqForm form = ops::op_def(op).qdq;
    if (form == ops::QdqForm::mac) return export_mac(op);
    if (form == ops::QdqForm::average_pool) return export_pool(op);
    if (form == ops::QdqForm::activation_mac) {
      const Node& rq = requantization_of(op.outputs.at(0));
      const std::string src = op.get_string("source"), v = rq.outputs.at(0);
      const std::string pre = clamps(rq, v) ? src + "_output" : write_name(v);
      // A constant factor of the source model folded into the requantization (attention's 1/√d): its
      // multiplier stands for s_a · s_b / s_y times it, and the float graph multiplies by it again.
      const Tensor &multiplier = g_.constants.at(rq.inputs.at(1)), &shift = g_.constants.at(rq.inputs.at(2));
      const double real =
          FixedMultiplier{static_cast<int32_t>(multiplier.ints.at(0)), static_cast<int>(shift.ints.at(0)),
                          static_cast<int>(rq.get_int("multiplier_bits"))}
              .value();
      const double factor = real * quant(v).scale / (quant(op.inputs.at(0)).scale * quant(op.inputs.at(1)).scale);
      if (std::abs(factor - 1.0) > 1e-6) {
        add_node("MatMul", src, {read_name(op.inputs.at(0)), read_name(op.inputs.at(1))}, {src + "_product"});
        add_node("Mul", src + "_folded", {src + "_product", scalar(src + "_factor", static_cast<float>(factor))},
                 {pre});
      } else {
        add_node("MatMul", src, {read_name(op.inputs.at(0)), read_name(op.inputs.at(1))}, {pre});
      }
      clamp_activation(rq, src, pre, v);
      return quantize_pair(v, write_name(v));
    }
    if (form == ops::QdqForm::with_producer) return;
    const std::string v = op.outputs.at(0);
    switch (form) {
      case ops::QdqForm::add:
      case ops::QdqForm::mul: {
        const std::string pre = clamps(op, v) ? op.name + "_output" : write_name(v);
        add_node(form == ops::QdqForm::mul   ? "Mul"
                 : op.get_int("subtract", 0) ? "Sub"
                                             : "Add",
                 op.name, {read_name(op.inputs.at(0)), read_name(op.inputs.at(1))}, {pre});
        clamp_activation(op, op.name, pre, v);
        break;
      }
      case ops::QdqForm::clamp:  // a Relu or Clip between two identical quantizations
        clamp_activation(op, op.name, read_name(op.inputs.at(0)), v);
        if (!clamps(op, v)) add_node("Identity", op.name, {read_name(op.inputs.at(0))}, {write_name(v)});
        break;
      case ops::QdqForm::max_pool: {
        onnx::NodeProto* n = add_node("MaxPool", op.name, {read_name(op.inputs.at(0))}, {write_name(v)});
        set_ints(n, "kernel_shape", op.get_ints("kernel"));
        set_ints(n, "strides", op.get_ints("strides"));
        set_ints(n, "pads", op.get_ints("pads"));
        set_ints(n, "dilations", op.get_ints("dilations"));
        break;
      }
      case ops::QdqForm::lookup_table:
        export_function(op, op.get_string("function"), read_name(op.inputs.at(0)), write_name(v));
        break;
      case ops::QdqForm::batch_broadcast:
        export_batch_broadcast(op, write_name(v));
        break;
      case ops::QdqForm::layernorm:
        export_layernorm(op, write_name(v));
        break;
      case ops::QdqForm::slice: {
        // counts elements from start by step: ONNX's exclusive end is start + count · step, or "past the
        // front" for a window that runs down to element 0
        const std::vector<int64_t> starts = op.get_ints("starts"), steps = op.get_ints("steps"),
                                   counts = op.get_ints("counts"), axes = op.get_ints("axes");
        std::vector<int64_t> ends;
        for (size_t d = 0; d < starts.size(); ++d) {
          const int64_t end = starts.at(d) + counts.at(d) * steps.at(d);
          ends.push_back(end < 0 ? std::numeric_limits<int64_t>::min() : end);
        }
        const auto rank = static_cast<int64_t>(starts.size());
        add_initializer(op.name + "_starts", onnx::TensorProto::INT64, {rank}, starts);
        add_initializer(op.name + "_ends", onnx::TensorProto::INT64, {rank}, ends);
        add_initializer(op.name + "_axes", onnx::TensorProto::INT64, {rank}, axes);
        add_initializer(op.name + "_steps", onnx::TensorProto::INT64, {rank}, steps);
        add_node(
            "Slice", op.name,
            {read_name(op.inputs.at(0)), op.name + "_starts", op.name + "_ends", op.name + "_axes", op.name + "_steps"},
            {write_name(v)});
        break;
      }
      case ops::QdqForm::gather: {
        // one index with the axis dropped is ONNX's scalar index; else a list, which keeps the axis
        const std::vector<int64_t> indices = op.get_ints("indices");
        const bool drop = op.get_int("drop_axis") != 0;
        if (drop && indices.size() != 1) fail(op, "drops its axis but has several indices");
        add_initializer(op.name + "_indices", onnx::TensorProto::INT64,
                        drop ? Shape{} : Shape{static_cast<int64_t>(indices.size())}, indices);
        set_int(add_node("Gather", op.name, {read_name(op.inputs.at(0)), op.name + "_indices"}, {write_name(v)}),
                "axis", op.get_int("axis"));
        break;
      }
      case ops::QdqForm::softmax:
        // An attention mask would be an additive −inf input, which a QDQ graph cannot quantize.
        if (op.inputs.size() > 2) fail(op, "has an attention mask, which has no QDQ form");
        set_int(add_node("Softmax", op.name, {read_name(op.inputs.at(0))}, {write_name(v)}), "axis", -1);
        break;
      case ops::QdqForm::transpose:
        set_ints(add_node("Transpose", op.name, {read_name(op.inputs.at(0))}, {write_name(v)}), "perm",
                 op.get_ints("perm"));
        break;
      case ops::QdqForm::concat: {
        std::vector<std::string> inputs;
        for (const auto& in : op.inputs) inputs.push_back(read_name(in));
        set_int(add_node("Concat", op.name, inputs, {write_name(v)}), "axis", op.get_int("axis"));
        break;
      }
      case ops::QdqForm::resize_linear: {
        // The model's coordinate mode with its scales, or the output size when it gave sizes.
        std::vector<float> scales;
        const std::vector<int64_t> multipliers = op.get_ints("scale_multipliers"), shifts = op.get_ints("scale_shifts");
        for (size_t d = 0; d < multipliers.size() && d < shifts.size(); ++d)
          scales.push_back(static_cast<float>(
              FixedMultiplier{static_cast<int32_t>(multipliers[d]), static_cast<int>(shifts[d]), kFloat32MultiplierBits}
                  .value()));
        std::vector<std::string> inputs{read_name(op.inputs.at(0)), ""};
        if (!scales.empty()) {
          add_initializer(op.name + "_scales", onnx::TensorProto::FLOAT, {static_cast<int64_t>(scales.size())}, scales);
          inputs.push_back(op.name + "_scales");
        } else {
          const Shape& sizes = g_.values.at(v).shape;
          if (std::any_of(sizes.begin(), sizes.end(), [](int64_t d) { return d < 0; }))
            fail(op, "its output shape " + shape_to_string(sizes) + " is not static, which Resize's sizes must be");
          add_initializer(op.name + "_sizes", onnx::TensorProto::INT64, {static_cast<int64_t>(sizes.size())}, sizes);
          inputs.insert(inputs.end(), {"", op.name + "_sizes"});
        }
        onnx::NodeProto* r = add_node("Resize", op.name, inputs, {write_name(v)});
        set_string(r, "mode", "linear");
        set_string(r, "coordinate_transformation_mode", op.get_string("coordinate_transformation_mode"));
        break;
      }
      case ops::QdqForm::reshape: {
        const std::vector<int64_t> shape = op.get_ints("shape");
        add_initializer(op.name + "_shape", onnx::TensorProto::INT64, {static_cast<int64_t>(shape.size())}, shape);
        add_node("Reshape", op.name, {read_name(op.inputs.at(0)), op.name + "_shape"}, {write_name(v)});
        break;
      }
      default:
        fail(op, "has no QDQ form");
    }
    quantize_pair(v, write_name(v));
  }

  const IntGraph& g_;
  onnx::ModelProto* model_ = nullptr;
  onnx::GraphProto* graph_ = nullptr;
  bool microsoft_domain_ = false;
  std::string input_name_, output_name_, output_value_;
};

}  // namespace

std::string export_qdq_onnx(const IntGraph& graph) {
  check_integer_only(graph);
  return Exporter(graph).run();
}

}  // namespace chipref
