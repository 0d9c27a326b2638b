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

// The normalisation a float model's inputs get, and where it came from: `given` (named by
// `given_source`: "flags", a sweep file), else the model's sidecar, else none (mean 0, std 1) with a
// warning on stderr, once per process, since a model trained on normalised inputs then scores near
// chance without any other sign.
struct NormalisationChoice {
  Normalisation norm;
  std::string source;  // given_source, the sidecar's path, or "none"
};
NormalisationChoice choose_normalisation(const std::string& model_path, const std::optional<Normalisation>& given,
                                         const std::string& given_source);

}  // namespace chipref
