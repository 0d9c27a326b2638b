#include "model/onnx_import.hpp"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "core/files.hpp"
#include "model/contrib_quantized.hpp"
#include "model/executor.hpp"

namespace chipref {

namespace {

// ONNX's messages span lines; chipref's errors are one line.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

DType dtype_from_onnx(int32_t t, const std::string& context) {
  using TP = onnx::TensorProto;
  switch (t) {
    case TP::FLOAT:
      return DType::float32;
    case TP::INT8:
      return DType::int8;
    case TP::UINT8:
      return DType::uint8;
    case TP::INT16:
      return DType::int16;
    case TP::UINT16:
      return DType::uint16;
    case TP::INT32:
      return DType::int32;
    case TP::INT64:
      return DType::int64;
    case TP::BOOL:
      return DType::boolean;
    default:
      throw Unsupported(context + ": element type " + TP::DataType_Name(static_cast<TP::DataType>(t)) +
                        " is not supported; expected float, int8/16/32/64, uint8/16 or bool");
  }
}

template <class T>
std::vector<T> from_raw(const std::string& raw, int64_t n, const std::string& context) {
  if (raw.size() != static_cast<size_t>(n) * sizeof(T))
    throw InputError(context + ": raw data holds " + std::to_string(raw.size()) + " bytes; expected " +
                     std::to_string(n * static_cast<int64_t>(sizeof(T))) + " for its shape");
  std::vector<T> v(static_cast<size_t>(n));
  if (n) std::memcpy(v.data(), raw.data(), raw.size());  // ONNX raw data is little-endian, as is the host
  return v;
}

template <class T, class Field>
std::vector<T> from_field(const Field& field, int64_t n, const std::string& context) {
  if (field.size() != n)
    throw InputError(context + ": holds " + std::to_string(field.size()) + " values; expected " + std::to_string(n) +
                     " for its shape");
  return std::vector<T>(field.begin(), field.end());
}

Shape shape_of(const onnx::TypeProto& type, std::vector<std::string>* dim_names) {
  Shape shape;
  if (!type.has_tensor_type() || !type.tensor_type().has_shape()) return shape;
  for (const auto& d : type.tensor_type().shape().dim()) {
    shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    if (dim_names) dim_names->push_back(d.has_dim_param() ? d.dim_param() : "");
  }
  return shape;
}

ValueInfo value_info_from(const onnx::ValueInfoProto& v, const std::string& context) {
  ValueInfo info;
  info.name = v.name();
  if (!v.type().has_tensor_type())
    throw Unsupported(context + ": value '" + v.name() +
                      "' is not a tensor (sequence, map or optional types are not supported)");
  {
    info.dtype = dtype_from_onnx(v.type().tensor_type().elem_type(), context + " value '" + v.name() + "'");
    info.shape = shape_of(v.type(), &info.dim_names);
    info.shape_known = v.type().tensor_type().has_shape();
  }
  return info;
}

AttributeValue attribute_from(const onnx::AttributeProto& a, const std::string& context) {
  using AP = onnx::AttributeProto;
  switch (a.type()) {
    case AP::INT:
      return a.i();
    case AP::FLOAT:
      return a.f();
    case AP::STRING:
      return a.s();
    case AP::INTS:
      return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    case AP::FLOATS:
      return std::vector<float>(a.floats().begin(), a.floats().end());
    case AP::STRINGS:
      return std::vector<std::string>(a.strings().begin(), a.strings().end());
    case AP::TENSOR:
      return tensor_from_proto(a.t(), context + " attribute '" + a.name() + "'");
    default:
      throw Unsupported(context + ": attribute '" + a.name() + "' has type " + AP::AttributeType_Name(a.type()) +
                        ", which chipref does not support");
  }
}

int64_t default_domain_opset(const onnx::ModelProto& model, const std::string& source) {
  int64_t opset = -1;
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  if (opset < 0) throw InputError(source + ": the model imports no default ONNX opset");
  if (opset < kMinOnnxOpset || opset > kMaxOnnxOpset)
    throw Unsupported(source + ": opset " + std::to_string(opset) + " is not supported; expected " +
                      std::to_string(kMinOnnxOpset) + ".." + std::to_string(kMaxOnnxOpset));
  return opset;
}

void fix_batch_dimension(onnx::ModelProto& model, int64_t batch) {
  std::set<std::string> initializers;
  for (const auto& init : model.graph().initializer()) initializers.insert(init.name());
  for (auto& input : *model.mutable_graph()->mutable_input()) {
    if (initializers.count(input.name()) || !input.type().has_tensor_type() || !input.type().tensor_type().has_shape())
      continue;
    auto* shape = input.mutable_type()->mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() > 0 && !shape->dim(0).has_dim_value()) shape->mutable_dim(0)->set_dim_value(batch);
  }
  // Inferred shapes stored in the file were computed with the symbolic batch; infer them afresh.
  model.mutable_graph()->clear_value_info();
}

// A NaN in any constant, or an infinity among the weights, biases, normalisation parameters or
// quantization scales of a model, is a broken export, never a value to compute with (an infinite
// constant elsewhere, an attention mask's −inf, is legitimate): refused, naming the tensor and element.
void check_finite_parameters(const Graph& g) {
  static const std::set<std::string> kParameterReaders = {"Conv",
                                                          "ConvTranspose",
                                                          "Gemm",
                                                          "MatMul",
                                                          "BatchNormalization",
                                                          "LayerNormalization",
                                                          "InstanceNormalization",
                                                          "QuantizeLinear",
                                                          "DequantizeLinear",
                                                          "PRelu"};
  std::map<std::string, std::string> parameter_of;  // initializer → the node reading it as a parameter
  for (const Node& n : g.nodes)
    if (kParameterReaders.count(n.op_type))
      for (size_t i = 0; i < n.inputs.size(); ++i)
        if (g.initializers.count(n.inputs[i]) && (i > 0 || n.op_type == "MatMul"))
          parameter_of.emplace(n.inputs[i], n.describe());
  for (const auto& [name, t] : g.initializers) {
    if (!t.is_float()) continue;
    const auto reader = parameter_of.find(name);
    for (size_t i = 0; i < t.floats.size(); ++i) {
      const float v = t.floats[i];
      if (std::isnan(v) || (std::isinf(v) && reader != parameter_of.end()))
        throw InputError(g.source + ": initializer '" + name + "'" +
                         (reader != parameter_of.end() ? " (a parameter of " + reader->second + ")" : "") +
                         ": element " + std::to_string(i) + " " + index_to_string(t.shape, static_cast<int64_t>(i)) +
                         " is " + (std::isnan(v) ? "NaN" : "infinite") +
                         "; a model's weights, biases and scales must be finite numbers");
    }
  }
}

// Checks that ONNX 1.12's shape inference leaves out (Gemm does not compare inner dimensions, Conv does
// not compare channels): the contraction dimensions of every product op whose operand shapes are known.
void check_contractions(const Graph& g) {
  auto shape = [&](const Node& n, size_t i) { return n.has_input(i) ? g.known_shape(n.inputs[i]) : nullptr; };
  auto known = [](int64_t d) { return d >= 0; };
  for (const Node& n : g.nodes) {
    const std::string where = g.source + ": inconsistent shapes: " + n.describe() + ": ";
    if (n.op_type == "Gemm" || n.op_type == "MatMul" || n.op_type == "MatMulInteger" || n.op_type == "QLinearMatMul") {
      const bool qlinear = n.op_type == "QLinearMatMul";
      const Shape* a = shape(n, 0);
      const Shape* b = shape(n, qlinear ? 3 : 1);
      if (!a || !b || a->empty() || b->empty()) continue;
      const bool gemm = n.op_type == "Gemm";
      const int64_t ka = gemm && n.get_int("transA", 0) ? a->front() : a->back();
      const int64_t kb =
          b->size() == 1 ? b->front() : (gemm && n.get_int("transB", 0) ? b->back() : (*b)[b->size() - 2]);
      if (known(ka) && known(kb) && ka != kb)
        throw InputError(where + "inner dimensions differ: " + shape_to_string(*a) + " x " + shape_to_string(*b));
    }
    if (n.op_type == "Conv" || n.op_type == "ConvInteger" || n.op_type == "QLinearConv") {
      const Shape* x = shape(n, 0);
      const Shape* w = shape(n, n.op_type == "QLinearConv" ? 3 : 1);
      if (!x || !w || x->size() < 2 || w->size() < 2) continue;
      const int64_t group = n.get_int("group", 1);
      if (known((*x)[1]) && known((*w)[1]) && (*x)[1] != (*w)[1] * group)
        throw InputError(where + "input has " + std::to_string((*x)[1]) + " channels; weight " + shape_to_string(*w) +
                         " with group " + std::to_string(group) + " expects " + std::to_string((*w)[1] * group));
    }
  }
}

// ONNX 1.12's shape inference reads or writes out of bounds on some malformed nodes (fixed upstream
// later): a LayerNormalization whose 'axis' is outside its input's rank (onnx/onnx#8466; found by
// fuzz_onnx, reproducer in fuzz/corpus/onnx), a convolution whose weight has another rank than its input
// (onnx/onnx#6180). These are checked first, so such a model is an inconsistent-shapes error instead of
// a crash. The registered schemas are ONNX's own mutable globals; each keeps its inference after the check.
void guard_onnx_shape_inference() {
  const auto rank_of = [](onnx::InferenceContext& ctx, size_t input) -> int64_t {
    return input < ctx.getNumInputs() && onnx::hasInputShape(ctx, input)
               ? ctx.getInputType(input)->tensor_type().shape().dim_size()
               : -1;
  };
  const auto guard = [](const char* op, std::function<void(onnx::InferenceContext&)> check) {
    auto* schema = const_cast<onnx::OpSchema*>(onnx::OpSchemaRegistry::Schema(op));
    if (!schema) return;
    const onnx::InferenceFunction onnx_inference = schema->GetTypeAndShapeInferenceFunction();
    schema->TypeAndShapeInferenceFunction([check, onnx_inference](onnx::InferenceContext& ctx) {
      check(ctx);
      if (onnx_inference) onnx_inference(ctx);
    });
  };
  guard("LayerNormalization", [rank_of](onnx::InferenceContext& ctx) {
    const int64_t rank = rank_of(ctx, 0), axis = onnx::getAttribute(ctx, "axis", int64_t{-1});
    if (rank >= 0 && (axis < -rank || axis >= rank))
      fail_shape_inference("LayerNormalization: axis ", axis, " is outside the input's rank ", rank);
  });
  for (const auto& [op, weight] : {std::pair<const char*, size_t>{"Conv", 1}, {"ConvInteger", 1}, {"QLinearConv", 3}})
    guard(op, [rank_of, op = std::string(op), weight = weight](onnx::InferenceContext& ctx) {
      const int64_t x = rank_of(ctx, 0), w = rank_of(ctx, weight);
      if (x >= 0 && w >= 0 && x != w)
        fail_shape_inference(op, ": the weight has rank ", w, ", the input rank ", x, "; they must be equal");
    });
}

// Once per process, before the first model: QONNX's Quant has no schema in ONNX. Registering one
// (the output has the type and shape of input X) lets ONNX's checker and shape inference go through
// Quant nodes instead of losing every shape behind the first one. And the guards above go in front of
// the inference functions ONNX 1.12 would crash in.
void prepare_onnx_schemas() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance();
    if (!ranges.Map().count(kQonnxDomain)) ranges.AddDomainToVersion(kQonnxDomain, 1, 1000);
    onnx::OpSchema quant;
    quant.SetName("Quant")
        .SetDomain(kQonnxDomain)
        .SinceVersion(1)
        .Input(0, "X", "input", "T")
        .Input(1, "scale", "scale", "T")
        .Input(2, "zeropt", "zero point", "T")
        .Input(3, "bitwidth", "bit width", "T")
        .Output(0, "Y", "fake-quantized output", "T")
        .TypeConstraint("T", {"tensor(float)"}, "QONNX's quantizer inputs are float")
        .Attr("signed", "signed codes", onnx::AttributeProto::INT, int64_t{1})
        .Attr("narrow", "narrow range", onnx::AttributeProto::INT, int64_t{0})
        .Attr("rounding_mode", "rounding", onnx::AttributeProto::STRING, std::string("ROUND"))
        .TypeAndShapeInferenceFunction(onnx::propagateShapeAndTypeFromFirstInput);
    onnx::RegisterSchema(quant);
    // com.microsoft QuantizeLinear / DequantizeLinear: ONNX's own, with 16-bit codes as well.
    if (!ranges.Map().count(kMicrosoftDomain)) ranges.AddDomainToVersion(kMicrosoftDomain, 1, 1);
    const std::vector<std::string> codes = {"tensor(int8)", "tensor(uint8)", "tensor(int16)", "tensor(uint16)",
                                            "tensor(int32)"};
    onnx::OpSchema quantize_linear;
    quantize_linear.SetName("QuantizeLinear")
        .SetDomain(kMicrosoftDomain)
        .SinceVersion(1)
        .Input(0, "x", "input", "T1")
        .Input(1, "y_scale", "scale", "T1")
        .Input(2, "y_zero_point", "zero point", "T2", onnx::OpSchema::Optional)
        .Output(0, "y", "codes", "T2")
        .TypeConstraint("T1", {"tensor(float)"}, "real values")
        .TypeConstraint("T2", codes, "codes")
        .Attr("axis", "the per-axis parameters' axis", onnx::AttributeProto::INT, int64_t{1})
        .TypeAndShapeInferenceFunction([](onnx::InferenceContext& ctx) {
          if (ctx.getNumInputs() > 2 && ctx.getInputType(2))
            onnx::propagateElemTypeFromInputToOutput(ctx, 2, 0);
          else
            ctx.getOutputType(0)->mutable_tensor_type()->set_elem_type(onnx::TensorProto::UINT8);
          if (onnx::hasInputShape(ctx, 0)) onnx::propagateShapeFromInputToOutput(ctx, 0, 0);
        });
    onnx::RegisterSchema(quantize_linear);
    onnx::OpSchema dequantize_linear;
    dequantize_linear.SetName("DequantizeLinear")
        .SetDomain(kMicrosoftDomain)
        .SinceVersion(1)
        .Input(0, "x", "codes", "T1")
        .Input(1, "x_scale", "scale", "T2")
        .Input(2, "x_zero_point", "zero point", "T1", onnx::OpSchema::Optional)
        .Output(0, "y", "real values", "T2")
        .TypeConstraint("T1", codes, "codes")
        .TypeConstraint("T2", {"tensor(float)"}, "real values")
        .Attr("axis", "the per-axis parameters' axis", onnx::AttributeProto::INT, int64_t{1})
        .TypeAndShapeInferenceFunction([](onnx::InferenceContext& ctx) {
          ctx.getOutputType(0)->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
          if (onnx::hasInputShape(ctx, 0)) onnx::propagateShapeFromInputToOutput(ctx, 0, 0);
        });
    onnx::RegisterSchema(dequantize_linear);
    guard_onnx_shape_inference();
  });
}

Graph convert(onnx::ModelProto& model, const std::string& source, const ImportOptions& options) {
  prepare_onnx_schemas();
  if (!model.has_graph() || model.graph().node_size() == 0)
    throw InputError(source + ": not an ONNX model (no graph with nodes)");
  if (options.batch_size > 0) fix_batch_dimension(model, options.batch_size);
  const int64_t opset = default_domain_opset(model, source);
  for (const auto& o : model.opset_import())
    if (!o.domain().empty() && o.domain() != "ai.onnx" && o.domain() != kQonnxDomain &&
        o.domain() != kMicrosoftDomain && o.domain() != "ai.onnx.ml")
      throw Unsupported(source + ": operator domain '" + o.domain() +
                        "' is not supported; expected the default ONNX domain, " + kQonnxDomain + " or " +
                        kMicrosoftDomain + " (its quantized operators)");
  // ONNX Runtime's quantized operators become the DequantizeLinear → float op → QuantizeLinear they are.
  expand_contrib_quantized_ops(model, source);

  // Unsupported ops first: ONNX's checker would reject a custom op without naming the node.
  for (int i = 0; i < model.graph().node_size(); ++i) {
    const auto& n = model.graph().node(i);
    const std::string domain = n.domain() == "ai.onnx" ? "" : n.domain();
    if (!is_supported_op(domain, n.op_type()))
      throw Unsupported(source + ": node '" + (n.name().empty() ? n.op_type() + "_" + std::to_string(i) : n.name()) +
                        "' (" + n.op_type() + "): operator " + (domain.empty() ? "" : domain + "::") + n.op_type() +
                        " is not supported; see docs/ops.md for the supported list");
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw InputError(source + ": invalid ONNX model: " + one_line(e.what()));
  }
  // ONNX's shape inference divides by a convolution's or pool's strides and dilations unchecked (a zero stride
  // is a division by zero inside libonnx): each must be at least 1.
  for (int i = 0; i < model.graph().node_size(); ++i) {
    const auto& n = model.graph().node(i);
    for (const auto& a : n.attribute())
      if (a.name() == "strides" || a.name() == "dilations")
        for (int64_t v : a.ints())
          if (v < 1)
            throw InputError(
                source + ": node '" + (n.name().empty() ? n.op_type() + "_" + std::to_string(i) : n.name()) + "' (" +
                n.op_type() + "): " + a.name() + " holds " + std::to_string(v) + "; expected values of at least 1");
  }
  try {
    // Strict: a node whose inputs contradict its inferred shapes is an error, not a silent guess.
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, true));
  } catch (const std::exception& e) {
    throw InputError(source + ": inconsistent shapes or types: " + one_line(e.what()));
  }

  const auto& g = model.graph();
  Graph graph;
  graph.name = g.name();
  graph.source = source;
  graph.opset = opset;
  for (const auto& init : g.initializer())
    graph.initializers.emplace(init.name(), tensor_from_proto(init, source + ": initializer '" + init.name() + "'"));
  for (const auto& v : g.input())
    if (!graph.initializers.count(v.name())) graph.inputs.push_back(value_info_from(v, source));
  for (const auto& v : g.output()) graph.outputs.push_back(value_info_from(v, source));
  for (const auto& v : g.value_info())
    if (v.type().has_tensor_type()) graph.value_info.emplace(v.name(), value_info_from(v, source));

  std::set<std::string> defined;
  for (const auto& v : graph.inputs) defined.insert(v.name);
  for (const auto& [name, t] : graph.initializers) defined.insert(name);
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    Node node;
    node.name = n.name().empty() ? n.op_type() + "_" + std::to_string(i) : n.name();
    node.op_type = n.op_type();
    node.domain = n.domain() == "ai.onnx" ? "" : n.domain();
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    const std::string context = source + ": " + node.describe();
    for (const auto& a : n.attribute()) node.attributes.emplace(a.name(), attribute_from(a, context));
    for (const auto& in : node.inputs)
      if (!in.empty() && !defined.count(in))
        throw InputError(context + ": input '" + in +
                         "' is neither a graph input, an initializer nor an earlier node's output");
    for (const auto& out : node.outputs)
      if (!out.empty()) defined.insert(out);
    graph.nodes.push_back(std::move(node));
  }
  for (const auto& v : graph.outputs)
    if (!defined.count(v.name)) throw InputError(source + ": graph output '" + v.name + "' is produced by no node");
  check_contractions(graph);
  check_finite_parameters(graph);
  return graph;
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& p, const std::string& context) {
  using TP = onnx::TensorProto;
  if (p.data_location() == TP::EXTERNAL)
    throw Unsupported(context + ": external tensor data is not supported; save the model with the data embedded");
  const DType dtype = dtype_from_onnx(p.data_type(), context);
  Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape)
    if (d < 0) throw InputError(context + ": negative dimension in shape " + shape_to_string(shape));
  const int64_t n = element_count(shape);
  constexpr int64_t kMaxElements = int64_t{1} << 31;
  if (n > kMaxElements)
    throw InputError(context + ": " + std::to_string(n) + " elements exceed the limit of 2^31 per tensor");
  const bool raw = p.has_raw_data();
  const std::string& bytes = p.raw_data();
  auto widen = [&](auto narrow) { return std::vector<int64_t>(narrow.begin(), narrow.end()); };
  switch (p.data_type()) {
    case TP::FLOAT:
      return Tensor::of_floats(
          shape, raw ? from_raw<float>(bytes, n, context) : from_field<float>(p.float_data(), n, context));
    case TP::INT64:
      return Tensor::of_ints(
          dtype, shape, raw ? from_raw<int64_t>(bytes, n, context) : from_field<int64_t>(p.int64_data(), n, context));
    case TP::INT8:
      return Tensor::of_ints(
          dtype, shape,
          raw ? widen(from_raw<int8_t>(bytes, n, context)) : from_field<int64_t>(p.int32_data(), n, context));
    case TP::UINT8:
      return Tensor::of_ints(
          dtype, shape,
          raw ? widen(from_raw<uint8_t>(bytes, n, context)) : from_field<int64_t>(p.int32_data(), n, context));
    case TP::BOOL:
      return Tensor::of_ints(
          dtype, shape,
          raw ? widen(from_raw<uint8_t>(bytes, n, context)) : from_field<int64_t>(p.int32_data(), n, context));
    case TP::INT16:
      return Tensor::of_ints(
          dtype, shape,
          raw ? widen(from_raw<int16_t>(bytes, n, context)) : from_field<int64_t>(p.int32_data(), n, context));
    case TP::UINT16:
      return Tensor::of_ints(
          dtype, shape,
          raw ? widen(from_raw<uint16_t>(bytes, n, context)) : from_field<int64_t>(p.int32_data(), n, context));
    case TP::INT32:
      return Tensor::of_ints(
          dtype, shape,
          raw ? widen(from_raw<int32_t>(bytes, n, context)) : from_field<int64_t>(p.int32_data(), n, context));
  }
  throw InputError(context + ": unsupported element type");
}

Tensor read_tensor_pb(const std::string& path) {
  onnx::TensorProto proto;
  const std::string bytes = read_file_bytes(path);
  if (!proto.ParseFromString(bytes)) throw InputError(path + ": not a valid ONNX TensorProto");
  return tensor_from_proto(proto, path);
}

Graph import_onnx_bytes(const std::string& bytes, const std::string& source_name, const ImportOptions& options) {
  onnx::ModelProto model;
  if (bytes.empty()) throw InputError(source_name + ": empty file; expected an ONNX model");
  if (!model.ParseFromString(bytes))
    throw InputError(source_name + ": not an ONNX model (the protobuf is truncated or corrupt)");
  return convert(model, source_name, options);
}

Graph import_onnx(const std::string& path, const ImportOptions& options) {
  return import_onnx_bytes(read_file_bytes(path), path, options);
}

}  // namespace chipref
