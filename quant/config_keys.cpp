#include "quant/config_keys.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace chipref {

ConfigKey choice_key(const char* section, const char* field, std::function<std::vector<std::string>()> names,
                     std::function<void(LayerQuantConfig&, const std::string&)> set,
                     std::function<std::string(const LayerQuantConfig&)> show, const char* meaning) {
  ConfigKey k{section, field, ConfigKey::Kind::choice, 0, 0, std::move(names), "", meaning, {}, std::move(show), ""};
  k.set = [set = std::move(set)](LayerQuantConfig& c, const ConfigValue& v) { set(c, v.text); };
  return k;
}

std::function<std::vector<std::string>()> fixed_choices(std::vector<std::string> names) {
  return [names = std::move(names)] { return names; };
}

const std::vector<std::string>& config_sections() {
  static const std::vector<std::string> sections = {"weights",     "activations", "requant",  "bias",
                                                    "accumulator", "nonlinear",   "sparsity", "format"};
  return sections;
}

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = [] {
    std::vector<ConfigKey> all;
    for (auto declared :
         {lowering_config_keys, calibrator_config_keys, nonlinear_config_keys, sparsity_config_keys,
          block_format_config_keys, weight_rounding_config_keys, equalization_config_keys, smoothing_config_keys})
      for (ConfigKey& k : declared()) all.push_back(std::move(k));
    std::vector<ConfigKey> ordered;
    for (const std::string& section : config_sections())
      for (const ConfigKey& k : all)
        if (k.section == section) ordered.push_back(k);
    if (ordered.size() != all.size())
      throw std::logic_error("a config key is declared in a section config_sections() does not list");
    return ordered;
  }();
  return keys;
}

std::vector<std::string> config_fields(const std::string& section) {
  std::vector<std::string> fields;
  for (const ConfigKey& k : config_keys())
    if (k.section == section) fields.push_back(k.field);
  return fields;
}

std::string number_text(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

std::string config_keys_markdown() {
  const LayerQuantConfig defaults;
  std::string table = "| key | values (default) | meaning |\n|---|---|---|\n";
  for (const ConfigKey& k : config_keys()) {
    std::string values;
    const std::string shown = k.show(defaults);
    switch (k.kind) {
      case ConfigKey::Kind::integer:
      case ConfigKey::Kind::number:
        values = number_text(k.min) + ".." + number_text(k.max) + " (" + shown + ")";
        break;
      case ConfigKey::Kind::boolean:
        values = "bool (" + shown + ")";
        break;
      case ConfigKey::Kind::choice:
        for (const std::string& c : k.choices()) values += (values.empty() ? "`" : ", `") + c + "`";
        values += " (`" + shown + "`)";
        break;
      case ConfigKey::Kind::text:
        values = k.values + " (" + shown + ")";
        break;
    }
    table += "| `" + k.name() + "` | " + values + " | " + k.meaning + " |\n";
  }
  return table;
}

}  // namespace chipref
