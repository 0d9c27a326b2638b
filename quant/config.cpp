#include "quant/config.hpp"

#include "core/yaml_reader.hpp"
#include "quant/config_keys.hpp"

#include <fnmatch.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

namespace chipref {

namespace {

using Reader = YamlReader;

using Setter = std::function<void(LayerQuantConfig&)>;

// Reads the sections present in `n` (the defaults or one override) into one setter per key, each key as
// its declaration says (quant/config_keys.hpp).
void read_sections(const Reader& r, const YAML::Node& n, std::vector<Setter>& setters) {
  for (const std::string& section : config_sections()) {
    const YAML::Node s = n[section];
    if (!s) continue;
    r.expect_map(s, section, config_fields(section));
    for (const ConfigKey& key : config_keys()) {
      if (key.section != section || !s[key.field]) continue;
      const YAML::Node at = s[key.field];
      ConfigValue v;
      switch (key.kind) {
        case ConfigKey::Kind::integer:
          v.integer = r.integer(at, key.field, static_cast<int>(key.min), static_cast<int>(key.max));
          break;
        case ConfigKey::Kind::number:
          v.number = r.number(at, key.field, key.min, key.max);
          break;
        case ConfigKey::Kind::boolean:
          v.boolean = r.boolean(at, key.field);
          break;
        case ConfigKey::Kind::choice:
          v.text = r.choice(at, key.field, key.choices());
          break;
        case ConfigKey::Kind::text:
          v.text = r.text(at, key.field);
          break;
      }
      try {  // a value the declaration's setter refuses (an N:M pattern it cannot parse) is refused here, at its
             // position
        LayerQuantConfig probe;
        key.set(probe, v);
      } catch (const InputError& e) {
        r.fail(at, e.what());
      }
      setters.push_back([set = key.set, v](LayerQuantConfig& c) { set(c, v); });
    }
  }
}

// RE2, not the C library's regcomp: a pattern comes from a user's file, and glibc's compile time explodes on
// short patterns (fuzz_quant_config found ".?{,2767}" taking minutes and "a*+++++" never finishing), while
// RE2 bounds both the compile (memory, counted repetitions up to 1000) and the match (linear time).
std::shared_ptr<const void> compile_node_regex(const Reader& r, const YAML::Node& at, const std::string& pattern) {
  // glibc read "{,n}" as {0,n}; RE2 reads it as the literal text, which would silently match nothing.
  if (pattern.find("{,") != std::string::npos)
    r.fail(at, "regular expression '" + pattern + "': write a bound with no minimum as {0,n}, not {,n}");
  RE2::Options options;
  options.set_posix_syntax(true);  // POSIX extended syntax, without Perl's \d, \b and lookarounds
  options.set_log_errors(false);
  options.set_max_mem(int64_t{8} << 20);
  auto re = std::make_shared<const RE2>(pattern, options);
  if (!re->ok())
    r.fail(at, "invalid regular expression '" + pattern + "': " + re->error() +
                   " (POSIX extended syntax; bounds {n,m} up to 1000, nested ones multiplying to at most 1000)");
  return re;
}

}  // namespace

bool LayerOverride::matches(const std::string& node_name) const {
  if (regex) return RE2::FullMatch(node_name, *static_cast<const RE2*>(regex.get()));
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
  if (!root || root.IsNull())
    throw InputError(source + ": empty config; expected a mapping with 'defaults' (see docs/config.md)");
  r.expect_map(root, "the config", {"defaults", "layers", "calibration", "hardware"});
  if (const YAML::Node d = root["defaults"]) {
    r.expect_map(d, "defaults", config_sections());
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
      std::vector<std::string> keys = config_sections();
      keys.insert(keys.begin(), {"match", "match_regex"});
      r.expect_map(entry, "a layer override", keys);
      if (!entry["match"] == !entry["match_regex"])
        r.fail(entry,
               "a layer override needs exactly one of 'match: GLOB' or 'match_regex: REGEX' (a node-name pattern)");
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

std::vector<const LayerOverride*> unmatched_overrides(const QuantConfig& config,
                                                      const std::vector<std::string>& node_names) {
  std::vector<const LayerOverride*> unmatched;
  for (const auto& o : config.overrides)
    if (std::none_of(node_names.begin(), node_names.end(), [&](const std::string& n) { return o.matches(n); }))
      unmatched.push_back(&o);
  return unmatched;
}

std::string unmatched_overrides_message(const QuantConfig& config, const Graph& graph) {
  std::vector<std::string> names;
  for (const Node& n : graph.nodes) names.push_back(n.name);
  std::string list;
  for (const LayerOverride* u : unmatched_overrides(config, names))
    list += (list.empty() ? "" : ", ") + ("'" + u->pattern + "' (" + u->where + ")");
  return list.empty() ? list : "layer patterns match no node of " + graph.source + ": " + list;
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
