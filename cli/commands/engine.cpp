#include "cli/commands/engine.hpp"

namespace chipref::cli {

void add_engine_option(CLI::App& cmd, EngineChoice& choice) {
  cmd.add_option("--engine", choice.engine,
                 "direct: the plain C++ DirectEngine; systemc: the netlist of SystemC modules built from the IntGraph's hardware "
                 "section (docs/systemc.md). Both give the same integers")
      ->check(CLI::IsMember({"direct", "systemc"}))
      ->capture_default_str();
}

std::function<Tensor(const Tensor&)> make_runner(const IntGraph& graph, const EngineChoice& choice, SparseKernel sparse) {
  if (choice.engine == "systemc") {
    if (sparse == SparseKernel::skip_zero)
      throw InputError("--sparse-kernel skip-zero applies to the direct engine; the SystemC engine's SparseDecoder feeds the MAC array dense weights");
    auto engine = std::make_shared<SystemCEngine>(graph);
    return [engine](const Tensor& x) { return engine->run(x); };
  }
  auto engine = std::make_shared<DirectEngine>(graph, sparse);
  return [engine](const Tensor& x) { return engine->run(x); };
}

}  // namespace chipref::cli
