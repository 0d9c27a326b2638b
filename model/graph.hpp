#pragma once
// The float graph IR: what an ONNX model (float, QDQ or QONNX) becomes after import. Nodes are kept in
// topological order; tensors are referred to by name; initializers hold constant tensors.

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "model/tensor.hpp"

namespace chipref {

using AttributeValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                                    std::vector<std::string>, Tensor>;

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;                // "" for the default ONNX domain
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;  // "" marks an omitted optional output
  std::map<std::string, AttributeValue> attributes;

  bool has(const std::string& attr) const { return attributes.count(attr) != 0; }
  // Typed attribute access; a wrong type or a missing required attribute is an InputError naming the node.
  int64_t get_int(const std::string& attr, std::optional<int64_t> fallback = std::nullopt) const;
  float get_float(const std::string& attr, std::optional<float> fallback = std::nullopt) const;
  std::string get_string(const std::string& attr, std::optional<std::string> fallback = std::nullopt) const;
  std::vector<int64_t> get_ints(const std::string& attr,
                                std::optional<std::vector<int64_t>> fallback = std::nullopt) const;
  std::vector<float> get_floats(const std::string& attr) const;
  const Tensor& get_tensor(const std::string& attr) const;
  // "node 'conv1' (Conv)": how every error message names a node.
  std::string describe() const;
  bool has_input(size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
};

// A graph input or output: name, element type, and shape (-1 for a dimension not known statically).
struct ValueInfo {
  std::string name;
  DType dtype = DType::float32;
  Shape shape;
  std::vector<std::string> dim_names;  // per dimension: its symbolic name ("batch") if it has one, else ""
  bool shape_known = false;            // false when the model gives no shape at all (not even the rank)
};

struct Graph {
  std::string name;
  std::string source;             // the file it was imported from, for messages
  int64_t opset = 0;              // of the default domain
  std::vector<ValueInfo> inputs;  // excluding initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, Tensor> initializers;
  std::map<std::string, ValueInfo> value_info;  // inferred types and shapes of intermediate tensors
  std::vector<Node> nodes;                      // topological order

  const ValueInfo* find_value(const std::string& name) const;
  // The shape of a tensor as far as it is known: an initializer's, or the inferred one (dimensions
  // may be -1); nullptr when not even the rank is known.
  const Shape* known_shape(const std::string& name) const;
};

}  // namespace chipref
