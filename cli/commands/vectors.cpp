#include <fmt/format.h>

#include <filesystem>
#include <optional>
#include <sstream>

#include "cli/commands/commands.hpp"
#include "cli/commands/engine.hpp"
#include "model/io/datasets.hpp"
#include "model/io/idx.hpp"
#include "model/io/npy.hpp"
#include "vectors/vectors.hpp"

namespace chipref::cli {

namespace {
struct VectorsOptions {
  std::string model, output, input, data, formats = "mem", layers = "*", verify_dir, layout = "nchw",
                                          bit_order = "lsb-first", layout_config;
  int64_t count = 0;
  int word_bits = 0;
  bool no_accumulators = false;
  EngineChoice engine;
};

std::vector<vectors::Format> parse_formats(const std::string& list) {
  std::vector<vectors::Format> formats;
  std::stringstream s(list);
  for (std::string name; std::getline(s, name, ',');) {
    const vectors::Format f = vectors::parse_format(name);
    if (std::find(formats.begin(), formats.end(), f) == formats.end()) formats.push_back(f);
  }
  if (formats.empty()) throw InputError("--format: give at least one of mem, bin, npy, h");
  return formats;
}

int run_vectors(const VectorsOptions& o) {
  if (!is_int_graph_dir(o.model))
    throw InputError(o.model + ": not an IntGraph directory (no graph.json); vectors takes the output of quantize");
  if (o.input.empty() == o.data.empty()) throw InputError("vectors: give exactly one of --input X.npy and --data SPEC");
  const IntGraph graph = load_int_graph(o.model);
  vectors::InputSource source;
  Tensor inputs;
  if (!o.data.empty()) {
    if (o.count < 1) throw InputError("vectors: --data needs --count N (N >= 1)");
    DataRequest request;
    request.split = DataSplit::test;
    request.limit = o.count;
    request.preprocess = graph.preprocess;
    request.threads = o.engine.jobs;
    const std::unique_ptr<Dataset> data = open_dataset(o.data, request);
    if ((data->dtype() == DType::float32) != (graph.input_dtype == DType::float32))
      throw InputError("vectors: " + o.model + " takes " + std::string(to_string(graph.input_dtype)) + " inputs; " +
                       data->name() + " holds " + std::string(to_string(data->dtype())));
    source = vectors::data_input_source(o.data, data->count());
    inputs = data->rows(0, data->count());
    require_finite(inputs, data->name());
  } else {
    if (o.count > 0)
      throw InputError("vectors: --count applies to --data; with --input every input of " + o.input + " is written");
    source = {"npy", std::filesystem::absolute(o.input).string(), 0, ""};
    inputs = read_npy(o.input);
    require_finite(inputs, o.input);
    source.count = inputs.rank() > 0 ? inputs.shape[0] : 0;
  }
  vectors::Options options;
  options.formats = parse_formats(o.formats), options.layers = o.layers, options.accumulators = !o.no_accumulators;
  options.layout = vectors::parse_layout(o.layout);
  options.layout.msb_first = o.bit_order == "msb-first";
  options.word_bits = o.word_bits;
  if (!o.layout_config.empty()) options.layer_layouts = vectors::load_layer_layouts(o.layout_config);
  const std::unique_ptr<Engine> engine = make_engine(graph, o.engine);
  const vectors::Manifest m = vectors::write_vectors(graph, std::filesystem::absolute(o.model).string(), inputs, source,
                                                     o.output, options, *engine, o.engine.jobs);
  std::set<std::string> files;
  int64_t bytes = 0;
  for (const auto& e : m.entries)
    if (files.insert(e.file).second) bytes += e.bytes;
  fmt::print("{}: {} inputs -> {}: {} files ({} bytes), {} manifest entries\n", o.model, source.count, o.output,
             files.size(), bytes, m.entries.size());
  return 0;
}

int run_verify(const std::string& dir) {
  const int64_t files = vectors::verify_vectors(dir, make_engine_by_name);
  fmt::print("{}: {} files match manifest.json (sizes and SHA-256)\n", dir, files);
  return 0;
}
}  // namespace

void add_vectors_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<VectorsOptions>();
  auto* cmd = app.add_subcommand(
      "vectors",
      "Golden vectors for RTL testbenches: every op's integer inputs, constants and outputs, with manifest.json");
  cmd->add_option("QMODEL", o->model, "IntGraph directory written by quantize")->check(CLI::ExistingDirectory);
  cmd->add_option(
         "--input", o->input,
         "Inputs: a .npy [N, ...]: float32, already normalised (integers for a model whose input is token ids)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", o->data,
                  std::string("Inputs: the first --count of this source's test split, made by the IntGraph's "
                              "preprocessing: ") +
                      kDataSpecHelp);
  cmd->add_option("--count", o->count, "How many inputs with --data")->check(CLI::Range(int64_t{1}, int64_t{10000}));
  cmd->add_option("--format", o->formats,
                  "Comma-separated: mem ($readmemh hex), bin (little-endian), npy, h (C header)")
      ->capture_default_str();
  cmd->add_option("--layers", o->layers, "Glob over op names: which ops get files")->capture_default_str();
  cmd->add_option("--layout", o->layout,
                  "Element order: nchw (as computed), nhwc (4-D tensors), tiled:RxC (R×C tiles of the matrix view)")
      ->capture_default_str();
  cmd->add_option("--word-bits", o->word_bits,
                  "Bus width: pack floor(word_bits / element bits) elements a word (0: one element a word; a width "
                  "below a written tensor's element bits is an error)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  cmd->add_option("--bit-order", o->bit_order,
                  "Element 0 of a packed word in its low bits (lsb-first) or its high bits (msb-first)")
      ->check(CLI::IsMember({"lsb-first", "msb-first"}))
      ->capture_default_str();
  cmd->add_option("--layout-config", o->layout_config,
                  "YAML with per-op layouts (layers: [{match, layout, word_bits, bit_order}]), docs/vectors.md")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--no-accumulators", o->no_accumulators, "Leave out the MAC accumulators before requantization");
  cmd->add_option("-o,--output", o->output, "Output directory");
  add_engine_option(*cmd, o->engine, false, true);
  auto* verify = cmd->add_subcommand(
      "verify", "Re-hash every file of a vectors directory against manifest.json (exit 3 on a difference)");
  verify->add_option("DIR", o->verify_dir, "Directory written by chipref vectors")
      ->required()
      ->check(CLI::ExistingDirectory);
  verify->callback([&exit_code, o] { exit_code = run_verify(o->verify_dir); });
  cmd->callback([&exit_code, o, cmd, verify] {
    if (verify->parsed()) return;
    if (o->model.empty() || o->output.empty())
      throw CLI::ValidationError("vectors", "QMODEL and -o DIR are required (or: vectors verify DIR)");
    exit_code = run_vectors(*o);
  });
}

}  // namespace chipref::cli
