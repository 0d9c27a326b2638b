#include "model/sidecar.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>

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
      throw InputError(path + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1) + ": '" + key +
                       "' must be a number");
    }
  };
  if (!root.IsMap()) throw InputError(path + ": expected a YAML mapping with 'mean' and 'std'");
  Normalisation n{number("mean"), number("std")};
  if (!std::isfinite(n.mean)) throw InputError(path + ": 'mean' must be a finite number");
  if (!std::isfinite(n.std) || !(n.std > 0)) throw InputError(path + ": 'std' must be a finite number > 0");
  return n;
}

}  // namespace chipref
