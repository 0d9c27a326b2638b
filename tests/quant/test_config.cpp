// The quantization config: the shipped configs parse; per-layer overrides apply in order on top of the
// defaults; a corpus of bad configs each gives its documented error with file:line:column.

#include <catch2/catch.hpp>
#include <cstdlib>

#include "core/files.hpp"
#include "quant/config.hpp"
#include "quant/config_keys.hpp"

using namespace chipref;

TEST_CASE("Config/shipped configs parse", "[quant][config]") {
  for (const char* name : {"w8a8.yaml", "w4a8.yaml", "mixed.yaml"}) {
    INFO(name);
    CHECK_NOTHROW(load_quant_config(std::string(CHIPREF_SOURCE_DIR "/configs/") + name));
  }
  const QuantConfig c = load_quant_config(CHIPREF_SOURCE_DIR "/configs/w8a8.yaml");
  CHECK(c.defaults.weight_bits == 8);
  CHECK(c.defaults.requant_flavour == RequantFlavour::single);
  CHECK(c.for_node("/head/Gemm").activation_bits == 16);
  CHECK(c.for_node("/stem/stem.0/Conv").activation_bits == 8);
}

TEST_CASE("Config/overrides apply in order and only the keys they set", "[quant][config]") {
  const QuantConfig c = parse_quant_config(R"(
defaults:
  weights: {bits: 8}
  accumulator: {bits: 24, overflow: saturate}
layers:
  - match: "/conv*"
    weights: {bits: 4}
  - match: "/conv2*"
    weights: {bits: 2}
    requant: {rounding: floor}
)",
                                           "inline.yaml");
  CHECK(c.for_node("/other").weight_bits == 8);
  CHECK(c.for_node("/conv1/Conv").weight_bits == 4);
  CHECK(c.for_node("/conv2/Conv").weight_bits == 2);
  CHECK(c.for_node("/conv2/Conv").requant_rounding == RoundingMode::floor);
  CHECK(c.for_node("/conv1/Conv").requant_rounding == RoundingMode::half_even);
  CHECK(c.for_node("/conv1/Conv").accumulator_bits == 24);  // not set by the override: the default stays
  CHECK(c.for_node("/conv1/Conv").accumulator_overflow == OverflowPolicy::saturate);
  CHECK(parse_quant_config("defaults:\n  activations: {calibrator: percentile, percentile: 99.9}\n", "p.yaml")
            .defaults.activation_percentile == 99.9);
}

TEST_CASE("Config/bad configs give file:line:column and the valid choices", "[quant][config]") {
  struct Bad {
    const char* yaml;
    std::vector<std::string> message;
  };
  const std::vector<Bad> corpus = {
      {"defaults:\n  weights: {bitz: 8}\n",
       {"bad.yaml:2:", "unknown key 'bitz' in weights",
        "expected one of: bits, signed, symmetric, granularity, calibrator"}},
      // A mapping as a key (found by fuzz_quant_config: it used to escape as yaml-cpp's conversion error).
      {"calibration:\n  ? images: 1000\n", {"bad.yaml:2:5: the keys of calibration are names; expected one of:"}},
      {"? {defaults: 1}\n: 2\n", {"bad.yaml:1:3: the keys of the config are names"}},
      {"defaults:\n  weights: {bits: 1}\n", {"bad.yaml:2:", "'bits' is 1; expected 2..16"}},
      {"defaults:\n  weights: {bits: eight}\n", {"bad.yaml:2:", "'bits' must be an integer in 2..16"}},
      {"defaults:\n  activations: {bits: 17}\n", {"'bits' is 17; expected 2..16"}},
      {"defaults:\n  activations: {signed: maybe}\n", {"'signed' must be true or false"}},
      {"defaults:\n  requant: {flavour: double}\n",
       {"'flavour' is 'double'; expected one of: gemmlowp, single, float"}},
      {"defaults:\n  requant: {rounding: nearest}\n",
       {"expected one of: half_even, half_away, half_up, floor, toward_zero"}},
      {"defaults:\n  requant: {multiplier_bits: 40}\n", {"expected 8..31"}},
      {"defaults:\n  accumulator: {bits: 48}\n", {"'bits' is 48; expected 8..32"}},
      {"defaults:\n  accumulator: {overflow: clip}\n", {"expected one of: wrap, saturate, error"}},
      {"defaults:\n  weights: {granularity: per_row}\n", {"expected one of: per_channel, per_tensor"}},
      {"defaults:\n  weights: {calibrator: entropy}\n",
       {"'calibrator' is 'entropy'; expected one of: minmax, mse, sawb"}},
      {"default:\n  weights: {bits: 8}\n", {"bad.yaml:1:1", "unknown key 'default'", "defaults, layers, calibration"}},
      {"layers:\n  match: x\n", {"bad.yaml:2:", "'layers' must be a list"}},
      {"layers:\n  - weights: {bits: 4}\n", {"bad.yaml:2:", "needs exactly one of 'match: GLOB'"}},
      {"layers:\n  - {match: a, match_regex: b}\n",
       {"bad.yaml:2:", "exactly one of 'match: GLOB' or 'match_regex: REGEX'"}},
      {"layers:\n  - match_regex: \"/conv(\"\n",
       {"bad.yaml:2:18", "invalid regular expression '/conv('", "POSIX extended"}},
      // Patterns that made glibc's regcomp exhaust memory or run for minutes (found by fuzz_quant_config):
      // RE2 refuses counted repetitions past 1000, nested ones included, and patterns past its memory bound.
      {"layers:\n  - match_regex: \".{32767}{32767}\"\n", {"bad.yaml:2:18", "invalid regular expression", "{32767}"}},
      {"layers:\n  - match_regex: \"((a{100}){100}){100}\"\n", {"bad.yaml:2:18", "invalid repetition size"}},
      {"layers:\n  - match_regex: \"(x|[a-z]+){9999}\"\n", {"bad.yaml:2:18", "invalid repetition size"}},
      {"layers:\n  - match_regex: \".?{,2767}^Tu\"\n", {"bad.yaml:2:18", "{0,n}, not {,n}"}},
      {"layers:\n  - match_regex: \"\xc8\xfa\xc5)#Q\xcc\x0b;++*+++++++++++\xca,\"\n", {"bad.yaml:2:18", "invalid"}},
      {"layers:\n  - match: [a]\n", {"bad.yaml:2:", "pattern must be a string"}},
      {"defaults:\n  activations: {percentile: 101}\n", {"bad.yaml:2:", "'percentile' is 101; expected 50..100"}},
      {"defaults:\n  activations: {percentile: most}\n", {"'percentile' must be a number in 50..100"}},
      {"defaults: [1, 2]\n", {"defaults must be a mapping"}},
      {"defaults:\n  weights: {bits: 8\n", {"bad.yaml:"}},  // YAML syntax error
      {"", {"bad.yaml: empty config"}},
      {"calibration: {images: 0}\n", {"'images' is 0; expected 1..60000"}},
  };
  for (const Bad& b : corpus) {
    std::string message = "no error";
    try {
      parse_quant_config(b.yaml, "bad.yaml");
    } catch (const InputError& e) {
      message = e.what();
    }
    INFO("config:\n" << b.yaml << "message: " << message);
    for (const auto& part : b.message) CHECK(message.find(part) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("Config/patterns that match no node are reported with their location", "[quant][config]") {
  const QuantConfig c = parse_quant_config("layers:\n  - match: \"/head/*\"\n  - match: \"/haed/*\"\n", "typo.yaml");
  const auto unmatched = unmatched_overrides(c, {"/stem/Conv", "/head/Gemm"});
  REQUIRE(unmatched.size() == 1);
  CHECK(unmatched[0]->pattern == "/haed/*");
  CHECK(unmatched[0]->where == "typo.yaml:3:12");
}

TEST_CASE("Config/regex patterns match whole node names, globs and regexes mix in order", "[quant][config]") {
  const QuantConfig c = parse_quant_config(R"(
layers:
  - match_regex: "/(stem|down)/.*Conv"
    weights: {bits: 4}
  - match: "/down/*"
    weights: {bits: 6}
  - match_regex: "Conv"
    weights: {bits: 2}
)",
                                           "mixed.yaml");
  CHECK(c.for_node("/stem/stem.0/Conv").weight_bits == 4);
  CHECK(c.for_node("/down/down.0/Conv").weight_bits == 6);  // the later glob wins
  CHECK(c.for_node("/stemx/Conv").weight_bits == 8);        // not /stem/
  CHECK(c.for_node("Conv").weight_bits == 2);               // anchored: only the whole name "Conv"
  CHECK(c.for_node("/pw/Conv").weight_bits == 8);
  const auto unmatched = unmatched_overrides(c, {"/stem/stem.0/Conv", "/down/down.0/Conv"});
  REQUIRE(unmatched.size() == 1);
  CHECK(unmatched[0]->pattern == "Conv");
  CHECK(unmatched[0]->where == "mixed.yaml:7:18");
}

TEST_CASE("Config/regex bounds a node-name pattern needs are accepted and match", "[quant][config]") {
  const QuantConfig c = parse_quant_config(R"(
layers:
  - match_regex: "/block[0-9]{1,3}/(conv|fc){1,2}"
    weights: {bits: 4}
  - match_regex: "(x{50}){20}"
    weights: {bits: 6}
  - match_regex: "/head(_[a-z]{0,20}){0,4}"
    weights: {bits: 3}
  - match_regex: "(y?z*){300}"
    weights: {bits: 5}
  - match_regex: "a?{0,100}b{0,900}"
    weights: {bits: 2}
  - match_regex: "a*+++++"
    weights: {bits: 7}
)",
                                           "bounds.yaml");
  CHECK(c.for_node("/block12/convfc").weight_bits == 4);
  CHECK(c.for_node("/block1234/conv").weight_bits == 8);  // four digits: past {1,3}
  CHECK(c.for_node("/block7/fcfcfc").weight_bits == 8);   // three repeats: past {1,2}
  CHECK(c.for_node(std::string(1000, 'x')).weight_bits == 6);
  CHECK(c.for_node(std::string(999, 'x')).weight_bits == 8);
  CHECK(c.for_node("/head_attn_q").weight_bits == 3);
  CHECK(c.for_node("/head").weight_bits == 3);
  CHECK(c.for_node("/head_a_b_c_d_e").weight_bits == 8);  // five suffixes: past {0,4}
  CHECK(c.for_node("yzzyyz").weight_bits == 5);
  CHECK(c.for_node("aabbb").weight_bits == 2);
  CHECK(c.for_node("aaaaaa").weight_bits == 7);  // glibc's regcomp never finished compiling this one
}

TEST_CASE("Config/docs/config.md's table of section keys is the components' declarations", "[quant][config][docs]") {
  const std::string path = std::string(CHIPREF_SOURCE_DIR) + "/docs/config.md";
  std::string doc = read_file_bytes(path);
  const std::string begin = "<!-- config keys: generated", end = "<!-- end of config keys -->";
  const size_t a = doc.find(begin), b = doc.find(end);
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  const size_t body = doc.find('\n', a) + 1;
  const std::string table = config_keys_markdown();
  if (std::getenv("CHIPREF_WRITE_DOCS") && doc.substr(body, b - body) != table)
    write_file_atomically(path, doc = doc.substr(0, body) + table + doc.substr(b));
  INFO("expected between the markers:\n" << table);
  CHECK(doc.substr(body, doc.find(end) - body) == table);
}

TEST_CASE("Config/every declared key is read into the config: a value other than its default comes back as written",
          "[quant][config]") {
  const LayerQuantConfig defaults;
  for (const ConfigKey& k : config_keys()) {
    std::string value;
    switch (k.kind) {
      case ConfigKey::Kind::integer:
        value = std::to_string(
            static_cast<int64_t>(k.show(defaults) == std::to_string(static_cast<int64_t>(k.max)) ? k.min : k.max));
        break;
      case ConfigKey::Kind::number:  // an end of its range, as the docs' table writes numbers
        value = number_text(k.show(defaults) == number_text(k.max) ? k.min : k.max);
        break;
      case ConfigKey::Kind::boolean:
        value = k.show(defaults) == "true" ? "false" : "true";
        break;
      case ConfigKey::Kind::choice:
        for (const std::string& c : k.choices())
          if (c != k.show(defaults)) value = c;
        break;
      case ConfigKey::Kind::text:
        value = k.example;
        break;
    }
    INFO(k.name() << ": " << value);
    REQUIRE(value != k.show(defaults));
    const std::string yaml = "defaults:\n  " + k.section + ":\n    " + k.field + ": \"" + value + "\"\n";
    const QuantConfig c = parse_quant_config(yaml, "one_key.yaml");
    CHECK(k.show(c.defaults) == value);
    // and nothing else changed
    for (const ConfigKey& other : config_keys())
      if (other.name() != k.name()) CHECK(other.show(c.defaults) == other.show(defaults));
  }
}
