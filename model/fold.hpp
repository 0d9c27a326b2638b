#pragma once
// Constant folding. PyTorch exports a dynamic batch dimension as shape arithmetic (Shape → Gather →
// Unsqueeze → Concat → Reshape / Expand); once the batch is fixed (ImportOptions::batch_size) every such
// chain is constant. Folding evaluates each node whose inputs are all constant, and each Shape node
// whose input shape is fully known, with the float executor, and replaces it by an initializer.

#include <functional>
#include <string>

#include "model/graph.hpp"

namespace chipref {

struct FoldResult {
  int nodes_folded = 0;
  int shapes_measured = 0;    // by measure_unknown_shapes, between folding passes
  std::string measure_error;  // why shapes could not be measured ("" if they could or needed not)
};

// Folds to a fixpoint: after each pass that folded something, shapes that ONNX's inference left unknown
// are measured (when every graph input shape is static), which can make more Shape nodes constant.
// Nodes for which `keep` returns true are never folded (a pre-quantized model keeps its
// DequantizeLinear of integer weights: the codes are what the integer network needs).
FoldResult fold_constants(Graph& graph, const std::function<bool(const Node&)>& keep = {});

// A graph whose input has a dynamic batch (axis 0) and whose shape arithmetic on it survived
// fold_constants: folds two copies with the batch fixed to two probe sizes and keeps what does not
// depend on the batch. A folded constant that does must be a Reshape target with one entry proportional
// to the batch (it becomes -1) or a float tensor repeated along axis 0 (it becomes its first slice behind
// a chipref BatchBroadcast node); anything else is an InputError naming the node that reads it. Value
// shapes that differ between the probes get -1 there. Returns the number of nodes folded away (0 when
// the graph has static inputs or no Shape node).
int fold_dynamic_batch(Graph& graph, const std::function<bool(const Node&)>& keep = {});

// Shapes that ONNX's shape inference left unknown (behind shape arithmetic it cannot follow), measured by
// running the float executor once on all-zero inputs; needs static graph input shapes. Returns how
// many value shapes it filled in; on an executor error it fills none and returns the error text.
struct MeasuredShapes {
  int filled = 0;
  std::string error;
};
MeasuredShapes measure_unknown_shapes(Graph& graph);

}  // namespace chipref
