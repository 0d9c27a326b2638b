#include "model/graph.hpp"

namespace chipref {

namespace {
template <class T>
const T& typed_attribute(const Node& node, const std::string& attr, const char* type_name) {
  const auto it = node.attributes.find(attr);
  const T* value = it == node.attributes.end() ? nullptr : std::get_if<T>(&it->second);
  if (!value)
    throw InputError(node.describe() + ": attribute '" + attr + "' " +
                     (it == node.attributes.end() ? "is missing" : "has the wrong type") + "; expected " + type_name);
  return *value;
}

template <class T>
T attribute_or(const Node& node, const std::string& attr, const std::optional<T>& fallback, const char* type_name) {
  if (!node.has(attr) && fallback) return *fallback;
  return typed_attribute<T>(node, attr, type_name);
}
}  // namespace

std::string Node::describe() const { return "node '" + name + "' (" + op_type + ")"; }

int64_t Node::get_int(const std::string& attr, std::optional<int64_t> fallback) const {
  return attribute_or<int64_t>(*this, attr, fallback, "an integer");
}
float Node::get_float(const std::string& attr, std::optional<float> fallback) const {
  return attribute_or<float>(*this, attr, fallback, "a float");
}
std::string Node::get_string(const std::string& attr, std::optional<std::string> fallback) const {
  return attribute_or<std::string>(*this, attr, fallback, "a string");
}
std::vector<int64_t> Node::get_ints(const std::string& attr, std::optional<std::vector<int64_t>> fallback) const {
  return attribute_or<std::vector<int64_t>>(*this, attr, fallback, "a list of integers");
}
std::vector<float> Node::get_floats(const std::string& attr) const {
  return typed_attribute<std::vector<float>>(*this, attr, "a list of floats");
}
const Tensor& Node::get_tensor(const std::string& attr) const {
  return typed_attribute<Tensor>(*this, attr, "a tensor");
}

const ValueInfo* Graph::find_value(const std::string& name) const {
  for (const auto& v : inputs)
    if (v.name == name) return &v;
  for (const auto& v : outputs)
    if (v.name == name) return &v;
  const auto it = value_info.find(name);
  return it == value_info.end() ? nullptr : &it->second;
}

const Shape* Graph::known_shape(const std::string& name) const {
  if (auto it = initializers.find(name); it != initializers.end()) return &it->second.shape;
  const ValueInfo* v = find_value(name);
  return v && v->shape_known ? &v->shape : nullptr;
}

}  // namespace chipref
