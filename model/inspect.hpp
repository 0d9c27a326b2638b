#pragma once
// A per-node summary of a graph: op, shapes, parameters and multiply-accumulates, with totals.

#include <cstdint>
#include <string>
#include <vector>

#include "model/graph.hpp"

namespace chipref {

struct NodeSummary {
  std::string name, op_type;
  std::vector<std::string> input_shapes, output_shapes;  // "[1,16,28,28]", "?" where unknown
  int64_t params = 0;  // elements of the float initializers of rank >= 1 it reads (weights, bias, BN statistics)
  int64_t macs = 0;    // multiply-accumulates of Conv / Gemm / MatMul (and their integer forms)
};

struct GraphSummary {
  std::vector<NodeSummary> nodes;
  int64_t total_params = 0, total_macs = 0;
};

// Shapes come from shape inference; MACs need static shapes (import with a fixed batch size).
GraphSummary summarize(const Graph& graph);

}  // namespace chipref
