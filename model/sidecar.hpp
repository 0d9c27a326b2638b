#pragma once
// The small YAML file beside a model (MODEL.yaml next to MODEL.onnx) recording how its input was
// normalised in training. chipref eval applies it unless --mean/--std are given.

#include <optional>
#include <string>

#include "model/io/idx.hpp"

namespace chipref {

std::string sidecar_path(const std::string& model_path);  // "dir/name.yaml" for "dir/name.onnx"
// nullopt when there is no sidecar. A sidecar with a missing or malformed mean/std is an InputError
// naming file:line:column.
std::optional<Normalisation> read_sidecar_normalisation(const std::string& model_path);

}  // namespace chipref
