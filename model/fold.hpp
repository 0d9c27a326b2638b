#pragma once
// Constant folding. PyTorch exports a dynamic batch dimension as shape arithmetic (Shape → Gather →
// Unsqueeze → Concat → Reshape / Expand); once the batch is fixed (ImportOptions::batch_size) every such
// chain is constant. Folding evaluates each node whose inputs are all constant, and each Shape node
// whose input shape is fully known, with the float executor, and replaces it by an initializer.

#include "model/graph.hpp"

namespace chipref {

struct FoldResult {
  int nodes_folded = 0;
};

FoldResult fold_constants(Graph& graph);

}  // namespace chipref
