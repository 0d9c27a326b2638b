#include "model/contrib_quantized.hpp"

#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <vector>

#include "core/error.hpp"
#include "model/onnx_import.hpp"

namespace chipref {

namespace {

using Nodes = google::protobuf::RepeatedPtrField<onnx::NodeProto>;

// Input positions of one quantized operand: its codes, scale and (optional) zero point.
struct Operand {
  int value, scale, zero_point;
};

class Expander {
 public:
  Expander(onnx::ModelProto& model, const std::string& source) : model_(model), source_(source) {
    for (const auto& o : model.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
    for (const auto& t : model.graph().initializer()) initializers_[t.name()] = &t;
  }

  int run() {
    Nodes out;
    int expanded = 0;
    for (int i = 0; i < model_.graph().node_size(); ++i) {
      const onnx::NodeProto& n = model_.graph().node(i);
      if (n.domain() == kMicrosoftDomain && is_contrib_quantized_op(n.op_type())) {
        base_ = n.name().empty() ? n.op_type() + "_" + std::to_string(i) : n.name();
        expand(n, out);
        ++expanded;
      } else {
        *out.Add() = n;
      }
    }
    model_.mutable_graph()->mutable_node()->Swap(&out);
    return expanded;
  }

 private:
  [[noreturn]] void fail(const onnx::NodeProto& n, const std::string& why) const {
    throw InputError(source_ + ": node '" + base_ + "' (" + kMicrosoftDomain + "::" + n.op_type() + "): " + why);
  }

  bool has_input(const onnx::NodeProto& n, int i) const { return i < n.input_size() && !n.input(i).empty(); }

  const std::string& required(const onnx::NodeProto& n, int i, const char* what) const {
    if (!has_input(n, i)) fail(n, std::string("input ") + std::to_string(i) + " (" + what + ") is missing");
    return n.input(i);
  }

  int64_t int_attribute(const onnx::NodeProto& n, const std::string& name, int64_t fallback) const {
    for (const auto& a : n.attribute())
      if (a.name() == name) return a.i();
    return fallback;
  }

  // The attributes of n that the float operator takes too; channels_last has no float counterpart here.
  void copy_attributes(const onnx::NodeProto& n, onnx::NodeProto& to, const std::set<std::string>& dropped = {}) {
    if (int_attribute(n, "channels_last", 0) != 0)
      fail(n, "channels_last=1 (NHWC) is not supported; export the model with NCHW tensors (channels_last=0)");
    for (const auto& a : n.attribute())
      if (a.name() != "channels_last" && !dropped.count(a.name())) *to.add_attribute() = a;
  }

  onnx::NodeProto& add(Nodes& out, const std::string& op_type, const std::string& name,
                       const std::vector<std::string>& inputs, const std::string& output,
                       const std::string& domain = "") {
    onnx::NodeProto& node = *out.Add();
    node.set_op_type(op_type), node.set_name(name), node.set_domain(domain), node.add_output(output);
    for (const auto& in : inputs) node.add_input(in);
    return node;
  }

  static void set_int(onnx::NodeProto& node, const std::string& name, int64_t value) {
    auto* a = node.add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::INT), a->set_i(value);
  }

  // DequantizeLinear of one operand (per axis `axis` when its scale is a vector). ONNX Runtime's own
  // DequantizeLinear is used: it is ONNX's, with a per-axis form at every opset.
  std::string dequantized(const onnx::NodeProto& n, const Operand& o, Nodes& out, int64_t axis = 1) {
    const std::string& codes = required(n, o.value, "codes");
    std::vector<std::string> inputs{codes, required(n, o.scale, "scale")};
    if (has_input(n, o.zero_point)) inputs.push_back(n.input(o.zero_point));
    const std::string name = n.output(0) + "/dequantized_" + std::to_string(o.value);
    onnx::NodeProto& dq = add(out, "DequantizeLinear", base_ + "/DequantizeLinear_" + std::to_string(o.value), inputs,
                              name, kMicrosoftDomain);
    set_int(dq, "axis", axis);
    return name;
  }

  // QuantizeLinear of `value` into n's output with (y_scale, y_zero_point). Without a zero point the codes
  // take the operands' type (the schemas' T), given by an operand's zero point.
  void quantized_output(const onnx::NodeProto& n, const std::string& value, int y_scale, int y_zero_point,
                        const std::vector<Operand>& operands, Nodes& out) {
    std::vector<std::string> inputs{value, required(n, y_scale, "output scale")};
    if (has_input(n, y_zero_point)) {
      inputs.push_back(n.input(y_zero_point));
    } else {
      const onnx::TensorProto* typed = nullptr;
      for (const Operand& o : operands)
        if (has_input(n, o.zero_point) && initializers_.count(n.input(o.zero_point)))
          typed = initializers_.at(n.input(o.zero_point));
      if (typed == nullptr) fail(n, "no zero point names the codes' type (uint8 or int8); give the output zero point");
      onnx::TensorProto* zero = model_.mutable_graph()->add_initializer();
      zero->set_name(n.output(0) + "/zero_point");
      zero->set_data_type(typed->data_type());
      zero->set_raw_data(std::string(1, '\0'));
      inputs.push_back(zero->name());
    }
    add(out, "QuantizeLinear", base_ + "/QuantizeLinear", inputs, n.output(0), kMicrosoftDomain);
  }

  // The common shape: dequantize the operands, one float op (after any plain inputs), quantize its result.
  onnx::NodeProto& through_float(const onnx::NodeProto& n, const std::string& float_op,
                                 const std::vector<std::string>& plain_inputs, const std::vector<Operand>& operands,
                                 int y_scale, int y_zero_point, Nodes& out) {
    std::vector<std::string> inputs = plain_inputs;
    for (const Operand& o : operands) inputs.push_back(dequantized(n, o, out));
    const std::string value = n.output(0) + "/float";
    onnx::NodeProto& op = add(out, float_op, base_, inputs, value);
    quantized_output(n, value, y_scale, y_zero_point, operands, out);
    return op;
  }

  Tensor constant(const onnx::NodeProto& n, int i, const char* what) const {
    const auto it = has_input(n, i) ? initializers_.find(n.input(i)) : initializers_.end();
    if (it == initializers_.end()) fail(n, std::string(what) + " must be a constant (an initializer)");
    return tensor_from_proto(*it->second, source_ + ": initializer '" + n.input(i) + "'");
  }

  void softmax(const onnx::NodeProto& n, Nodes& out) {
    // Its `opset` attribute says which Softmax it is: before 13 it flattens the axes from `axis` on (default
    // 1), from 13 on it normalises along `axis` alone (default -1). The float Softmax is the model's own.
    const int64_t declared = int_attribute(n, "opset", opset_);
    const int64_t axis = int_attribute(n, "axis", declared >= 13 ? -1 : 1);
    if ((declared >= 13) != (opset_ >= 13) && axis != -1)
      fail(n, "its Softmax of opset " + std::to_string(declared) + " on axis " + std::to_string(axis) +
                  " differs from the model's opset " + std::to_string(opset_) +
                  " Softmax; only axis -1 means the same");
    onnx::NodeProto& op = through_float(n, "Softmax", {}, {{0, 1, 2}}, 3, 4, out);
    copy_attributes(n, op, {"opset", "axis"});
    set_int(op, "axis", axis);
  }

  void reduce_mean(const onnx::NodeProto& n, Nodes& out) {
    if (opset_ < 18) {
      copy_attributes(n, through_float(n, "ReduceMean", {}, {{0, 1, 2}}, 3, 4, out));
      return;
    }
    // From opset 18 ReduceMean takes its axes as an input.
    std::vector<int64_t> axes;
    for (const auto& a : n.attribute())
      if (a.name() == "axes") axes.assign(a.ints().begin(), a.ints().end());
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(n.output(0) + "/axes"), t->set_data_type(onnx::TensorProto::INT64), t->add_dims(axes.size());
    for (int64_t a : axes) t->add_int64_data(a);
    const std::string dq = dequantized(n, {0, 1, 2}, out);
    const std::string value = n.output(0) + "/float";
    copy_attributes(n, add(out, "ReduceMean", base_, {dq, t->name()}, value), {"axes"});
    quantized_output(n, value, 3, 4, {{0, 1, 2}}, out);
  }

  // QGemm(A, a_scale, a_zp, B, b_scale, b_zp, [C], [y_scale], [y_zp]): C is int32 at scale alpha·a_scale·b_scale
  // (zero point 0; the schema's alpha / beta with beta fixed at 1); without y_scale the output is float.
  void qgemm(const onnx::NodeProto& n, Nodes& out) {
    const bool trans_b = int_attribute(n, "transB", 0) != 0;
    float alpha = 1.0f;
    for (const auto& a : n.attribute())
      if (a.name() == "alpha") alpha = a.f();
    const Tensor a_scale = constant(n, 1, "a_scale"), b_scale = constant(n, 4, "b_scale");
    if (a_scale.numel() != 1) fail(n, "a_scale must be one value (per-tensor)");
    std::vector<std::string> inputs{dequantized(n, {0, 1, 2}, out), dequantized(n, {3, 4, 5}, out, trans_b ? 0 : 1)};
    if (has_input(n, 6)) {
      const Tensor c = constant(n, 6, "C (the int32 bias)");
      if (b_scale.numel() > 1 && (c.rank() == 0 || c.shape.back() != b_scale.numel()))
        fail(n, "C must have one column per column of B when b_scale is per column");
      onnx::TensorProto* scale = model_.mutable_graph()->add_initializer();
      scale->set_name(n.output(0) + "/C_scale"), scale->set_data_type(onnx::TensorProto::FLOAT);
      if (b_scale.numel() > 1) scale->add_dims(b_scale.numel());
      for (float s : b_scale.floats) scale->add_float_data(alpha * a_scale.floats[0] * s);
      const std::string name = n.output(0) + "/dequantized_6";
      onnx::NodeProto& dq = add(out, "DequantizeLinear", base_ + "/DequantizeLinear_6", {n.input(6), scale->name()},
                                name, kMicrosoftDomain);
      set_int(dq, "axis", c.rank() - 1);
      inputs.push_back(name);
    }
    const bool quantized = has_input(n, 7);
    const std::string value = quantized ? n.output(0) + "/float" : n.output(0);
    onnx::NodeProto& gemm = add(out, "Gemm", base_, inputs, value);
    copy_attributes(n, gemm);
    if (quantized) quantized_output(n, value, 7, 8, {{0, 1, 2}, {3, 4, 5}}, out);
  }

  void expand(const onnx::NodeProto& n, Nodes& out) {
    if (n.output_size() != 1) fail(n, "expected one output");
    const std::string& op = n.op_type();
    if (op == "QLinearAdd" || op == "QLinearMul") {
      through_float(n, op == "QLinearAdd" ? "Add" : "Mul", {}, {{0, 1, 2}, {3, 4, 5}}, 6, 7, out);
    } else if (op == "QLinearAveragePool" || op == "QLinearGlobalAveragePool") {
      copy_attributes(n, through_float(n, op.substr(7), {}, {{0, 1, 2}}, 3, 4, out));
    } else if (op == "QLinearLeakyRelu" || op == "QLinearSigmoid") {
      copy_attributes(n, through_float(n, op.substr(7), {}, {{0, 1, 2}}, 3, 4, out));
    } else if (op == "QLinearSoftmax") {
      softmax(n, out);
    } else if (op == "QLinearReduceMean") {
      reduce_mean(n, out);
    } else if (op == "QLinearConcat") {
      if (n.input_size() < 5 || (n.input_size() - 2) % 3 != 0)
        fail(n, "expected Y_scale, Y_zero_point, then (tensor, scale, zero point) triples; got " +
                    std::to_string(n.input_size()) + " inputs");
      std::vector<Operand> operands;
      for (int i = 2; i < n.input_size(); i += 3) operands.push_back({i, i + 1, i + 2});
      copy_attributes(n, through_float(n, "Concat", {}, operands, 0, 1, out));
    } else if (op == "QLinearWhere") {
      through_float(n, "Where", {required(n, 0, "condition")}, {{1, 2, 3}, {4, 5, 6}}, 7, 8, out);
    } else if (op == "QGemm") {
      qgemm(n, out);
    } else if (op == "QLinearConv") {  // ONNX's QLinearConv, with a layout attribute
      onnx::NodeProto& conv = *out.Add();
      conv = n;
      conv.set_domain("");
      conv.clear_attribute();
      copy_attributes(n, conv);
    }
  }

  onnx::ModelProto& model_;
  const std::string& source_;
  int64_t opset_ = 0;
  std::map<std::string, const onnx::TensorProto*> initializers_;
  // The node being expanded, named in errors and in the names of the nodes it becomes; the tensors it adds
  // are named after its output, which is unique (node names need not be).
  std::string base_;
};

}  // namespace

bool is_contrib_quantized_op(const std::string& op_type) {
  static const std::set<std::string> ops{"QLinearAdd",
                                         "QLinearMul",
                                         "QLinearAveragePool",
                                         "QLinearGlobalAveragePool",
                                         "QLinearLeakyRelu",
                                         "QLinearSigmoid",
                                         "QLinearSoftmax",
                                         "QLinearReduceMean",
                                         "QLinearConcat",
                                         "QLinearWhere",
                                         "QGemm",
                                         "QLinearConv"};
  return ops.count(op_type) != 0;
}

int expand_contrib_quantized_ops(onnx::ModelProto& model, const std::string& source) {
  return Expander(model, source).run();
}

}  // namespace chipref
