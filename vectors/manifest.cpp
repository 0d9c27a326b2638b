#include "vectors/manifest.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_integers.hpp"
#include "core/yaml_reader.hpp"

namespace chipref::vectors {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

const char* layout_kind_name(Layout::Kind k) {
  return k == Layout::Kind::nhwc ? "nhwc" : k == Layout::Kind::tiled ? "tiled" : "nchw";
}

namespace {

// The --layout text of a layout: parse_layout's inverse.
std::string layout_text(const Layout& l) {
  return l.kind == Layout::Kind::tiled ? "tiled:" + std::to_string(l.tile_rows) + "x" + std::to_string(l.tile_cols)
                                       : layout_kind_name(l.kind);
}

ordered_json entry_json(const Entry& e) {
  ordered_json j = {{"file", e.file},
                    {"op", e.op},
                    {"role", e.role},
                    {"tensor", e.tensor},
                    {"input", e.input},
                    {"shape", e.shape},
                    {"bits", e.type.bits},
                    {"signed", e.type.is_signed},
                    {"format", to_string(e.format)},
                    {"layout", e.layout},
                    {"layout_kind", layout_kind_name(e.spec.kind)},
                    {"tile", std::vector<int64_t>{e.spec.tile_rows, e.spec.tile_cols}},
                    {"elements_per_word", e.spec.per_word},
                    {"bit_order", e.spec.msb_first ? "msb-first" : "lsb-first"},
                    {"scale", e.scale},
                    {"zero_point", e.zero_point},
                    {"elements", e.elements},
                    {"stored_elements", e.stored},
                    {"words", e.words},
                    {"bytes", e.bytes},
                    {"sha256", e.sha256}};
  if (!e.zero_points.empty()) j["zero_points"] = e.zero_points;  // weights only
  if (!e.block_format.empty())                                   // block-format codes and scales only
    j["block"] = {{"format", e.block_format}, {"size", e.block_size}, {"axis", -1}, {"partner", e.block_partner}};
  return j;
}

}  // namespace

std::string manifest_text(const Manifest& m) {
  ordered_json j;
  j["format"] = "chipref-vectors";
  j["version"] = m.version;
  j["tool_version"] = m.tool_version;
  j["model"] = m.model;
  j["model_sha256"] = m.model_sha256;
  j["config"] = m.config;
  j["config_sha256"] = m.config_sha256;
  j["inputs"] = {
      {"kind", m.inputs.kind}, {"path", m.inputs.path}, {"count", m.inputs.count}, {"sha256", m.inputs.sha256}};
  std::vector<std::string> formats;
  for (Format f : m.options.formats) formats.emplace_back(to_string(f));
  const Layout& l = m.options.layout;
  ordered_json per_layer = ordered_json::array();
  for (const LayerLayout& ll : m.options.layer_layouts)
    per_layer.push_back({{"match", ll.pattern},
                         {"layout", layout_text(ll.layout)},
                         {"word_bits", ll.word_bits},
                         {"bit_order", ll.layout.msb_first ? "msb-first" : "lsb-first"}});
  j["options"] = {{"formats", formats},
                  {"layers", m.options.layers},
                  {"accumulators", m.options.accumulators},
                  {"layout", layout_text(l)},
                  {"word_bits", m.options.word_bits},
                  {"bit_order", l.msb_first ? "msb-first" : "lsb-first"},
                  {"layer_layouts", per_layer},
                  {"engine", m.options.engine}};
  j["entries"] = ordered_json::array();
  for (const Entry& e : m.entries) j["entries"].push_back(entry_json(e));
  return j.dump(1) + "\n";
}

std::string model_hash(const std::string& model_dir) {
  return sha256_hex(read_file_bytes((fs::path(model_dir) / "graph.json").string()));
}

std::string inputs_hash(const Tensor& inputs) {
  if (!inputs.is_float())  // integer inputs (token ids) as int64, whatever their file's type
    return sha256_hex(
        std::string(reinterpret_cast<const char*>(inputs.ints.data()), inputs.ints.size() * sizeof(int64_t)));
  return sha256_hex(
      std::string(reinterpret_cast<const char*>(inputs.floats.data()), inputs.floats.size() * sizeof(float)));
}

Manifest read_manifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / "manifest.json").string();
  ordered_json j;
  try {
    j = ordered_json::parse(read_file_bytes(path));
  } catch (const ordered_json::exception& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
  try {
    if (j.at("format") != "chipref-vectors") throw InputError(path + ": not a chipref vectors manifest");
    Manifest m;
    m.version = json_integer<int>(j.at("version"), path + ": version");
    if (m.version != kManifestVersion)
      throw InputError(path + ": manifest version " + std::to_string(m.version) + "; this chipref reads version " +
                       std::to_string(kManifestVersion));
    m.tool_version = j.at("tool_version"), m.model = j.at("model"), m.model_sha256 = j.at("model_sha256"),
    m.config = j.at("config");
    m.config_sha256 = j.at("config_sha256");
    m.inputs =
        InputSource{j.at("inputs").at("kind"), j.at("inputs").at("path"),
                    json_integer(j.at("inputs").at("count"), path + ": inputs: count"), j.at("inputs").at("sha256")};
    m.options.formats.clear();
    for (const auto& f : j.at("options").at("formats")) m.options.formats.push_back(parse_format(f.get<std::string>()));
    m.options.layers = j.at("options").at("layers"), m.options.accumulators = j.at("options").at("accumulators");
    auto bit_order = [&](const ordered_json& v) {
      const std::string o = v.get<std::string>();
      if (o != "lsb-first" && o != "msb-first")
        throw InputError(path + ": bit_order '" + o + "'; expected lsb-first or msb-first");
      return o == "msb-first";
    };
    // A layout error from the manifest names the manifest, not only the layout text.
    auto layout_in_manifest = [&](const std::string& text) {
      try {
        return parse_layout(text);
      } catch (const InputError& e) {
        throw InputError(path + ": " + e.what());
      }
    };
    m.options.layout = layout_in_manifest(j.at("options").at("layout").get<std::string>());
    m.options.word_bits = json_integer<int>(j.at("options").at("word_bits"), path + ": options: word_bits");
    m.options.engine = j.at("options").value("engine", std::string("direct"));  // manifests before the SystemC engine
    m.options.layout.msb_first = bit_order(j.at("options").at("bit_order"));
    for (const auto& ll : j.at("options").at("layer_layouts")) {
      LayerLayout x{ll.at("match").get<std::string>(), layout_in_manifest(ll.at("layout").get<std::string>()),
                    json_integer<int>(ll.at("word_bits"), path + ": layer_layouts: word_bits")};
      x.layout.msb_first = bit_order(ll.at("bit_order"));
      m.options.layer_layouts.push_back(std::move(x));
    }
    for (const auto& e : j.at("entries")) {
      Entry x;
      x.file = e.at("file"), x.op = e.at("op"), x.role = e.at("role"), x.tensor = e.at("tensor");
      const std::string where = path + ": entry '" + x.file + "'";
      const auto integer = [&](const char* key) { return json_integer(e.at(key), where + ": " + key); };
      x.input = integer("input");
      x.shape = json_integers(e.at("shape"), where + ": shape");
      x.type = ElementType{json_integer<int>(e.at("bits"), where + ": bits"), e.at("signed").get<bool>()};
      x.format = parse_format(e.at("format").get<std::string>());
      x.layout = e.at("layout"), x.scale = e.at("scale"), x.zero_point = integer("zero_point"),
      x.elements = integer("elements"), x.bytes = integer("bytes");
      const std::string kind = e.at("layout_kind");
      const auto tile = json_integers(e.at("tile"), where + ": tile");
      if (kind == "tiled" && tile.size() != 2)
        throw InputError(where + ": a tiled layout's tile holds " + std::to_string(tile.size()) +
                         " numbers; expected 2 (rows, columns)");
      x.spec = layout_in_manifest(kind == "tiled" ? "tiled:" + std::to_string(tile[0]) + "x" + std::to_string(tile[1])
                                                  : kind);
      x.spec.per_word = json_integer<int>(e.at("elements_per_word"), where + ": elements_per_word"),
      x.spec.msb_first = bit_order(e.at("bit_order"));
      x.stored = integer("stored_elements"), x.words = integer("words");
      if (checked_element_count(x.shape, where) != x.elements || stored_count(x.spec, x.shape) != x.stored ||
          x.words != (x.stored + x.spec.per_word - 1) / std::max(x.spec.per_word, 1))
        throw InputError(where + ": shape, elements, stored elements and words disagree");
      x.sha256 = e.at("sha256");
      if (e.contains("zero_points")) {
        x.zero_points = json_integers(e.at("zero_points"), where + ": zero_points");
        for (int64_t z : x.zero_points)
          if (z < x.type.min() || z > x.type.max())
            throw InputError(where + ": zero point " + std::to_string(z) + " is outside its elements' range");
      }
      if (e.contains("block")) {
        const auto& b = e.at("block");
        x.block_format = b.at("format"), x.block_partner = b.at("partner");
        x.block_size = json_integer(b.at("size"), where + ": block size");
        if (x.block_size < 1 || json_integer(b.at("axis"), where + ": block axis") != -1)
          throw InputError(where + ": a block layout needs a size >= 1 along axis -1");
      }
      if (x.file.find("..") != std::string::npos || (!x.file.empty() && x.file[0] == '/'))
        throw InputError(path + ": entry file '" + x.file + "' leaves the directory");
      m.entries.push_back(std::move(x));
    }
    return m;
  } catch (const ordered_json::exception& e) {
    throw InputError(path + ": malformed manifest: " + e.what());
  }
}

std::vector<int64_t> logical_values(const Entry& e, const std::vector<int64_t>& words) {
  return from_stored(e.spec, e.shape, unpack(e.spec, e.type, words, e.stored));
}

std::vector<int64_t> read_vector(const std::string& dir, const Entry& e) {
  const std::string path = (fs::path(dir) / e.file).string();
  const std::string bytes = read_file_bytes(path);
  if (sha256_hex(bytes) != e.sha256) throw VerificationMismatch(path + ": SHA-256 differs from the manifest's");
  return logical_values(e, decode(bytes, word_type(e.spec, e.type), e.format, e.words, path));
}

// "; first differing element 37 [0,2,3,1]: got 0xfd (-3), expected 0x02 (2)": the index and coordinates
// in the tensor's row-major order, whatever the file's layout and packing; the codes in the element
// type's two's complement hex and in decimal.
std::string first_difference(const Entry& e, const std::vector<int64_t>& have, const std::vector<int64_t>& want) {
  const auto code = [&](int64_t v) {
    const uint64_t mask = e.type.bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << e.type.bits) - 1;
    return fmt::format("0x{:0{}x} ({})", static_cast<uint64_t>(v) & mask, e.type.hex_digits(), v);
  };
  for (size_t i = 0; i < std::min(want.size(), have.size()); ++i)
    if (want[i] != have[i])
      return fmt::format("; first differing element {} {}: got {}, expected {}", i,
                         index_to_string(e.shape, static_cast<int64_t>(i)), code(have[i]), code(want[i]));
  return "";
}

namespace {
// Files under DIR that no entry names (the manifest itself aside), in sorted order.
std::vector<std::string> unlisted_files(const std::string& dir, const Manifest& m) {
  std::set<std::string> listed = {"manifest.json"};
  for (const Entry& e : m.entries) listed.insert(fs::path(e.file).lexically_normal().generic_string());
  std::vector<std::string> extra;
  std::error_code error;
  for (fs::recursive_directory_iterator it(dir, error), end; !error && it != end; it.increment(error))
    if (!it->is_directory(error)) {
      const std::string relative = fs::relative(it->path(), dir, error).generic_string();
      if (!listed.count(relative)) extra.push_back(relative);
    }
  std::sort(extra.begin(), extra.end());
  return extra;
}
}  // namespace

FileCheck check_files(const std::string& dir, const Manifest& m) {
  if (const std::vector<std::string> extra = unlisted_files(dir, m); !extra.empty())
    throw VerificationMismatch(
        fmt::format("{}: {} file(s) the manifest does not list, first {}; a vectors directory holds only what its "
                    "manifest.json lists",
                    dir, extra.size(), (fs::path(dir) / extra.front()).string()));
  FileCheck c;
  std::set<std::string> checked;
  for (const Entry& e : m.entries) {
    if (!checked.insert(e.file).second) continue;
    const fs::path path = fs::path(dir) / e.file;
    if (!is_existing_file(path)) {
      c.bad.push_back({&e, "missing"});
      continue;
    }
    const std::string bytes = read_file_bytes(path.string());
    const ElementType word = word_type(e.spec, e.type);
    const int64_t expected_size = e.format == Format::mem   ? e.words * (word.hex_digits() + 1)
                                  : e.format == Format::bin ? e.words * word.bin_bytes()
                                                            : e.bytes;
    if (static_cast<int64_t>(bytes.size()) != expected_size || static_cast<int64_t>(bytes.size()) != e.bytes) {
      c.bad.push_back(
          {&e, std::to_string(bytes.size()) + " bytes; its shape and format need " + std::to_string(expected_size)});
    } else if (sha256_hex(bytes) != e.sha256) {
      c.bad.push_back({&e, "SHA-256 differs from the manifest's"});
    }
  }
  c.checked = static_cast<int64_t>(checked.size());
  return c;
}

namespace {
std::vector<LayerLayout> read_layouts_document(const std::string& path) {
  const YAML::Node root = load_yaml_file(path, "layout file");
  auto at = [&](const YAML::Node& n) {
    return path + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1);
  };
  if (!root.IsMap() || !root["layers"] || !root["layers"].IsSequence())
    throw InputError(path + ": expected a mapping with a 'layers:' list");
  for (const auto& kv : root)
    if (kv.first.as<std::string>() != "layers")
      throw InputError(at(kv.first) + ": unknown key '" + kv.first.as<std::string>() + "'; expected layers");
  std::vector<LayerLayout> layouts;
  for (const YAML::Node& entry : root["layers"]) {
    if (!entry.IsMap() || !entry["match"])
      throw InputError(at(entry) +
                       ": each entry needs match: \"GLOB\" and at least one of layout, word_bits, bit_order");
    LayerLayout ll;
    for (const auto& kv : entry) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      try {
        if (key == "match") {
          ll.pattern = v.as<std::string>();
        } else if (key == "layout") {
          const bool msb = ll.layout.msb_first;
          ll.layout = parse_layout(v.as<std::string>());
          ll.layout.msb_first = msb;
        } else if (key == "word_bits") {
          ll.word_bits = v.as<int>();
          if (ll.word_bits < 0 || ll.word_bits > 64)
            throw InputError("word_bits " + std::to_string(ll.word_bits) + " is outside 0..64");
        } else if (key == "bit_order") {
          const std::string o = v.as<std::string>();
          if (o != "lsb-first" && o != "msb-first")
            throw InputError("bit_order '" + o + "'; expected lsb-first or msb-first");
          ll.layout.msb_first = o == "msb-first";
        } else {
          throw InputError("unknown key '" + key + "'; expected match, layout, word_bits, bit_order");
        }
      } catch (const YAML::Exception&) {
        throw InputError(at(v) + ": '" + key + "' has the wrong type");
      } catch (const InputError& e) {
        throw InputError(at(v) + ": " + e.what());
      }
    }
    layouts.push_back(std::move(ll));
  }
  return layouts;
}
}  // namespace

std::vector<LayerLayout> load_layer_layouts(const std::string& path) {
  return read_yaml_document(path, [&] { return read_layouts_document(path); });
}

}  // namespace chipref::vectors
