#pragma once
// Cross-layer equalization (Nagel et al. 2019, "Data-free quantization"): for two MAC layers in a row,
// L1 → [Relu] → L2, output channel i of L1 is divided by s_i and input channel i of L2 multiplied by it,
// s_i = √(r1_i / r2_i) with r the largest |weight| of the channel, so that both end with the range
// √(r1_i · r2_i). ReLU(x / s) = ReLU(x) / s for s > 0, so the float function is unchanged (up to float32
// rounding); the per-tensor ranges of the weights (and of L1's output) become even across channels.
// Chains (L1 → L2 → L3) are equalized pair by pair until the factors settle. docs/numerics.md §16.

#include <functional>
#include <string>

#include "model/graph.hpp"
#include "model/int_graph.hpp"

namespace chipref {

struct EqualizedPair {
  std::string first, second;           // the two MAC nodes
  std::vector<double> factors;         // s_i (the product over the rounds)
  std::vector<std::string> renamed;    // the tensors between them (old names)
  std::vector<std::string> unclipped;  // the Clip between them that became a Relu (through_clip)

  ChannelRescaling rescaling() const { return {"equalization", first, {second}, factors, renamed, unclipped}; }
};

struct EqualizationChoice {
  bool equalize = false;
  bool through_clip = false;  // a Clip from 0 between the pair (ReLU6) becomes a Relu
};

// Equalizes every pair whose first layer `choose` asks for (by node name): L1 a Conv (any groups) or Gemm
// with constant weights and bias; L2 a Conv (groups 1, or depthwise over L1's channels), Gemm or MatMul with
// constant weights; between them nothing or a Relu (or, with through_clip, a Clip from 0, which becomes a
// Relu), every tensor and weight read by these nodes only. Anything else in between (an Add, a pool) is not
// positively homogeneous channel by channel, and such pairs are left as they are. Returns the pairs
// equalized; the graph is changed by apply_rescaling of each (quant/channel_views.hpp).
std::vector<EqualizedPair> equalize_cross_layer(Graph& g,
                                                const std::function<EqualizationChoice(const std::string&)>& choose);

}  // namespace chipref
