#include <fmt/format.h>

#include "cli/commands/commands.hpp"
#include "cli/commands/engine.hpp"
#include "model/io/npy.hpp"

namespace chipref::cli {

namespace {
struct RunOptions {
  std::string model, input, output;
  EngineChoice engine;
};

int run_run(const RunOptions& o) {
  if (!is_int_graph_dir(o.model))
    throw InputError(o.model + ": not an IntGraph directory (no graph.json); run takes the output of quantize");
  const IntGraph graph = load_int_graph(o.model);
  const Tensor x = read_npy(o.input);
  require_finite(x, o.input);
  const Tensor y = make_runner(graph, o.engine)(x);
  write_npy(o.output, y);
  fmt::print("{}: {} {} -> {} {}\n", o.model, o.input, shape_to_string(x.shape), o.output, shape_to_string(y.shape));
  return 0;
}
}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run",
                                 "Run an IntGraph on a .npy input (float32, already normalised; or token ids) with the "
                                 "DirectEngine or the SystemC engine");
  cmd->add_option("QMODEL", o->model, "IntGraph directory written by quantize")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option(
         "--input", o->input,
         "Input tensor (.npy of the model's input shape: float32, or integers for a model whose input is token ids)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", o->output, "Output tensor (.npy, float32)")->required();
  add_engine_option(*cmd, o->engine, true, true);
  cmd->callback([&exit_code, o] { exit_code = run_run(*o); });
}

}  // namespace chipref::cli
