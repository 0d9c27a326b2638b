#pragma once
// A MacArray's boundary streams in its tile order (docs/systemc.md, "Tile streams"). A MAC layer is
// G matrix products X_g [P, K] · W_gᵀ [K, M] → A_g [P, M] (the op definition's MacMatrixView,
// ops/op_def.hpp; a padded conv position holds the input zero point). With R = rows, C = cols:
//   weight-stationary, tiles t = (g, ct, kt) for ct < ⌈M/C⌉, kt < ⌈K/R⌉ (kt fastest):
//     weights      [tiles, R, C]   w[r][c] = W_g[ct·C + c][kt·R + r]
//     activations  [tiles, P, R]   a[p][r] = X_g[p][kt·R + r]
//     accumulators [G·⌈M/C⌉, P, C] drained after the last kt of (g, ct): A_g[p][ct·C + c]
//   output-stationary, tiles t = (g, pt, ct) for pt < ⌈P/R⌉, ct < ⌈M/C⌉ (ct fastest):
//     weights      [tiles, K, C]   w[k][c] = W_g[ct·C + c][k]
//     activations  [tiles, K, R]   a[k][r] = X_g[pt·R + r][k]
//     accumulators [tiles, R, C]   A_g[pt·R + r][ct·C + c]
// Positions past P and reduction indices past K carry the activation zero point, channels past M a
// zero weight (the second operand's zero point for matmul) and a zero accumulator: padding that
// contributes nothing. The accumulators include the bias (its initial value).

#include "model/int_graph.hpp"
#include "sim/direct_engine.hpp"

namespace chipref {

// `input` and `accumulators` are the op's tensors for one transaction; `second` the second operand
// (matmul) or the dense weight codes (conv, linear). With `accumulator_index`, also each accumulator
// slot's row-major index in `accumulators` (−1 for padding), for reports in the tensor's coordinates.
TileStreams mac_tile_streams(const Node& op, const HardwareConfig& hw, const CodeTensor& input,
                             int32_t input_zero_point, const CodeTensor& second, int32_t second_zero_point,
                             const CodeTensor& accumulators, std::vector<int64_t>* accumulator_index = nullptr);

}  // namespace chipref
