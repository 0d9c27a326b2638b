#pragma once
// sparse_decode: N:M compressed weights (kept values, packed indices) → dense weight codes
// (docs/numerics.md §13). A constant op: decoded once before any run, by whoever runs the graph.

#include "kernels/sparse.hpp"
#include "ops/op_def.hpp"

namespace chipref::ops {

const OpDef& sparse_decode_op_def();

}  // namespace chipref::ops

namespace chipref {

// The compressed weights a sparse_decode op reads, checked (InputError naming the op, row and group).
kernels::NmWeights nm_weights_of(const IntGraph& graph, const Node& sparse_decode);
// The dense weight codes a sparse_decode op writes, of its `shape` attribute.
Tensor decoded_weights(const IntGraph& graph, const Node& sparse_decode);
// The sparse_decode op writing `weights`, or null if a constant holds them.
const Node* sparse_decoder_of(const IntGraph& graph, const std::string& weights);
// A MAC's weight codes by name: the constant, or what the sparse_decode op producing it decodes.
Tensor mac_weight_codes(const IntGraph& graph, const std::string& name);

}  // namespace chipref
