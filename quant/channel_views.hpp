#pragma once
// How one channel lies in a constant weight tensor, for the float passes that rescale channels without
// changing the function (cross-layer equalization, SmoothQuant): a producer's output channel (divided by a
// factor, its bias with it) and a consumer's input channel (multiplied by it).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "model/graph.hpp"
#include "model/int_graph.hpp"

namespace chipref {

struct ChannelView {
  Tensor* weights = nullptr;
  Tensor* bias = nullptr;  // a producer's, scaled with its output channel
  int64_t channels = 0;
  // Element e of channel c is floats[c · channel_step + (e / run) · stride + e % run], e < count.
  int64_t count = 0, run = 1, stride = 0, channel_step = 0;

  template <class F>
  void for_each(int64_t c, F f) const {
    for (int64_t e = 0; e < count; ++e)
      f(weights->floats[static_cast<size_t>(c * channel_step + (e / run) * stride + e % run)]);
  }
  // The channel's largest |w|.
  double range(int64_t c) const {
    double r = 0;
    for_each(c, [&](float w) { r = std::max(r, static_cast<double>(std::fabs(w))); });
    return r;
  }
  // Divides output channel c (and its bias) by s.
  void divide(int64_t c, double s) const {
    const float down = static_cast<float>(1 / s);
    for_each(c, [&](float& w) { w *= down; });
    if (bias) bias->floats[static_cast<size_t>(c)] *= down;
  }
  void multiply(int64_t c, double s) const {
    const float up = static_cast<float>(s);
    for_each(c, [&](float& w) { w *= up; });
  }
};

// A Gemm with alpha = beta = 1 and A not transposed: its channels are those of its weight B.
bool is_plain_gemm(const Node& n);

// The output channels of a Conv ([out, ...] weights) or a plain Gemm (B [in, out], or [out, in] with
// transB), with its constant bias when it has one; false for anything else or non-constant weights.
bool output_channel_view(Graph& g, const Node& n, ChannelView& v);

// The input channels of a Conv (groups 1, or depthwise over `channels`), a plain Gemm or a MatMul with a
// constant 2-D [in, out] weight; false for anything else, or when the channel count is not `channels`.
bool input_channel_view(Graph& g, const Node& n, int64_t channels, ChannelView& v);

// The output channels of a producer whose channels lie on its output's last axis: a LayerNormalization (γ,
// with β as its bias), a MatMul with a constant [K, C] weight (its columns; its bias is the constant [C]
// vector an Add adds when that Add is the product's only reader), a plain Gemm. `output` gets the tensor
// that holds the channels (the Add's output for a MatMul with a bias). False for anything else.
bool channel_last_producer_view(Graph& g, const Node& n, ChannelView& v, std::string& output);

// Applies a recorded rescaling (IntGraph::rescalings) to the graph it was computed on (the model after
// prepare_for_quantization, and the rescalings before it in order): divides the producer's output channels,
// multiplies the readers' input channels, renames the tensors. This is the one place that changes the
// constants, so quantize and a replay give the same float32 values. InputError when the graph lacks a
// node, or a node's channels are not what the record says.
void apply_rescaling(Graph& g, const ChannelRescaling& r);
const char* rescaling_suffix(const std::string& pass);  // ".equalized", ".smoothed"

// Renames tensors (node inputs and outputs, value infos): a pass gives the tensors whose channels it
// rescaled new names, so that nothing compares them with the original graph's tensors of the old names (the
// dual-path report finds no float reference for them rather than a wrong one).
void rename_tensors(Graph& g, const std::map<std::string, std::string>& renamed);

}  // namespace chipref
