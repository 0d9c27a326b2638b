#include "quant/config.hpp"

#include "quant/calibrators.hpp"
#include "quant/sparsity.hpp"
#include "core/yaml_reader.hpp"

#include <fnmatch.h>
#include <regex.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace chipref {

namespace {

using Reader = YamlReader;

template <class Registry>
std::vector<std::string> names_of(const Registry& r) {
  std::vector<std::string> names;
  for (const auto& entry : r) names.push_back(entry.first);
  return names;
}
const std::vector<std::string> kFlavours = {"gemmlowp", "single", "float"};
const std::vector<std::string> kRoundings = {"half_even", "half_away", "half_up", "floor", "toward_zero"};
const std::vector<std::string> kPolicies = {"wrap", "saturate", "error"};

using Setter = std::function<void(LayerQuantConfig&)>;

// Reads the sections present in `n` (the defaults or one override) into one setter per key.
void read_sections(const Reader& r, const YAML::Node& n, std::vector<Setter>& setters) {
  auto set = [&](auto member, auto value) { setters.push_back([member, value](LayerQuantConfig& c) { c.*member = value; }); };
  if (const YAML::Node w = n["weights"]) {
    r.expect_map(w, "weights", {"bits", "granularity", "calibrator"});
    if (w["bits"]) set(&LayerQuantConfig::weight_bits, r.integer(w["bits"], "bits", 2, 16));
    if (w["granularity"]) set(&LayerQuantConfig::weight_per_channel, r.choice(w["granularity"], "granularity", {"per_channel", "per_tensor"}) == "per_channel");
    if (w["calibrator"]) set(&LayerQuantConfig::weight_calibrator, r.choice(w["calibrator"], "calibrator", names_of(weight_calibrators())));
  }
  if (const YAML::Node a = n["activations"]) {
    r.expect_map(a, "activations", {"bits", "signed", "symmetric", "calibrator", "percentile"});
    if (a["bits"]) set(&LayerQuantConfig::activation_bits, r.integer(a["bits"], "bits", 2, 16));
    if (a["signed"]) set(&LayerQuantConfig::activation_signed, r.boolean(a["signed"], "signed"));
    if (a["symmetric"]) set(&LayerQuantConfig::activation_symmetric, r.boolean(a["symmetric"], "symmetric"));
    if (a["calibrator"]) set(&LayerQuantConfig::activation_calibrator, r.choice(a["calibrator"], "calibrator", names_of(activation_calibrators())));
    if (a["percentile"]) set(&LayerQuantConfig::activation_percentile, r.number(a["percentile"], "percentile", 50.0, 100.0));
  }
  if (const YAML::Node q = n["requant"]) {
    r.expect_map(q, "requant", {"flavour", "rounding", "multiplier_bits"});
    if (q["flavour"]) set(&LayerQuantConfig::requant_flavour, parse_requant_flavour(r.choice(q["flavour"], "flavour", kFlavours)));
    if (q["rounding"]) set(&LayerQuantConfig::requant_rounding, parse_rounding_mode(r.choice(q["rounding"], "rounding", kRoundings)));
    if (q["multiplier_bits"]) set(&LayerQuantConfig::multiplier_bits, r.integer(q["multiplier_bits"], "multiplier_bits", kMinMultiplierBits, kMaxMultiplierBits));
  }
  if (const YAML::Node b = n["bias"]) {
    r.expect_map(b, "bias", {"bits"});
    if (b["bits"]) set(&LayerQuantConfig::bias_bits, r.integer(b["bits"], "bits", 8, 32));
  }
  if (const YAML::Node nl = n["nonlinear"]) {
    r.expect_map(nl, "nonlinear", {"table_bits", "interpolate", "method"});
    if (nl["table_bits"]) set(&LayerQuantConfig::lut_table_bits, r.integer(nl["table_bits"], "table_bits", 0, 16));
    if (nl["method"]) set(&LayerQuantConfig::nonlinear_method, parse_nonlinear_method(r.choice(nl["method"], "method", {"lut", "poly"})));
    if (nl["interpolate"]) set(&LayerQuantConfig::lut_interpolate, r.boolean(nl["interpolate"], "interpolate"));
  }
  if (const YAML::Node sp = n["sparsity"]) {
    r.expect_map(sp, "sparsity", {"pattern", "stage"});
    if (sp["pattern"]) {
      const std::string text = r.text(sp["pattern"], "pattern");
      kernels::NmPattern p{0, 0};
      if (text != "dense") {
        try {
          p = parse_nm_pattern(text);
        } catch (const InputError& e) {
          r.fail(sp["pattern"], e.what());
        }
      }
      set(&LayerQuantConfig::sparsity, p);
    }
    if (sp["stage"]) set(&LayerQuantConfig::sparsity_on_codes, r.choice(sp["stage"], "stage", {"float", "codes"}) == "codes");
  }
  if (const YAML::Node acc = n["accumulator"]) {
    r.expect_map(acc, "accumulator", {"bits", "overflow"});
    if (acc["bits"]) set(&LayerQuantConfig::accumulator_bits, r.integer(acc["bits"], "bits", AccumulatorSpec::kMinBits, 32));
    if (acc["overflow"]) set(&LayerQuantConfig::accumulator_overflow, parse_overflow_policy(r.choice(acc["overflow"], "overflow", kPolicies)));
  }
}

const std::vector<std::string> kSectionKeys = {"weights", "activations", "requant", "bias", "accumulator", "nonlinear", "sparsity"};

// Anchored so that the pattern names whole node names, like a glob does.
std::shared_ptr<const void> compile_node_regex(const Reader& r, const YAML::Node& at, const std::string& pattern) {
  auto re = std::make_unique<regex_t>();
  const int status = regcomp(re.get(), ("^(" + pattern + ")$").c_str(), REG_EXTENDED | REG_NOSUB);
  if (status != 0) {  // nothing was compiled, so there is nothing to regfree
    char message[256];
    regerror(status, re.get(), message, sizeof message);
    r.fail(at, "invalid regular expression '" + pattern + "': " + message + " (POSIX extended syntax)");
  }
  return std::shared_ptr<const regex_t>(re.release(), [](const regex_t* p) {
    regfree(const_cast<regex_t*>(p));
    delete p;
  });
}

}  // namespace

bool LayerOverride::matches(const std::string& node_name) const {
  if (regex) return regexec(static_cast<const regex_t*>(regex.get()), node_name.c_str(), 0, nullptr, 0) == 0;
  return fnmatch(pattern.c_str(), node_name.c_str(), 0) == 0;
}

LayerQuantConfig QuantConfig::for_node(const std::string& node_name) const {
  LayerQuantConfig c = defaults;
  for (const auto& o : overrides)
    if (o.matches(node_name))
      for (const auto& set : o.setters) set(c);
  return c;
}

namespace {
QuantConfig parse_config_document(const std::string& text, const std::string& source) {
  const Reader r(source);
  const YAML::Node root = parse_yaml_text(text, source);
  QuantConfig config;
  config.source = source;
  if (!root || root.IsNull()) throw InputError(source + ": empty config; expected a mapping with 'defaults' (see docs/config.md)");
  r.expect_map(root, "the config", {"defaults", "layers", "calibration", "hardware"});
  if (const YAML::Node d = root["defaults"]) {
    r.expect_map(d, "defaults", kSectionKeys);
    std::vector<Setter> setters;
    read_sections(r, d, setters);
    for (const auto& set : setters) set(config.defaults);
  }
  if (const YAML::Node cal = root["calibration"]) {
    r.expect_map(cal, "calibration", {"images"});
    if (cal["images"]) config.calibration_images = r.integer(cal["images"], "images", 1, 60000);
  }
  if (const YAML::Node hw = root["hardware"]) {
    r.expect_map(hw, "hardware", {"mac_array", "fifo_depth"});
    if (const YAML::Node array = hw["mac_array"]) {
      r.expect_map(array, "hardware.mac_array", {"rows", "cols", "dataflow"});
      if (array["rows"]) config.hardware.mac_rows = r.integer(array["rows"], "rows", 1, 4096);
      if (array["cols"]) config.hardware.mac_cols = r.integer(array["cols"], "cols", 1, 4096);
      if (const YAML::Node d = array["dataflow"]) {
        try {
          config.hardware.dataflow = parse_dataflow(d.as<std::string>());
        } catch (const std::exception& e) {
          r.fail(d, e.what());
        }
      }
    }
    if (hw["fifo_depth"]) config.hardware.fifo_depth = r.integer(hw["fifo_depth"], "fifo_depth", 1, 1024);
  }
  if (const YAML::Node layers = root["layers"]) {
    if (!layers.IsSequence()) r.fail(layers, "'layers' must be a list of overrides, each with 'match' and sections");
    for (const auto& entry : layers) {
      std::vector<std::string> keys = kSectionKeys;
      keys.insert(keys.begin(), {"match", "match_regex"});
      r.expect_map(entry, "a layer override", keys);
      if (!entry["match"] == !entry["match_regex"])
        r.fail(entry, "a layer override needs exactly one of 'match: GLOB' or 'match_regex: REGEX' (a node-name pattern)");
      LayerOverride o;
      const YAML::Node pattern = entry["match"] ? entry["match"] : entry["match_regex"];
      if (!pattern.IsScalar()) r.fail(pattern, "the node-name pattern must be a string");
      o.pattern = pattern.as<std::string>();
      o.where = r.at(pattern);
      if (entry["match_regex"]) o.regex = compile_node_regex(r, pattern, o.pattern);
      read_sections(r, entry, o.setters);
      o.config = config.defaults;
      for (const auto& set : o.setters) set(o.config);
      config.overrides.push_back(std::move(o));
    }
  }
  return config;
}
}  // namespace

std::vector<const LayerOverride*> unmatched_overrides(const QuantConfig& config, const std::vector<std::string>& node_names) {
  std::vector<const LayerOverride*> unmatched;
  for (const auto& o : config.overrides)
    if (std::none_of(node_names.begin(), node_names.end(),
                     [&](const std::string& n) { return o.matches(n); }))
      unmatched.push_back(&o);
  return unmatched;
}

QuantConfig parse_quant_config(const std::string& text, const std::string& source) {
  return read_yaml_document(source, [&] { return parse_config_document(text, source); });
}

QuantConfig load_quant_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open config");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_quant_config(ss.str(), path);
}

}  // namespace chipref
