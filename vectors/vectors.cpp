#include "vectors/vectors.hpp"

#include <fnmatch.h>

#include <fmt/format.h>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/parallel.hpp"
#include "core/progress.hpp"
#include "core/version.hpp"
#include "model/io/datasets.hpp"
#include "model/io/idx.hpp"
#include "model/io/npy.hpp"
#include "ops/boundaries.hpp"
#include "ops/mac.hpp"
#include "ops/op_def.hpp"
#include "ops/sparse_decode.hpp"

namespace chipref::vectors {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

// A file-system-safe name for a tensor: its index among the tensors written (first use in op order),
// then its name with anything unsafe replaced.
std::string safe_name(size_t index, const std::string& name) {
  std::string safe;
  for (char c : name)
    safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') ? c : '_';
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
    case DType::int8:
      return {8, true};
    case DType::uint8:
      return {8, false};
    case DType::int16:
      return {16, true};
    case DType::uint16:
      return {16, false};
    case DType::int32:
      return {32, true};
    default:
      return {64, true};
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

// "tiled16x16_w64_msb": a layout in a file name.
std::string layout_tag(const Layout& l, int word_bits) {
  std::string tag = layout_kind_name(l.kind);
  if (l.kind == Layout::Kind::tiled) tag += std::to_string(l.tile_rows) + "x" + std::to_string(l.tile_cols);
  if (word_bits > 0) tag += "_w" + std::to_string(word_bits);
  if (l.msb_first) tag += "_msb";
  return tag;
}

Rendering render(const IntGraph& g, const Tensor& inputs, const Options& options, Engine& engine, int jobs = 1) {
  Rendering r;
  std::map<std::string, size_t> tensor_index;  // first use order, for file names
  auto index_of = [&](const std::string& tensor) {
    const auto it = tensor_index.find(tensor);
    if (it != tensor_index.end()) return it->second;
    const size_t i = tensor_index.size();
    tensor_index[tensor] = i;
    return i;
  };
  std::map<std::string, size_t>
      stream_index;               // MacArrays with tile streams, numbered apart (the tensors' names stay as without)
  std::set<std::string> decoded;  // tensors a constant op (sparse_decode) computes: constants too
  for (const Node& op : g.ops)
    if (ops::has_role(op, ops::OpRole::constant)) decoded.insert(op.outputs.begin(), op.outputs.end());
  if (options.word_bits < 0 || options.word_bits > 64)
    throw InputError("vectors: word_bits " + std::to_string(options.word_bits) + " is outside 0..64");
  // A constant's element type, or that of weights a sparse_decode op produces (signed, the value's bits).
  auto stored_type = [&](const std::string& tensor) {
    // Weights (or an N:M layer's kept values) at the hardware's element width, not their container's.
    const std::string suffix = ".values", weights = constant_role(tensor) == "values"
                                                        ? tensor.substr(0, tensor.size() - suffix.size())
                                                        : tensor;
    if (const auto w = g.weights.find(weights); w != g.weights.end())
      return ElementType{w->second.format.bits(), w->second.format.is_signed()};
    const auto c = g.constants.find(tensor);
    return c != g.constants.end() ? constant_type(tensor, c->second)
                                  : ElementType{g.values.at(tensor).quant.format.bits(), true};
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
    if (layout.kind != options.layout.kind || layout.tile_rows != options.layout.tile_rows ||
        layout.tile_cols != options.layout.tile_cols || layout.msb_first != options.layout.msb_first ||
        word_bits != options.word_bits)
      tag = "." + layout_tag(layout, word_bits);
    e.file += tag;
    e.spec = layout, e.layout = layout_name(layout, e.shape);
    if (word_bits > 0 && word_bits < e.type.bits)
      throw InputError(
          fmt::format("vectors: a word of {} bits is narrower than the {}-bit elements of '{}' ({} of op '{}'); a word "
                      "holds at least "
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
            e.spec.per_word > 1
                ? fmt::format("words of {} {}-bit elements ({}) of the tensor {} in the layout {}", e.spec.per_word,
                              e.type.bits,
                              e.spec.msb_first ? "element 0 in the high bits" : "element 0 in the low bits",
                              shape_to_string(e.shape), e.layout)
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
  if (options.engine != engine.name())
    throw std::logic_error("vectors: the options name the " + options.engine + " engine; rendered with the " +
                           engine.name() + " engine");
  const HardwareConfig* arrays = engine.tile_streams_hardware();
  const int64_t n = inputs.rank() > 0 ? inputs.shape[0] : 0;
  std::vector<RunTrace> traces(static_cast<size_t>(n));
  {
    ProgressBar progress("vectors", n);
    int64_t done = 0;
    std::mutex progress_mutex;
    for_each_index_in_parallel(n, engine.runs_concurrently() ? jobs : 1, [&](int64_t i) {
      engine.run(rows_of(inputs, i, 1), &traces[i]);
      const std::lock_guard<std::mutex> lock(progress_mutex);
      progress.update(++done);
    });
  }
  for (const Node& op : g.ops) {
    if (fnmatch(options.layers.c_str(), op.name.c_str(), 0) != 0) continue;
    std::vector<std::pair<std::string, std::string>> tensors;  // (role, tensor)
    auto is_constant = [&](const std::string& t) { return g.constants.count(t) != 0 || decoded.count(t) != 0; };
    int activation_inputs = 0;
    for (const auto& in : op.inputs) activation_inputs += g.values.count(in) && !is_constant(in);
    int a = 0;
    for (const auto& in : op.inputs) {
      if (is_constant(in))
        tensors.emplace_back(constant_role(in), in);
      else if (g.values.count(in))
        tensors.emplace_back(activation_inputs > 1 ? "input" + std::to_string(a++) : "input", in);
    }
    for (const auto& out : op.outputs) {
      if (!g.values.count(out)) continue;  // the float output of dequantize
      const ops::VectorRole role = ops::op_def(op).vector_role;
      if (role == ops::VectorRole::accumulator && !options.accumulators) continue;
      tensors.emplace_back(role == ops::VectorRole::weight_dense  ? "weight_dense"
                           : role == ops::VectorRole::accumulator ? "accumulator"
                                                                  : "output",
                           out);
    }
    for (const auto& [role, tensor] : tensors) {
      Entry e;
      e.op = op.name, e.role = role, e.tensor = tensor;
      if (is_constant(tensor)) {
        const Tensor t = g.constants.count(tensor) ? g.constants.at(tensor) : mac_weight_codes(g, tensor);
        e.file = "constants/" + safe_name(index_of(tensor), tensor);
        e.shape = t.shape, e.elements = t.numel();
        e.type = stored_type(tensor);
        if (const auto w = g.weights.find(tensor); w != g.weights.end()) e.zero_points = w->second.zero_points;
        if (const auto& facts = ops::op_def(op).block_facts) {
          // A block-format layer's constants at their own widths: element codes and E8M0 scale codes
          // (unsigned bit patterns), the bias as float32 bit patterns; codes and scales name each other.
          const ops::BlockMacFacts f = facts(g, op);
          const bool codes = tensor == op.inputs.at(1), scales = tensor == op.inputs.at(2);
          e.type = codes    ? ElementType{f.weight_bits, false}
                   : scales ? ElementType{f.scale_bits, false}
                            : ElementType{32, false};
          if (codes || scales) {
            e.block_format = op.get_string("weight_format"), e.block_size = f.block_size;
            e.block_partner = codes ? op.inputs.at(2) : op.inputs.at(1);
          }
        }
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
    // A block-format layer also gives the operands it converts at run time as it converts them: element codes
    // and scale codes, what a block-format datapath multiplies (docs/vectors.md).
    if (const auto& operands = ops::op_def(op).block_operands) {
      const ops::BlockMacFacts f = ops::op_def(op).block_facts(g, op);
      for (int64_t i = 0; i < n; ++i) {
        std::vector<const CodeTensor*> inputs;
        for (const std::string& input : op.inputs) {
          const auto it = traces[i].values.find(input);
          inputs.push_back(it == traces[i].values.end() ? nullptr : &it->second);
        }
        for (const ops::BlockOperandCodes& o : operands(g, op, inputs)) {
          const std::string codes_name = op.name + "." + o.name + ".codes",
                            scales_name = op.name + "." + o.name + ".scales";
          for (const auto& [role, tensor, t, bits, partner] :
               {std::tuple{o.name + "_codes", codes_name, &o.codes, o.bits, scales_name},
                std::tuple{o.name + "_scales", scales_name, &o.scales, f.scale_bits, codes_name}}) {
            Entry e;
            e.op = op.name, e.role = role, e.tensor = tensor, e.input = i;
            e.file = input_dir(i) + safe_name(index_of(tensor), tensor);
            e.shape = t->shape, e.elements = t->numel(), e.type = ElementType{bits, false};
            e.block_format = o.format, e.block_size = f.block_size, e.block_partner = partner;
            add(e, t->ints);
          }
        }
      }
    }
    // An engine that models MAC arrays (SystemC's MacArrays) also gives their interface streams in tile
    // order (docs/systemc.md).
    if (!arrays || !ops::is_mac(op)) continue;
    const IntValue* second =
        ops::op_def(op).mac == ops::MacOperand::activation ? &g.values.at(op.inputs.at(1)) : nullptr;  // not weights
    // Constant weights stream as the array multiplies them, code − zero point: one bit wider and signed when some
    // zero point is not 0.
    const auto weights = g.weights.find(op.inputs.at(1));
    const ElementType stream_weight_type =
        second ? ElementType{second->quant.format.bits(), second->quant.format.is_signed()}
        : weights != g.weights.end() && !weights->second.zero_is_code_0()
            ? ElementType{weights->second.format.bits() + 1, true}
            : stored_type(op.inputs.at(1));
    const IntValue& in = g.values.at(op.inputs.at(0));
    const IntValue& acc = g.values.at(op.outputs.at(0));
    const std::string tag = ".tiles_" + std::to_string(arrays->mac_rows) + "x" + std::to_string(arrays->mac_cols) +
                            "_" + (arrays->dataflow == Dataflow::weight_stationary ? "ws" : "os");
    for (int64_t i = 0; i < n; ++i) {
      const auto it = traces[i].tile_streams.find(op.name);
      if (it == traces[i].tile_streams.end())
        throw InputError(op.describe() + ": the SystemC run produced no tile streams");
      const std::pair<const char*, std::pair<const CodeTensor*, ElementType>> parts[] = {
          {"weights", {&it->second.weights, stream_weight_type}},
          {"activations", {&it->second.activations, ElementType{in.quant.format.bits(), in.quant.format.is_signed()}}},
          {"accumulators",
           {&it->second.accumulators, ElementType{acc.quant.format.bits(), acc.quant.format.is_signed()}}}};
      for (const auto& [part, stream] : parts) {
        Entry e;
        e.op = op.name, e.role = std::string("tiles_") + part, e.tensor = op.outputs[0], e.input = i;
        e.file = input_dir(i) + "tiles/" +
                 safe_name(stream_index.emplace(op.name, stream_index.size()).first->second, op.name + tag) + "." +
                 part;
        e.shape = stream.first->shape, e.elements = static_cast<int64_t>(stream.first->data.size()),
        e.type = stream.second;
        if (std::string(part) == "activations") e.scale = in.quant.scale, e.zero_point = in.quant.zero_point;
        add(e, std::vector<int64_t>(stream.first->data.begin(), stream.first->data.end()));
      }
    }
  }
  return r;
}

Tensor load_inputs(const InputSource& s, const Preprocess& norm) {
  if (s.kind == "fashion-mnist") return load_fashion_mnist("t10k", s.count, norm).images;
  if (s.kind == "npy") return read_npy(s.path);
  if (s.kind == "data") {
    DataRequest request;
    request.split = DataSplit::test;
    request.limit = s.count;
    request.preprocess = norm;
    const std::unique_ptr<Dataset> data = open_dataset(s.path, request);
    return data->rows(0, data->count());
  }
  throw InputError("vectors: unknown input source '" + s.kind + "'");
}
}  // namespace

InputSource data_input_source(const std::string& spec, int64_t count) {
  return spec == "fashion-mnist" ? InputSource{"fashion-mnist", "", count, ""}
                                 : InputSource{"data", absolute_data_spec(spec), count, ""};
}

Manifest write_vectors(const IntGraph& g, const std::string& model_dir, const Tensor& inputs, const InputSource& source,
                       const std::string& dir, Options options, Engine& engine, int jobs) {
  options.engine = engine.name();
  if (options.formats.empty()) throw InputError("vectors: at least one format is needed");
  try {
    check_input(g, inputs);
  } catch (const InputError& e) {
    throw InputError(std::string("vectors: ") + e.what());
  }
  Manifest m;
  m.tool_version = kVersion, m.model = model_dir, m.model_sha256 = model_hash(model_dir), m.config = g.config_name;
  if (!g.config_name.empty() && is_existing_file(g.config_name))
    m.config_sha256 = sha256_hex(read_file_bytes(g.config_name));
  m.inputs = source, m.options = options;
  m.inputs.sha256 = inputs_hash(inputs);
  Rendering r = render(g, inputs, options, engine, jobs);
  m.entries = std::move(r.entries);
  // Written whole beside DIR and swapped in (core/staged_output.hpp): the old vectors stay valid until
  // the new ones are complete, and no file of an earlier run survives beside the new manifest.
  const fs::path target = output_target(dir);
  std::error_code error;
  if (fs::is_directory(target, error) && !fs::is_empty(target, error) && !is_existing_file(target / "manifest.json"))
    throw InputError(target.string() +
                     ": exists and is not a vectors directory (no manifest.json); refusing to replace it");
  if (fs::exists(target, error) && !fs::is_directory(target, error))
    throw InputError(target.string() + ": exists and is not a directory");
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

int64_t verify_vectors(const std::string& dir, const EngineMaker& make_engine) {
  const Manifest m = read_manifest(dir);
  const FileCheck c = check_files(dir, m);
  if (c.bad.empty()) return c.checked;
  const Entry& first = *c.bad.front().entry;
  std::string message = (fs::path(dir) / first.file).string() + ": " + c.bad.front().why;
  // Point at the first differing element by regenerating the file from the model and inputs.
  try {
    const IntGraph g = load_int_graph(m.model);
    if (model_hash(m.model) != m.model_sha256) throw InputError("the model changed since the vectors were written");
    const Tensor inputs = load_inputs(m.inputs, g.preprocess);
    if (inputs_hash(inputs) != m.inputs.sha256) throw InputError("the inputs changed since the vectors were written");
    const std::unique_ptr<Engine> engine = make_engine(g, m.options.engine);
    const Rendering r = render(g, inputs, m.options, *engine);
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
      if (have.size() == want.size())
        message += first_difference(first, logical_values(first, have), logical_values(first, want));
    }
  } catch (const InputError& e) {
    message += std::string(" (cannot regenerate it to locate the difference: ") + e.what() + ")";
  }
  if (c.bad.size() > 1) message += "; " + std::to_string(c.bad.size() - 1) + " more file(s) differ";
  throw VerificationMismatch(message);
}

}  // namespace chipref::vectors
