#pragma once
// The keys of a config's sections (`defaults:` and each override of `layers:`), each declared by the
// component that uses it: its section and field, the values it takes, its meaning, how it sets a
// LayerQuantConfig and how it shows one. The config reader, a sweep's sweepable keys and docs/config.md's
// table of keys all come from these declarations (tests/quant/test_config.cpp checks the table).

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "quant/config.hpp"

namespace chipref {

// A key's value as the config reader read it: `integer`, `number`, `boolean` or `text` by the key's kind.
struct ConfigValue {
  int64_t integer = 0;
  double number = 0;
  bool boolean = false;
  std::string text;
};

struct ConfigKey {
  enum class Kind { integer, number, boolean, choice, text };
  std::string section, field;
  Kind kind = Kind::integer;
  double min = 0, max = 0;                            // integer, number: the range
  std::function<std::vector<std::string>()> choices;  // choice: the names (a registry's, at read time)
  std::string values;                                 // text: what it takes, as docs/config.md shows it
  std::string meaning;                                // docs/config.md's description
  // Sets the key in a config; may throw InputError, which the reader reports at the value's position.
  std::function<void(LayerQuantConfig&, const ConfigValue&)> set;
  std::function<std::string(const LayerQuantConfig&)> show;  // the value a config holds, as YAML writes it
  std::string example;  // text: a valid value other than the default (tests/quant/test_config.cpp sets each key)

  std::string name() const { return section + "." + field; }
};

// The sections in the order docs/config.md lists them, and every key of each, declaration order within.
const std::vector<std::string>& config_sections();
const std::vector<ConfigKey>& config_keys();
// The fields of one section, in order.
std::vector<std::string> config_fields(const std::string& section);
// docs/config.md's table rows of the section keys: `| key | values (default) | meaning |`.
std::string config_keys_markdown();

// A number as YAML and docs/config.md show it (the shortest form that reads back the same).
std::string number_text(double x);

// Declaration shorthands for the components' files.
template <class Member>
ConfigKey integer_key(const char* section, const char* field, int64_t lo, int64_t hi, Member member,
                      const char* meaning) {
  ConfigKey k{
      section, field, ConfigKey::Kind::integer, static_cast<double>(lo), static_cast<double>(hi), {}, "", meaning, {},
      {},      ""};
  k.set = [member](LayerQuantConfig& c, const ConfigValue& v) {
    c.*member = static_cast<std::remove_reference_t<decltype(c.*member)>>(v.integer);
  };
  k.show = [member](const LayerQuantConfig& c) { return std::to_string(c.*member); };
  return k;
}
template <class Member>
ConfigKey number_key(const char* section, const char* field, double lo, double hi, Member member, const char* meaning) {
  ConfigKey k{section, field, ConfigKey::Kind::number, lo, hi, {}, "", meaning, {}, {}, ""};
  k.set = [member](LayerQuantConfig& c, const ConfigValue& v) { c.*member = v.number; };
  k.show = [member](const LayerQuantConfig& c) { return number_text(c.*member); };
  return k;
}
template <class Member>
ConfigKey boolean_key(const char* section, const char* field, Member member, const char* meaning) {
  ConfigKey k{section, field, ConfigKey::Kind::boolean, 0, 0, {}, "", meaning, {}, {}, ""};
  k.set = [member](LayerQuantConfig& c, const ConfigValue& v) { c.*member = v.boolean; };
  k.show = [member](const LayerQuantConfig& c) { return std::string(c.*member ? "true" : "false"); };
  return k;
}
// A choice among `names` (fixed, or a registry's when the config is read).
ConfigKey choice_key(const char* section, const char* field, std::function<std::vector<std::string>()> names,
                     std::function<void(LayerQuantConfig&, const std::string&)> set,
                     std::function<std::string(const LayerQuantConfig&)> show, const char* meaning);
std::function<std::vector<std::string>()> fixed_choices(std::vector<std::string> names);

// The declarations, each in the file of the component that uses the keys.
std::vector<ConfigKey>
lowering_config_keys();  // quant/lowering/lowering.cpp: bits, granularity, requant, bias, accumulator
std::vector<ConfigKey> calibrator_config_keys();       // quant/calibrators.cpp: the calibrators and their parameters
std::vector<ConfigKey> nonlinear_config_keys();        // quant/lut.cpp: tables and polynomials
std::vector<ConfigKey> sparsity_config_keys();         // quant/sparsity.cpp: N:M pruning
std::vector<ConfigKey> block_format_config_keys();     // quant/lowering/mac.cpp: MAC layers in MX / BFP formats
std::vector<ConfigKey> weight_rounding_config_keys();  // quant/weight_rounding.cpp: GPTQ, AdaRound, bias correction
std::vector<ConfigKey> equalization_config_keys();     // quant/equalization.cpp: cross-layer equalization
std::vector<ConfigKey> smoothing_config_keys();        // quant/smoothing.cpp: SmoothQuant

}  // namespace chipref
