#include "model/sidecar.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
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

std::optional<Preprocess> read_sidecar_preprocess(const std::string& model_path) {
  const std::string path = sidecar_path(model_path);
  if (!std::filesystem::exists(path)) return std::nullopt;
  const YAML::Node root = load_yaml_file(path, "sidecar file");
  return read_yaml_document(path, [&] {
    const YamlReader r(path);
    if (!root.IsMap()) r.fail(root, "expected a YAML mapping with 'mean' and 'std'");
    // The preprocessing keys; the others (model, dataset, a recorded accuracy) are notes for people.
    YAML::Node keys(YAML::NodeType::Map);
    for (const auto& kv : root)
      if (kv.first.IsScalar() &&
          std::find(kPreprocessKeys.begin(), kPreprocessKeys.end(), kv.first.Scalar()) != kPreprocessKeys.end())
        keys[kv.first] = kv.second;
    for (const char* key : {"mean", "std"})
      if (!root[key]) r.fail(root, std::string("key '") + key + "' is missing; expected a number or one per channel");
    return parse_preprocess(keys, r);
  });
}

std::string sidecar_text(const Preprocess& p, const std::string& model, const std::string& comment) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "model" << YAML::Value << model;
  const auto numbers = [&](const char* key, const std::vector<float>& v) {
    out << YAML::Key << key << YAML::Value;
    // The shortest text that reads back as the same float (yaml-cpp's emitter would print 9 digits).
    const auto text = [](float x) {
      char buffer[32];
      return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, x).ptr);
    };
    if (v.size() == 1) {
      out << text(v[0]);
    } else {
      out << YAML::Flow << YAML::BeginSeq;
      for (const float x : v) out << text(x);
      out << YAML::EndSeq;
    }
  };
  numbers("mean", p.mean);
  numbers("std", p.std);
  if (p.resize_shorter) out << YAML::Key << "resize" << YAML::Value << p.resize_shorter;
  if (p.resize_height)
    out << YAML::Key << "resize" << YAML::Value << YAML::Flow << YAML::BeginSeq << p.resize_height << p.resize_width
        << YAML::EndSeq;
  if (p.crop_height)
    out << YAML::Key << "center_crop" << YAML::Value << YAML::Flow << YAML::BeginSeq << p.crop_height << p.crop_width
        << YAML::EndSeq;
  if (!p.scale_to_unit) out << YAML::Key << "scale" << YAML::Value << false;
  if (p.bgr) out << YAML::Key << "channel_order" << YAML::Value << "bgr";
  if (p.nhwc) out << YAML::Key << "layout" << YAML::Value << "nhwc";
  out << YAML::EndMap;
  return "# " + comment + "\n" + out.c_str() + "\n";
}

NormalisationChoice choose_normalisation(const std::string& model_path, const std::optional<Preprocess>& given,
                                         const std::string& given_source) {
  if (given) return {*given, given_source};
  if (const std::optional<Preprocess> sidecar = read_sidecar_preprocess(model_path))
    return {*sidecar, sidecar_path(model_path)};
  static std::once_flag warned;
  std::call_once(warned, [&] {
    std::fprintf(stderr,
                 "chipref: warning: %s has no input normalisation (none given, and no sidecar %s): inputs go in as "
                 "pixels scaled to [0, 1]; "
                 "a model trained on normalised inputs scores near chance this way\n",
                 model_path.c_str(), sidecar_path(model_path).c_str());
  });
  return {Preprocess{}, "none"};
}

}  // namespace chipref
