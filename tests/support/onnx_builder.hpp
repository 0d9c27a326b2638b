#pragma once
// Small ONNX models written in C++ for the lowering and engine tests: initializers, nodes, attributes,
// a model with input x [batch, 4, 6], and inputs for it.

#include <onnx/onnx_pb.h>

#include <random>
#include <string>
#include <vector>

#include "model/tensor.hpp"

namespace chipref::testing {

inline void add_float(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                      std::mt19937_64& rng) {
  onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) t->add_dims(d), n *= d;
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
}

// An int64 initializer: a vector of `values`, or with `scalar` a rank-0 tensor of the one value.
inline void add_ints(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& values,
                     bool scalar = false) {
  onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  if (!scalar) t->add_dims(static_cast<int64_t>(values.size()));
  for (int64_t v : values) t->add_int64_data(v);
}

inline onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& type, const std::string& name,
                                 std::vector<std::string> ins, std::string out) {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(type);
  n->set_name(name);
  for (const auto& i : ins) n->add_input(i);
  n->add_output(out);
  return n;
}

inline void set_attr(onnx::NodeProto* n, const std::string& key, std::vector<int64_t> ints, bool single = false) {
  auto* a = n->add_attribute();
  a->set_name(key);
  if (single) {
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(ints.at(0));
  } else {
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : ints) a->add_ints(v);
  }
}

inline void add_io(onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) {
    auto* dim = t->mutable_shape()->add_dim();
    if (d < 0)
      dim->set_dim_param("batch");
    else
      dim->set_dim_value(d);
  }
}

// A model at `opset` with graph input x [batch, 4, 6] and output y of `out_dims`; returns its graph.
inline onnx::GraphProto* start_model(onnx::ModelProto& m, const std::string& name, std::vector<int64_t> out_dims,
                                     int opset = 13) {
  m.set_ir_version(opset >= 17 ? 8 : 7);
  m.add_opset_import()->set_version(opset);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name(name);
  add_io(g->add_input(), "x", {-1, 4, 6});
  add_io(g->add_output(), "y", std::move(out_dims));
  return g;
}

inline Tensor random_inputs(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor t = Tensor::zeros(DType::float32, {n, 4, 6});
  for (float& v : t.floats) v = normal(rng);
  return t;
}
inline void set_float_attr(onnx::NodeProto* n, const std::string& key, float v) {
  auto* a = n->add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

// A network of the ops issue 25 added, for the engines' equality tests: a per-channel constant Mul (a
// depthwise 1×1 conv), a squeeze-excitation gate (ReduceMean, 1×1 conv, HardSigmoid, broadcast Mul),
// HardSwish, a standalone Relu (a clamp), a Concat of two quantizations (a rescale), LeakyRelu and a
// Sub. Input x [N, 4, 6], output y [N, 48].
inline std::string issue25_ops_model() {
  std::mt19937_64 rng(41);
  onnx::ModelProto m;
  onnx::GraphProto* g = start_model(m, "issue25_ops", {-1, 48}, 14);
  add_ints(g, "nchw", {0, 4, 2, 3});
  onnx::TensorProto* scale = g->add_initializer();
  scale->set_name("scale"), scale->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {4, 1, 1}) scale->add_dims(d);
  for (float v : {0.5f, -1.5f, 2.0f, 0.25f}) scale->add_float_data(v);
  add_float(g, "w_se", {4, 4, 1, 1}, rng);
  add_float(g, "b_se", {4}, rng);
  add_node(g, "Reshape", "/to_nchw", {"x", "nchw"}, "x4");
  add_node(g, "Mul", "/layer_scale", {"x4", "scale"}, "a");
  onnx::NodeProto* mean = add_node(g, "ReduceMean", "/se/ReduceMean", {"a"}, "pooled");
  set_attr(mean, "axes", {2, 3});
  add_node(g, "Conv", "/se/fc", {"pooled", "w_se", "b_se"}, "f");
  add_node(g, "HardSigmoid", "/se/gate", {"f"}, "gate");
  add_node(g, "Mul", "/se/Mul", {"a", "gate"}, "se");
  add_node(g, "HardSwish", "/hswish", {"se"}, "hs");
  add_node(g, "Relu", "/relu", {"x4"}, "r");
  set_attr(add_node(g, "Concat", "/cat", {"r", "hs"}, "cat"), "axis", {1}, true);
  add_node(g, "LeakyRelu", "/leaky", {"cat"}, "lr");
  add_node(g, "Sub", "/diff", {"lr", "cat"}, "d");
  set_attr(add_node(g, "Flatten", "/flatten", {"d"}, "y"), "axis", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}

inline void add_float_values(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                             const std::vector<float>& values) {
  onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
}

// Attention weights over token ids, as torch exports a padded encoder's first steps: ids [1, 6] (int64,
// 0 is padding) → Gather of a table [10, 4] → scores e·eᵀ [1, 6, 6]; the padding mask Equal(ids, 0) →
// Reshape [1, 1, 6] (→ Expand [1, 6, 6] with `expand_mask`) → Cast bool → Where(mask, `masked_value`, 0)
// → Mul by 1 → Add to the scores → Softmax: y [1, 6, 6]. `masked_value` −∞ is the additive mask.
inline std::string token_attention_model(bool expand_mask, float masked_value) {
  std::mt19937_64 rng(53);
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("token_attention");
  add_io(g->add_input(), "ids", {1, 6});
  g->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  add_io(g->add_output(), "y", {1, 6, 6});
  add_float(g, "table", {10, 4}, rng);
  add_ints(g, "pad_id", {0}, true);
  add_ints(g, "keys_shape", {1, 1, 6});
  add_ints(g, "scores_shape", {1, 6, 6});
  add_float_values(g, "masked_value", {}, {masked_value});
  add_float_values(g, "zero", {}, {0.0f});
  add_float_values(g, "one", {}, {1.0f});
  add_node(g, "Gather", "/embed", {"table", "ids"}, "e");
  set_attr(add_node(g, "Transpose", "/keys", {"e"}, "et"), "perm", {0, 2, 1});
  add_node(g, "MatMul", "/scores", {"e", "et"}, "s");
  add_node(g, "Equal", "/padding", {"ids", "pad_id"}, "pad");
  add_node(g, "Reshape", "/per_key", {"pad", "keys_shape"}, "pad3");
  std::string mask = "pad3";
  if (expand_mask) add_node(g, "Expand", "/per_score", {"pad3", "scores_shape"}, "padx"), mask = "padx";
  set_attr(add_node(g, "Cast", "/as_bool", {mask}, "m"), "to", {onnx::TensorProto::BOOL}, true);
  add_node(g, "Where", "/additive_mask", {"m", "masked_value", "zero"}, "am");
  add_node(g, "Mul", "/mask_scale", {"am", "one"}, "am1");
  add_node(g, "Add", "/masked_scores", {"s", "am1"}, "sm");
  set_attr(add_node(g, "Softmax", "/softmax", {"sm"}, "y"), "axis", {-1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}

// Token ids [count, 6] in [1, 10), each row padded with 0 after a length of (row mod 7) ids: every padding
// length from none to all of the row.
inline Tensor padded_token_ids(int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Tensor t = Tensor::zeros(DType::int64, {count, 6});
  for (int64_t r = 0; r < count; ++r)
    for (int64_t i = 0; i < r % 7; ++i) t.ints[r * 6 + i] = 1 + static_cast<int64_t>(rng() % 9);
  return t;
}

}  // namespace chipref::testing
