#include "vectors/vectors.hpp"

#include <fnmatch.h>

#include <filesystem>
#include <map>
#include <optional>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>
#include <set>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_integers.hpp"
#include "core/yaml_reader.hpp"
#include "core/progress.hpp"
#include "core/version.hpp"
#include "model/io/idx.hpp"
#include "model/io/npy.hpp"
#include "ops/op_def.hpp"
#include "ops/sparse_decode.hpp"
#include "sim/systemc/engine.hpp"
#include "sim/direct_engine.hpp"

namespace chipref::vectors {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {


// A file-system-safe name for a tensor: its index among the tensors written (first use in op order),
// then its name with anything unsafe replaced.
std::string safe_name(size_t index, const std::string& name) {
  std::string safe;
  for (char c : name) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') ? c : '_';
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%04zu_", index);
  return prefix + safe.substr(0, 100);
}

// The directory of input i's files.
std::string input_dir(int64_t i) {
  char dir[32];
  std::snprintf(dir, sizeof dir, "input_%04lld/", static_cast<long long>(i));
  return dir;
}

// What a constant is to the op reading it, from its name's last dotted part (L.weight → weight).
std::string constant_role(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? "constant" : name.substr(dot + 1);
}

ElementType constant_type(const std::string& name, const Tensor& t) {
  if (constant_role(name) == "indices") return {32, false};  // packed N:M index words
  switch (t.dtype) {
    case DType::int8: return {8, true};
    case DType::uint8: return {8, false};
    case DType::int16: return {16, true};
    case DType::uint16: return {16, false};
    case DType::int32: return {32, true};
    default: return {64, true};
  }
}

// Every file of a run, path → bytes, and the manifest entries pointing at them, in a fixed order.
struct Rendering {
  struct File {
    std::string bytes, sha256;
  };
  std::map<std::string, File> files;
  std::vector<Entry> entries;
};

const char* kind_name(Layout::Kind k) { return k == Layout::Kind::nhwc ? "nhwc" : k == Layout::Kind::tiled ? "tiled" : "nchw"; }

// "tiled16x16_w64_msb": a layout in a file name.
std::string layout_tag(const Layout& l, int word_bits) {
  std::string tag = kind_name(l.kind);
  if (l.kind == Layout::Kind::tiled) tag += std::to_string(l.tile_rows) + "x" + std::to_string(l.tile_cols);
  if (word_bits > 0) tag += "_w" + std::to_string(word_bits);
  if (l.msb_first) tag += "_msb";
  return tag;
}

// The --layout text of a layout: parse_layout's inverse.
std::string layout_text(const Layout& l) {
  return l.kind == Layout::Kind::tiled ? "tiled:" + std::to_string(l.tile_rows) + "x" + std::to_string(l.tile_cols) : kind_name(l.kind);
}

Rendering render(const IntGraph& g, const Tensor& inputs, const Options& options) {
  Rendering r;
  std::map<std::string, size_t> tensor_index;  // first use order, for file names
  auto index_of = [&](const std::string& tensor) {
    const auto it = tensor_index.find(tensor);
    if (it != tensor_index.end()) return it->second;
    const size_t i = tensor_index.size();
    tensor_index[tensor] = i;
    return i;
  };
  std::map<std::string, size_t> stream_index;  // MacArrays with tile streams, numbered apart (the tensors' names stay as without)
  std::set<std::string> decoded;  // tensors a constant op (sparse_decode) computes: constants too
  for (const Node& op : g.ops)
    if (ops::has_role(op, ops::OpRole::constant)) decoded.insert(op.outputs.begin(), op.outputs.end());
  if (options.word_bits < 0 || options.word_bits > 64) throw InputError("vectors: word_bits " + std::to_string(options.word_bits) + " is outside 0..64");
  // A constant's element type, or that of weights a sparse_decode op produces (signed, the value's bits).
  auto stored_type = [&](const std::string& tensor) {
    const auto c = g.constants.find(tensor);
    return c != g.constants.end() ? constant_type(tensor, c->second) : ElementType{g.values.at(tensor).quant.format.bits(), true};
  };
  auto add = [&](Entry e, const std::vector<int64_t>& values) {
    Layout layout = options.layout;
    int word_bits = options.word_bits;
    std::string tag;  // a file in another layout than the run's gets its own name
    for (const LayerLayout& ll : options.layer_layouts)
      if (fnmatch(ll.pattern.c_str(), e.op.c_str(), 0) == 0) layout = ll.layout, word_bits = ll.word_bits;
    if (e.role.rfind("tiles_", 0) == 0) {  // a MacArray's stream is already in the array's order: only packed
      layout.kind = Layout::Kind::nchw, layout.tile_rows = layout.tile_cols = 0;
    }
    if (layout.kind != options.layout.kind || layout.tile_rows != options.layout.tile_rows || layout.tile_cols != options.layout.tile_cols ||
        layout.msb_first != options.layout.msb_first || word_bits != options.word_bits)
      tag = "." + layout_tag(layout, word_bits);
    e.file += tag;
    e.spec = layout, e.layout = layout_name(layout, e.shape);
    if (word_bits > 0 && word_bits < e.type.bits)
      throw InputError(fmt::format("vectors: a word of {} bits is narrower than the {}-bit elements of '{}' ({} of op '{}'); a word holds at least "
                                   "one element (--word-bits 0 writes one element a word at its own width)",
                                   word_bits, e.type.bits, e.tensor, e.role, e.op));
    e.spec.per_word = word_bits > 0 ? word_bits / e.type.bits : 1;
    e.stored = stored_count(e.spec, e.shape), e.words = (e.stored + e.spec.per_word - 1) / e.spec.per_word;
    const ElementType word = word_type(e.spec, e.type);
    std::vector<int64_t> words;  // laid out and packed once, and only for a file not yet rendered
    for (Format f : options.formats) {
      Entry copy = e;
      copy.format = f;
      copy.file += "." + std::string(to_string(f));
      auto it = r.files.find(copy.file);
      if (it == r.files.end()) {
        if (words.empty()) words = pack(e.spec, e.type, to_stored(e.spec, e.shape, values));
        const std::string order =
            e.spec.per_word > 1 ? fmt::format("words of {} {}-bit elements ({}) of the tensor {} in the layout {}", e.spec.per_word, e.type.bits,
                                              e.spec.msb_first ? "element 0 in the high bits" : "element 0 in the low bits", shape_to_string(e.shape), e.layout)
                                : fmt::format("the tensor {} in the layout {}", shape_to_string(e.shape), e.layout);
        std::string bytes = encode(words, {copy.words}, word, f, copy.file, order);
        std::string sha = sha256_hex(bytes);
        it = r.files.emplace(copy.file, Rendering::File{std::move(bytes), std::move(sha)}).first;
      }
      copy.bytes = static_cast<int64_t>(it->second.bytes.size());
      copy.sha256 = it->second.sha256;
      r.entries.push_back(std::move(copy));
    }
  };

  // Constants and decoded sparse weights: once, under constants/.
  if (options.engine != "direct" && options.engine != "systemc")
    throw InputError("vectors: engine '" + options.engine + "'; expected direct or systemc");
  std::optional<DirectEngine> direct;
  std::optional<SystemCEngine> systemc;
  if (options.engine == "systemc") systemc.emplace(g);
  else direct.emplace(g);
  const int64_t n = inputs.rank() > 0 ? inputs.shape[0] : 0, per = n > 0 ? inputs.numel() / n : 0;
  std::vector<RunTrace> traces(static_cast<size_t>(n));
  {
    ProgressBar progress("vectors", n);
    for (int64_t i = 0; i < n; ++i) {
      Shape shape = inputs.shape;
      shape[0] = 1;
      const Tensor x = Tensor::of_floats(shape, std::vector<float>(inputs.floats.begin() + i * per, inputs.floats.begin() + (i + 1) * per));
      if (systemc) systemc->run(x, &traces[i]);
      else direct->run(x, &traces[i]);
      progress.update(i + 1);
    }
  }
  for (const Node& op : g.ops) {
    if (fnmatch(options.layers.c_str(), op.name.c_str(), 0) != 0) continue;
    std::vector<std::pair<std::string, std::string>> tensors;  // (role, tensor)
    auto is_constant = [&](const std::string& t) { return g.constants.count(t) != 0 || decoded.count(t) != 0; };
    int activation_inputs = 0;
    for (const auto& in : op.inputs) activation_inputs += g.values.count(in) && !is_constant(in);
    int a = 0;
    for (const auto& in : op.inputs) {
      if (is_constant(in)) tensors.emplace_back(constant_role(in), in);
      else if (g.values.count(in)) tensors.emplace_back(activation_inputs > 1 ? "input" + std::to_string(a++) : "input", in);
    }
    for (const auto& out : op.outputs) {
      if (!g.values.count(out)) continue;  // the float output of dequantize
      const ops::VectorRole role = ops::op_def(op).vector_role;
      if (role == ops::VectorRole::accumulator && !options.accumulators) continue;
      tensors.emplace_back(role == ops::VectorRole::weight_dense ? "weight_dense" : role == ops::VectorRole::accumulator ? "accumulator" : "output", out);
    }
    for (const auto& [role, tensor] : tensors) {
      Entry e;
      e.op = op.name, e.role = role, e.tensor = tensor;
      if (is_constant(tensor)) {
        const Tensor t = g.constants.count(tensor) ? g.constants.at(tensor) : mac_weight_codes(g, tensor);
        e.file = "constants/" + safe_name(index_of(tensor), tensor);
        e.shape = t.shape, e.elements = t.numel();
        e.type = stored_type(tensor);
        add(e, t.ints);
        continue;
      }
      const IntValue& v = g.values.at(tensor);
      e.type = ElementType{v.quant.format.bits(), v.quant.format.is_signed()};
      e.scale = v.quant.scale, e.zero_point = v.quant.zero_point;
      for (int64_t i = 0; i < n; ++i) {
        const auto it = traces[i].values.find(tensor);
        if (it == traces[i].values.end()) throw InputError(op.describe() + ": the run produced no '" + tensor + "'");
        Entry ei = e;
        ei.file = input_dir(i) + safe_name(index_of(tensor), tensor);
        ei.input = i, ei.shape = it->second.shape, ei.elements = static_cast<int64_t>(it->second.data.size());
        add(ei, std::vector<int64_t>(it->second.data.begin(), it->second.data.end()));
      }
    }
    // The SystemC engine's MacArrays also give their interface streams in tile order (docs/systemc.md).
    if (!systemc || !ops::is_mac(op)) continue;
    const IntValue* second = ops::op_def(op).mac == ops::MacOperand::activation ? &g.values.at(op.inputs.at(1)) : nullptr;  // not weights
    const ElementType stream_weight_type =
        second ? ElementType{second->quant.format.bits(), second->quant.format.is_signed()} : stored_type(op.inputs.at(1));
    const IntValue& in = g.values.at(op.inputs.at(0));
    const IntValue& acc = g.values.at(op.outputs.at(0));
    const std::string tag = ".tiles_" + std::to_string(systemc->hardware().mac_rows) + "x" + std::to_string(systemc->hardware().mac_cols) + "_" +
                            (systemc->hardware().dataflow == Dataflow::weight_stationary ? "ws" : "os");
    for (int64_t i = 0; i < n; ++i) {
      const auto it = traces[i].tile_streams.find(op.name);
      if (it == traces[i].tile_streams.end()) throw InputError(op.describe() + ": the SystemC run produced no tile streams");
      const std::pair<const char*, std::pair<const CodeTensor*, ElementType>> parts[] = {
          {"weights", {&it->second.weights, stream_weight_type}},
          {"activations", {&it->second.activations, ElementType{in.quant.format.bits(), in.quant.format.is_signed()}}},
          {"accumulators", {&it->second.accumulators, ElementType{acc.quant.format.bits(), acc.quant.format.is_signed()}}}};
      for (const auto& [part, stream] : parts) {
        Entry e;
        e.op = op.name, e.role = std::string("tiles_") + part, e.tensor = op.outputs[0], e.input = i;
        e.file = input_dir(i) + "tiles/" + safe_name(stream_index.emplace(op.name, stream_index.size()).first->second, op.name + tag) + "." + part;
        e.shape = stream.first->shape, e.elements = static_cast<int64_t>(stream.first->data.size()), e.type = stream.second;
        if (std::string(part) == "activations") e.scale = in.quant.scale, e.zero_point = in.quant.zero_point;
        add(e, std::vector<int64_t>(stream.first->data.begin(), stream.first->data.end()));
      }
    }
  }
  return r;
}

ordered_json entry_json(const Entry& e) {
  return {{"file", e.file},
          {"op", e.op},
          {"role", e.role},
          {"tensor", e.tensor},
          {"input", e.input},
          {"shape", e.shape},
          {"bits", e.type.bits},
          {"signed", e.type.is_signed},
          {"format", to_string(e.format)},
          {"layout", e.layout},
          {"layout_kind", kind_name(e.spec.kind)},
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
}

std::string manifest_text(const Manifest& m) {
  ordered_json j;
  j["format"] = "chipref-vectors";
  j["version"] = m.version;
  j["tool_version"] = m.tool_version;
  j["model"] = m.model;
  j["model_sha256"] = m.model_sha256;
  j["config"] = m.config;
  j["config_sha256"] = m.config_sha256;
  j["inputs"] = {{"kind", m.inputs.kind}, {"path", m.inputs.path}, {"count", m.inputs.count}, {"sha256", m.inputs.sha256}};
  std::vector<std::string> formats;
  for (Format f : m.options.formats) formats.emplace_back(to_string(f));
  const Layout& l = m.options.layout;
  ordered_json per_layer = ordered_json::array();
  for (const LayerLayout& ll : m.options.layer_layouts)
    per_layer.push_back({{"match", ll.pattern}, {"layout", layout_text(ll.layout)}, {"word_bits", ll.word_bits},
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

std::string graph_hash(const std::string& model_dir) { return sha256_hex(read_file_bytes((fs::path(model_dir) / "graph.json").string())); }

std::string inputs_hash(const Tensor& inputs) {
  return sha256_hex(std::string(reinterpret_cast<const char*>(inputs.floats.data()), inputs.floats.size() * sizeof(float)));
}

Tensor load_inputs(const InputSource& s, const Normalisation& norm) {
  if (s.kind == "fashion-mnist") return load_fashion_mnist("t10k", s.count, norm).images;
  if (s.kind == "npy") return read_npy(s.path);
  throw InputError("vectors: unknown input source '" + s.kind + "'");
}
}  // namespace

Manifest write_vectors(const IntGraph& g, const std::string& model_dir, const Tensor& inputs, const InputSource& source, const std::string& dir,
                       const Options& options) {
  if (options.formats.empty()) throw InputError("vectors: at least one format is needed");
  if (!inputs.is_float()) throw InputError("vectors: inputs must be float32, got " + std::string(to_string(inputs.dtype)));
  Manifest m;
  m.tool_version = kVersion, m.model = model_dir, m.model_sha256 = graph_hash(model_dir), m.config = g.config_name;
  if (!g.config_name.empty() && is_existing_file(g.config_name)) m.config_sha256 = sha256_hex(read_file_bytes(g.config_name));
  m.inputs = source, m.options = options;
  m.inputs.sha256 = inputs_hash(inputs);
  Rendering r = render(g, inputs, options);
  m.entries = std::move(r.entries);
  // Written whole beside DIR and swapped in (core/staged_output.hpp): the old vectors stay valid until
  // the new ones are complete, and no file of an earlier run survives beside the new manifest.
  const fs::path target = output_target(dir);
  std::error_code error;
  if (fs::is_directory(target, error) && !fs::is_empty(target, error) && !is_existing_file(target / "manifest.json"))
    throw InputError(target.string() + ": exists and is not a vectors directory (no manifest.json); refusing to replace it");
  if (fs::exists(target, error) && !fs::is_directory(target, error)) throw InputError(target.string() + ": exists and is not a directory");
  StagedOutput staged(target, StagedOutput::Kind::directory);
  const fs::path& root = staged.staging();
  try {
    for (const auto& [file, content] : r.files) {
      fs::create_directories((root / file).parent_path());
      write_file_atomically((root / file).string(), content.bytes);
    }
    write_file_atomically((root / "manifest.json").string(), manifest_text(m));
  } catch (const fs::filesystem_error& e) {
    throw InputError(staged.as_target(describe_filesystem_error(e)));
  } catch (const InputError& e) {
    throw InputError(staged.as_target(e.what()));
  }
  staged.commit();
  return m;
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
      throw InputError(path + ": manifest version " + std::to_string(m.version) + "; this chipref reads version " + std::to_string(kManifestVersion));
    m.tool_version = j.at("tool_version"), m.model = j.at("model"), m.model_sha256 = j.at("model_sha256"), m.config = j.at("config");
    m.config_sha256 = j.at("config_sha256");
    m.inputs = InputSource{j.at("inputs").at("kind"), j.at("inputs").at("path"), json_integer(j.at("inputs").at("count"), path + ": inputs: count"),
                           j.at("inputs").at("sha256")};
    m.options.formats.clear();
    for (const auto& f : j.at("options").at("formats")) m.options.formats.push_back(parse_format(f.get<std::string>()));
    m.options.layers = j.at("options").at("layers"), m.options.accumulators = j.at("options").at("accumulators");
    auto bit_order = [&](const ordered_json& v) {
      const std::string o = v.get<std::string>();
      if (o != "lsb-first" && o != "msb-first") throw InputError(path + ": bit_order '" + o + "'; expected lsb-first or msb-first");
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
      LayerLayout x{ll.at("match").get<std::string>(), layout_in_manifest(ll.at("layout").get<std::string>()), json_integer<int>(ll.at("word_bits"), path + ": layer_layouts: word_bits")};
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
      x.layout = e.at("layout"), x.scale = e.at("scale"), x.zero_point = integer("zero_point"), x.elements = integer("elements"), x.bytes = integer("bytes");
      const std::string kind = e.at("layout_kind");
      const auto tile = json_integers(e.at("tile"), where + ": tile");
      if (kind == "tiled" && tile.size() != 2)
        throw InputError(where + ": a tiled layout's tile holds " + std::to_string(tile.size()) + " numbers; expected 2 (rows, columns)");
      x.spec = layout_in_manifest(kind == "tiled" ? "tiled:" + std::to_string(tile[0]) + "x" + std::to_string(tile[1]) : kind);
      x.spec.per_word = json_integer<int>(e.at("elements_per_word"), where + ": elements_per_word"), x.spec.msb_first = bit_order(e.at("bit_order"));
      x.stored = integer("stored_elements"), x.words = integer("words");
      if (checked_element_count(x.shape, where) != x.elements || stored_count(x.spec, x.shape) != x.stored ||
          x.words != (x.stored + x.spec.per_word - 1) / std::max(x.spec.per_word, 1))
        throw InputError(where + ": shape, elements, stored elements and words disagree");
      x.sha256 = e.at("sha256");
      if (x.file.find("..") != std::string::npos || (!x.file.empty() && x.file[0] == '/')) throw InputError(path + ": entry file '" + x.file + "' leaves the directory");
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

namespace {
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
      return fmt::format("; first differing element {} {}: got {}, expected {}", i, index_to_string(e.shape, static_cast<int64_t>(i)), code(have[i]),
                         code(want[i]));
  return "";
}

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

int64_t verify_vectors(const std::string& dir) {
  const Manifest m = read_manifest(dir);
  if (const std::vector<std::string> extra = unlisted_files(dir, m); !extra.empty())
    throw VerificationMismatch(fmt::format("{}: {} file(s) the manifest does not list, first {}; a vectors directory holds only what its "
                                           "manifest.json lists",
                                           dir, extra.size(), (fs::path(dir) / extra.front()).string()));
  std::set<std::string> checked;
  std::vector<const Entry*> bad;
  std::map<const Entry*, std::string> why;
  for (const Entry& e : m.entries) {
    if (!checked.insert(e.file).second) continue;
    const fs::path path = fs::path(dir) / e.file;
    if (!is_existing_file(path)) {
      bad.push_back(&e), why[&e] = "missing";
      continue;
    }
    const std::string bytes = read_file_bytes(path.string());
    const ElementType word = word_type(e.spec, e.type);
    const int64_t expected_size = e.format == Format::mem ? e.words * (word.hex_digits() + 1) : e.format == Format::bin ? e.words * word.bin_bytes() : e.bytes;
    if (static_cast<int64_t>(bytes.size()) != expected_size || static_cast<int64_t>(bytes.size()) != e.bytes) {
      bad.push_back(&e), why[&e] = std::to_string(bytes.size()) + " bytes; its shape and format need " + std::to_string(expected_size);
    } else if (sha256_hex(bytes) != e.sha256) {
      bad.push_back(&e), why[&e] = "SHA-256 differs from the manifest's";
    }
  }
  if (bad.empty()) return static_cast<int64_t>(checked.size());
  const Entry& first = *bad.front();
  std::string message = (fs::path(dir) / first.file).string() + ": " + why[&first];
  // Point at the first differing element by regenerating the file from the model and inputs.
  try {
    const IntGraph g = load_int_graph(m.model);
    if (graph_hash(m.model) != m.model_sha256) throw InputError("the model changed since the vectors were written");
    const Tensor inputs = load_inputs(m.inputs, g.preprocess);
    if (inputs_hash(inputs) != m.inputs.sha256) throw InputError("the inputs changed since the vectors were written");
    const Rendering r = render(g, inputs, m.options);
    const auto expected = r.files.find(first.file);
    if (expected != r.files.end() && is_existing_file(fs::path(dir) / first.file)) {
      const std::string got = read_file_bytes((fs::path(dir) / first.file).string());
      const ElementType word = word_type(first.spec, first.type);
      std::vector<int64_t> want = decode(expected->second.bytes, word, first.format, first.words, first.file);
      std::vector<int64_t> have;
      try {
        have = decode(got, word, first.format, first.words, first.file);
      } catch (const InputError& e) {
        message += std::string("; ") + e.what();
      }
      if (have.size() == want.size()) message += first_difference(first, logical_values(first, have), logical_values(first, want));
    }
  } catch (const InputError& e) {
    message += std::string(" (cannot regenerate it to locate the difference: ") + e.what() + ")";
  }
  if (bad.size() > 1) message += "; " + std::to_string(bad.size() - 1) + " more file(s) differ";
  throw VerificationMismatch(message);
}

namespace {
std::vector<LayerLayout> read_layouts_document(const std::string& path) {
  const YAML::Node root = load_yaml_file(path, "layout file");
  auto at = [&](const YAML::Node& n) { return path + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1); };
  if (!root.IsMap() || !root["layers"] || !root["layers"].IsSequence()) throw InputError(path + ": expected a mapping with a 'layers:' list");
  for (const auto& kv : root)
    if (kv.first.as<std::string>() != "layers") throw InputError(at(kv.first) + ": unknown key '" + kv.first.as<std::string>() + "'; expected layers");
  std::vector<LayerLayout> layouts;
  for (const YAML::Node& entry : root["layers"]) {
    if (!entry.IsMap() || !entry["match"]) throw InputError(at(entry) + ": each entry needs match: \"GLOB\" and at least one of layout, word_bits, bit_order");
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
          if (ll.word_bits < 0 || ll.word_bits > 64) throw InputError("word_bits " + std::to_string(ll.word_bits) + " is outside 0..64");
        } else if (key == "bit_order") {
          const std::string o = v.as<std::string>();
          if (o != "lsb-first" && o != "msb-first") throw InputError("bit_order '" + o + "'; expected lsb-first or msb-first");
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
