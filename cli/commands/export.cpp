#include <fmt/format.h>

#include "cli/commands/commands.hpp"
#include "core/files.hpp"
#include "model/sidecar.hpp"
#include "ops/op_def.hpp"
#include "ops/qdq_export.hpp"

namespace chipref::cli {

namespace {
struct ExportOptions {
  std::string model, output;
};

int run_export(const ExportOptions& o) {
  if (!is_int_graph_dir(o.model))
    throw InputError(o.model + ": not an IntGraph directory (no graph.json); export takes the output of quantize");
  const IntGraph graph = load_int_graph(o.model);
  write_output_file(o.output, export_qdq_onnx(graph));
  // The input normalisation travels in the sidecar, as for every model chipref reads.
  const std::string sidecar = sidecar_path(o.output);
  write_output_file(sidecar, sidecar_text(graph.preprocess, o.output,
                                          "Written by chipref export from " + o.model +
                                              "; read by chipref eval and quantize for the input preprocessing."));
  fmt::print("{}: QDQ ONNX (opset 13) -> {} (input normalisation in {})\n", o.model, o.output, sidecar);
  return 0;
}
}  // namespace

void add_export_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ExportOptions>();
  auto* cmd = app.add_subcommand("export",
                                 "Write an IntGraph as an ONNX QDQ model (QuantizeLinear/DequantizeLinear around float "
                                 "ops), e.g. for ONNX Runtime");
  cmd->add_option("QMODEL", o->model, "IntGraph directory written by quantize")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--output", o->output,
                  "Output ONNX file (a sidecar OUT.yaml with the input normalisation is written beside it)")
      ->required();
  cmd->callback([&exit_code, o] { exit_code = run_export(*o); });
}

}  // namespace chipref::cli
