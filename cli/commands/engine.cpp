#include "cli/commands/engine.hpp"

#include "rtl_bridge/systemc_blocks.hpp"

namespace chipref::cli {

void add_engine_option(CLI::App& cmd, EngineChoice& choice, bool rtl_option, bool jobs_option) {
  cmd.add_option("--engine", choice.engine,
                 "direct: the plain C++ DirectEngine; systemc: the netlist of SystemC modules built from the "
                 "IntGraph's hardware "
                 "section (docs/systemc.md). Both give the same integers")
      ->check(CLI::IsMember({"direct", "systemc"}))
      ->capture_default_str();
  if (jobs_option)
    cmd.add_option("-j,--jobs", choice.jobs,
                   "Threads: images run concurrently (run: chunks of 8 images or a fixed-batch model's batch, and a "
                   "batch of one chunk inside its large layers; eval: whole batches side by side, read, decoded, "
                   "run and scored; vectors: one input each); outputs byte-identical to one thread")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
  if (rtl_option)
    cmd.add_option(
           "--rtl", choice.rtl,
           "With --engine systemc: run these blocks as their Verilated reference RTL inside the netlist (mulshift: "
           "rtl/mulshift_unit.sv behind a transaction-to-pin adapter; docs/cosim.md)")
        ->delimiter(',')
        ->check(CLI::IsMember(cosim::systemc_rtl_blocks()));
}

std::unique_ptr<SystemCEngine> make_systemc_engine(const IntGraph& graph, const EngineChoice& choice) {
  if (choice.rtl.empty()) return std::make_unique<SystemCEngine>(graph);
  return std::make_unique<SystemCEngine>(graph, graph.hardware, cosim::rtl_module_factory(choice.rtl));
}

std::unique_ptr<Engine> make_engine(const IntGraph& graph, const EngineChoice& choice, SparseKernel sparse) {
  if (!choice.rtl.empty() && choice.engine != "systemc")
    throw InputError("--rtl runs blocks inside the SystemC netlist: add --engine systemc");
  if (choice.engine == "systemc") {
    if (sparse == SparseKernel::skip_zero)
      throw InputError(
          "--sparse-kernel skip-zero applies to the direct engine; the SystemC engine's SparseDecoder feeds the MAC "
          "array dense weights");
    if (choice.jobs > 1)
      throw InputError("--jobs applies to the direct engine; the SystemC engine runs its netlist on one thread");
    return make_systemc_engine(graph, choice);
  }
  auto engine = std::make_unique<DirectEngine>(graph, sparse);
  engine->set_jobs(choice.jobs);
  return engine;
}

std::function<Tensor(const Tensor&)> make_runner(const IntGraph& graph, const EngineChoice& choice,
                                                 SparseKernel sparse) {
  std::shared_ptr<Engine> engine = make_engine(graph, choice, sparse);
  return [engine](const Tensor& x) { return engine->run(x); };
}

}  // namespace chipref::cli
