#pragma once
// The calibration inputs of one MAC layer, as the weight-rounding algorithms and bias correction need
// them (quant/weight_rounding.hpp): the moments of its input columns, from the float network and from the
// network quantized up to the layer, gathered batch by batch so that memory does not depend on the
// number of calibration images (only on the layer: d × d per group).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/executor.hpp"
#include "model/graph.hpp"
#include "model/io/samples.hpp"
#include "quant/weight_rounding.hpp"

namespace chipref {

// How a layer reads its input tensor as columns: a 2-D convolution's im2col columns ((C/G)·kh·kw values
// per output position and group, in the weights' [C/G, kh, kw] order; zero outside the input, which is
// the real value padding stands for), or a matrix product's rows of the last axis (one group).
struct MacInputGeometry {
  bool conv = false;
  int64_t groups = 1, kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t features = 0;  // a matrix product's inputs per row (its last axis)

  static MacInputGeometry of_conv(const Node& conv, const Shape& weights);
  static MacInputGeometry of_linear(int64_t in_features);
  int64_t columns(int64_t channels) const;  // d, per group, of an input with `channels` (conv: axis 1)
};

// Adds one batch, x through the float network and x_hat through the quantized one (the same inputs, the
// same shape), to the moments of each group.
void accumulate_moments(const Tensor& x, const Tensor& x_hat, const MacInputGeometry& g,
                        std::vector<LayerInputMoments>& groups);

// Where a layer's input is in one of the two graphs: computed by its first `nodes` nodes, tensor `tensor`.
struct GraphPrefix {
  size_t nodes = 0;
  std::string tensor;
};

// Runs the calibration images through both graphs up to the layer's input (`in_float`, `in_quantized`: the
// quantized graph may hold more nodes, such as a block layer's input conversion), `quantized_hook` seeing
// each tensor of the quantized one (it fake-quantizes what the integer network holds as codes), and
// `quantize_input` the graph input first; returns the moments of the input per group. Batches in order,
// one at a time: the sums are the same in every run.
std::vector<LayerInputMoments> collect_layer_moments(const Graph& float_graph, const Graph& quantized_graph,
                                                     const GraphPrefix& in_float, const GraphPrefix& in_quantized,
                                                     const MacInputGeometry& g, const SampleSource& images,
                                                     const std::function<void(Tensor&)>& quantize_input,
                                                     const OutputHook& quantized_hook, const std::string& label);

}  // namespace chipref
