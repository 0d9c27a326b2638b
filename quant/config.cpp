#include "quant/config.hpp"

#include "core/yaml_reader.hpp"
#include "quant/config_keys.hpp"

#include <fnmatch.h>
#include <regex.h>
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

// glibc's regcomp copies an atom once for every repetition a bound allows, so nested bounds multiply:
// "((a{100}){100}){100}" compiles to a million states (200 MB) and ".{32767}{32767}" exhausts memory (found by
// fuzz_quant_config). A node-name pattern never needs that many, so the expansion is bounded before compiling.
constexpr std::size_t kMaxRegexStates = 10000;

// An upper estimate of the states regcomp builds for POSIX extended `pattern`: one per atom, a group's atoms
// counted once per repetition its bound allows ({n}: n, {n,}: n + 1, {n,m}: m, '+': 2). Saturates just above
// kMaxRegexStates; a malformed pattern gets some estimate and is then refused by regcomp itself.
std::size_t regex_states(const std::string& p) {
  const std::size_t cap = kMaxRegexStates + 1;
  std::vector<std::size_t> group_sums{0};  // the open groups, innermost last
  std::size_t last = 0;                    // the states of the atom a following repetition applies to
  const auto add_atom = [&](std::size_t states) {
    last = std::min(states, cap);
    group_sums.back() = std::min(group_sums.back() + last, cap);
  };
  const auto repeat_last = [&](std::size_t copies) {
    const std::size_t repeated = std::min(last * std::max<std::size_t>(copies, 1), cap);
    group_sums.back() = std::min(group_sums.back() - last + repeated, cap);
    last = repeated;
  };
  const auto digits = [&](std::size_t& i) {
    std::size_t value = 0;
    while (i < p.size() && std::isdigit(static_cast<unsigned char>(p[i])))
      value = std::min<std::size_t>(value * 10 + static_cast<std::size_t>(p[i++] - '0'), 1u << 20);
    return value;
  };
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      ++i;
      add_atom(1);
    } else if (c == '[') {  // a bracket expression is one atom: skip to its closing ']'
      std::size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') ++j;
      while (j < p.size() && p[j] != ']') {
        if (p[j] == '[' && j + 1 < p.size() && (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
          const std::size_t end = p.find(std::string{p[j + 1], ']'}, j + 2);
          j = end == std::string::npos ? p.size() : end + 1;
        }
        ++j;
      }
      i = j;
      add_atom(1);
    } else if (c == '(') {
      group_sums.push_back(0);
      last = 0;
    } else if (c == ')' && group_sums.size() > 1) {
      const std::size_t group = group_sums.back() + 1;
      group_sums.pop_back();
      add_atom(group);
    } else if (c == '|') {
      last = 0;
    } else if (c == '*' || c == '?') {
      continue;
    } else if (c == '+') {
      repeat_last(2);
    } else if (c == '{') {
      std::size_t j = i + 1;
      const std::size_t low = digits(j);
      std::size_t copies = low;
      if (j < p.size() && p[j] == ',') {
        ++j;
        copies = j < p.size() && std::isdigit(static_cast<unsigned char>(p[j])) ? digits(j) : low + 1;
      }
      if (j < p.size() && p[j] == '}') {
        repeat_last(copies);
        i = j;
      } else {
        add_atom(1);
      }
    } else {
      add_atom(1);
    }
  }
  std::size_t total = 0;
  for (const std::size_t s : group_sums) total = std::min(total + s, cap);
  return total;
}

// Anchored so that the pattern names whole node names, like a glob does.
std::shared_ptr<const void> compile_node_regex(const Reader& r, const YAML::Node& at, const std::string& pattern) {
  if (regex_states(pattern) > kMaxRegexStates)
    r.fail(at, "regular expression '" + pattern + "' repeats too much: its bounds ({n,m}) would expand past " +
                   std::to_string(kMaxRegexStates) + " states; a node-name pattern needs far fewer");
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
