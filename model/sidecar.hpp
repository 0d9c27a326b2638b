#pragma once
// The small YAML file beside a model (MODEL.yaml next to MODEL.onnx) recording how its input was
// prepared in training: mean and std, and any other preprocessing key (docs/data.md). chipref eval and
// quantize apply it unless --preprocess or --mean/--std are given.

#include <optional>
#include <string>

#include "model/io/preprocess.hpp"

namespace chipref {

std::string sidecar_path(const std::string& model_path);  // "dir/name.yaml" for "dir/name.onnx"
// nullopt when there is no sidecar. A sidecar with a missing or malformed mean/std or other preprocessing
// key is an InputError naming file:line:column; keys that are not preprocessing keys are notes, ignored.
std::optional<Preprocess> read_sidecar_preprocess(const std::string& model_path);
// The sidecar's text for `p` (the keys of a preprocessing file, plus `model`), after a comment line.
std::string sidecar_text(const Preprocess& p, const std::string& model, const std::string& comment);

// The normalisation a float model's inputs get, and where it came from: `given` (named by
// `given_source`: "flags", a sweep file), else the model's sidecar, else none (mean 0, std 1) with a
// warning on stderr, once per process, since a model trained on normalised inputs then scores near
// chance without any other sign.
struct NormalisationChoice {
  Preprocess norm;
  std::string source;  // given_source, the sidecar's path, or "none"
};
NormalisationChoice choose_normalisation(const std::string& model_path, const std::optional<Preprocess>& given,
                                         const std::string& given_source);

}  // namespace chipref
