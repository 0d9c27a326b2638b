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
// fuzz_quant_config). Copies a bound makes optional cost more than their number, and optional copies of an atom
// that can match nothing far more: measured with glibc 2.36, "a{3000}" compiles in 2 ms, "a{0,2000}" in 0.18 s,
// "a?{0,100}" in 36 ms, "a?{0,300}" in 1.8 s and ".?{,2767}" (found by fuzz_quant_config) in over 5 minutes:
// time grows with the square of the optional copies and the cube of the chain of ones that may match nothing
// (at both limits below, "a?{0,100}b{0,900}" compiles in 0.3 s).
// A node-name pattern never needs many of any of them, so all three are bounded before compiling.
constexpr std::size_t kMaxRegexStates = 10000;
constexpr std::size_t kMaxRegexOptionalStates = 1000;
constexpr std::size_t kMaxRegexOptionalEmptyStates = 100;

struct RegexExpansion {
  std::size_t states = 0;                 // after every bound is expanded
  std::size_t optional_states = 0;        // of those, the ones in copies a bound makes optional ({n,m}: m - n)
  std::size_t optional_empty_states = 0;  // of those, the ones in copies of an atom that can match nothing
  bool can_be_empty = false;
};

// An upper estimate of what regcomp builds for POSIX extended `pattern`: one state per atom, a group's states
// counted once per repetition its bound allows ({n}: n, {n,}: n + 1, {n,m}: m, '+': 2); the copies beyond the
// lower bound counted again as optional, with every optional state inside the repeated atom. Saturates just
// above kMaxRegexStates; a malformed pattern gets some estimate and is then refused by regcomp itself.
RegexExpansion regex_expansion(const std::string& p) {
  const std::size_t cap = kMaxRegexStates + 1;
  const auto add = [cap](std::size_t a, std::size_t b) { return std::min(a + b, cap); };
  const auto times = [cap](std::size_t a, std::size_t b) { return b != 0 && a > cap / b ? cap : std::min(a * b, cap); };
  struct Group {
    RegexExpansion sum;
    std::size_t atoms_not_empty = 0;  // in the current alternative
    bool an_alternative_can_be_empty = false;
  };
  std::vector<Group> groups{{}};  // the open groups, innermost last
  RegexExpansion last;            // the atom a following repetition applies to
  bool have_last = false;
  const auto add_atom = [&](RegexExpansion atom) {
    Group& g = groups.back();
    g.sum.states = add(g.sum.states, atom.states);
    g.sum.optional_states = add(g.sum.optional_states, atom.optional_states);
    g.sum.optional_empty_states = add(g.sum.optional_empty_states, atom.optional_empty_states);
    g.atoms_not_empty += atom.can_be_empty ? 0 : 1;
    last = atom;
    have_last = true;
  };
  const auto replace_last = [&](RegexExpansion atom) {
    if (!have_last) return;
    Group& g = groups.back();
    g.sum.states -= std::min(g.sum.states, last.states);
    g.sum.optional_states -= std::min(g.sum.optional_states, last.optional_states);
    g.sum.optional_empty_states -= std::min(g.sum.optional_empty_states, last.optional_empty_states);
    g.atoms_not_empty -= last.can_be_empty ? 0 : 1;
    add_atom(atom);
  };
  // {low,copies}; an unbounded repetition ({n,}, '+') is copies and a loop, so none of its copies is optional.
  const auto repeat_last = [&](std::size_t low, std::size_t copies, bool unbounded) {
    copies = std::max({copies, low, std::size_t{1}});
    const std::size_t optional_copies = unbounded ? 0 : copies - low;
    replace_last(
        {times(last.states, copies), add(times(last.optional_states, copies), times(last.states, optional_copies)),
         add(times(last.optional_empty_states, copies), last.can_be_empty ? times(last.states, optional_copies) : 0),
         last.can_be_empty || low == 0});
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
      add_atom({1, 0, 0, false});
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
      add_atom({1, 0, 0, false});
    } else if (c == '(') {
      groups.push_back({});
      have_last = false;
    } else if (c == ')' && groups.size() > 1) {
      const Group g = groups.back();
      groups.pop_back();
      add_atom({add(g.sum.states, 1), g.sum.optional_states, g.sum.optional_empty_states,
                g.an_alternative_can_be_empty || g.atoms_not_empty == 0});
    } else if (c == '|') {
      Group& g = groups.back();
      g.an_alternative_can_be_empty = g.an_alternative_can_be_empty || g.atoms_not_empty == 0;
      g.atoms_not_empty = 0;
      have_last = false;
    } else if (c == '*' || c == '?') {  // a loop or a skip, not copies (a chain of 1000 "a?" compiles in 50 ms)
      if (have_last && !last.can_be_empty)
        replace_last({last.states, last.optional_states, last.optional_empty_states, true});
    } else if (c == '+') {
      if (have_last) repeat_last(1, 2, true);
    } else if (c == '{') {
      std::size_t j = i + 1;
      const std::size_t low = digits(j);
      std::size_t copies = low;
      bool unbounded = false;
      if (j < p.size() && p[j] == ',') {
        ++j;
        unbounded = !(j < p.size() && std::isdigit(static_cast<unsigned char>(p[j])));
        copies = unbounded ? low + 1 : digits(j);
      }
      if (j < p.size() && p[j] == '}') {
        if (have_last) repeat_last(low, copies, unbounded);
        i = j;
      } else {
        add_atom({1, 0, 0, false});
      }
    } else {
      add_atom({1, 0, 0, c == '^' || c == '$'});  // anchors match no character
    }
  }
  RegexExpansion total;
  for (const Group& g : groups) {
    total.states = add(total.states, g.sum.states);
    total.optional_states = add(total.optional_states, g.sum.optional_states);
    total.optional_empty_states = add(total.optional_empty_states, g.sum.optional_empty_states);
  }
  return total;
}

// Anchored so that the pattern names whole node names, like a glob does.
std::shared_ptr<const void> compile_node_regex(const Reader& r, const YAML::Node& at, const std::string& pattern) {
  const RegexExpansion expansion = regex_expansion(pattern);
  if (expansion.states > kMaxRegexStates)
    r.fail(at, "regular expression '" + pattern + "' repeats too much: its bounds ({n,m}) would expand past " +
                   std::to_string(kMaxRegexStates) + " states; a node-name pattern needs far fewer");
  if (expansion.optional_states > kMaxRegexOptionalStates ||
      expansion.optional_empty_states > kMaxRegexOptionalEmptyStates)
    r.fail(at, "regular expression '" + pattern + "' repeats too much: its bounds make more than " +
                   std::to_string(kMaxRegexOptionalStates) + " copies optional ({n,m}: the m - n last), or more than " +
                   std::to_string(kMaxRegexOptionalEmptyStates) +
                   " of an atom that can match nothing (as in \"a?{0,m}\"); the regex compiler takes time that grows "
                   "with their square and cube, and a node-name pattern needs far fewer");
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
