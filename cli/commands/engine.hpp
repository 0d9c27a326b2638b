#pragma once
// The --engine option of run, eval, inspect and vectors: which engine runs an IntGraph (and --rtl: which
// blocks of the SystemC netlist are Verilated RTL).

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/int_graph.hpp"
#include "sim/direct_engine.hpp"
#include "sim/systemc/engine.hpp"

namespace chipref::cli {

struct EngineChoice {
  std::string engine = "direct";  // direct | systemc
  std::vector<std::string> rtl;   // systemc: blocks run as Verilated RTL inside the netlist
  int jobs = 1;                   // direct: threads over the chunks of a batch (vectors: over the inputs)
};

// --engine, with `rtl_option` also --rtl, with `jobs_option` also -j/--jobs (commands that run batches
// without a trace).
void add_engine_option(CLI::App& cmd, EngineChoice& choice, bool rtl_option = true, bool jobs_option = false);

// The SystemC engine of `choice` (its --rtl blocks swapped in) over `graph`, which must outlive it.
std::unique_ptr<SystemCEngine> make_systemc_engine(const IntGraph& graph, const EngineChoice& choice);

// The engine `choice` names over `graph` (which must outlive it). skip_zero applies to the DirectEngine
// only; the SystemC engine models the SparseDecoder in front of the array, so asking it for skip-zero is
// an error.
std::unique_ptr<Engine> make_engine(const IntGraph& graph, const EngineChoice& choice,
                                    SparseKernel sparse = SparseKernel::decode);
// The same as a function of its input (the engine shared by the copies of the function).
std::function<Tensor(const Tensor&)> make_runner(const IntGraph& graph, const EngineChoice& choice,
                                                 SparseKernel sparse = SparseKernel::decode);

}  // namespace chipref::cli
