#include "model/sidecar.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "core/error.hpp"
#include "core/yaml_reader.hpp"

namespace chipref {

std::string sidecar_path(const std::string& model_path) {
  return std::filesystem::path(model_path).replace_extension(".yaml").string();
}

std::optional<Normalisation> read_sidecar_normalisation(const std::string& model_path) {
  const std::string path = sidecar_path(model_path);
  if (!std::filesystem::exists(path)) return std::nullopt;
  const YAML::Node root = load_yaml_file(path, "sidecar file");
  auto number = [&](const char* key) {
    const YAML::Node n = root[key];
    if (!n) throw InputError(path + ": key '" + key + "' is missing; expected a number");
    try {
      return n.as<float>();
    } catch (const YAML::Exception&) {
      throw InputError(path + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1) +
                       ": '" + key + "' must be a number");
    }
  };
  if (!root.IsMap()) throw InputError(path + ": expected a YAML mapping with 'mean' and 'std'");
  Normalisation n{number("mean"), number("std")};
  if (!std::isfinite(n.mean)) throw InputError(path + ": 'mean' must be a finite number");
  if (!std::isfinite(n.std) || !(n.std > 0)) throw InputError(path + ": 'std' must be a finite number > 0");
  return n;
}

NormalisationChoice choose_normalisation(const std::string& model_path, const std::optional<Normalisation>& given,
                                         const std::string& given_source) {
  if (given) return {*given, given_source};
  if (const std::optional<Normalisation> sidecar = read_sidecar_normalisation(model_path))
    return {*sidecar, sidecar_path(model_path)};
  static std::once_flag warned;
  std::call_once(warned, [&] {
    std::fprintf(stderr,
                 "chipref: warning: %s has no input normalisation (none given, and no sidecar %s): inputs go in as "
                 "pixels scaled to [0, 1]; "
                 "a model trained on normalised inputs scores near chance this way\n",
                 model_path.c_str(), sidecar_path(model_path).c_str());
  });
  return {Normalisation{}, "none"};
}

}  // namespace chipref
