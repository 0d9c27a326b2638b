#pragma once
// The --engine option of run, eval and inspect: which engine runs an IntGraph.

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "model/int_graph.hpp"
#include "sim/direct_engine.hpp"
#include "sim/systemc/engine.hpp"

namespace chipref::cli {

struct EngineChoice {
  std::string engine = "direct";  // direct | systemc
};

void add_engine_option(CLI::App& cmd, EngineChoice& choice);

// A runner over `graph` (which must outlive it). skip_zero applies to the DirectEngine only; the
// SystemC engine models the SparseDecoder in front of the array, so asking it for skip-zero is an error.
std::function<Tensor(const Tensor&)> make_runner(const IntGraph& graph, const EngineChoice& choice, SparseKernel sparse = SparseKernel::decode);

}  // namespace chipref::cli
