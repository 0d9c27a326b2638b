#pragma once
// SmoothQuant (Xiao et al. 2023): activation outliers sit in a few channels of a transformer's LayerNorm
// outputs, which makes a per-tensor activation scale coarse for every other channel. Channel j of such a
// tensor X is divided by s_j and the matching input row j of every linear layer reading X multiplied by it:
//   s_j = max|X_j|^α / max|W_j|^(1−α),
// max|X_j| over the calibration inputs, max|W_j| over row j of all the readers' weights. The division is
// folded into the producer (a LayerNorm's γ and β, or a linear layer's output columns and bias), so the
// float function is unchanged up to float32 rounding, and the IntGraph's ops are the same: only constants
// change. docs/numerics.md §16.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/graph.hpp"
#include "model/int_graph.hpp"

namespace chipref {

// A tensor whose channels (its last axis) were smoothed: one producer, and readers that are all linear
// layers with constant weights (through channel-preserving Transposes and Reshapes).
struct SmoothedTensor {
  std::string producer;              // a LayerNormalization, or a MatMul / Gemm with constant weights
  std::string activation;            // the tensor smoothed (its old name): the producer's output, after its bias Add
  std::vector<std::string> readers;  // the MatMul / Gemm nodes reading it
  double alpha = 0.5;
  std::vector<double> factors;       // s_j
  std::vector<std::string> renamed;  // the tensors from the producer to the readers (old names)

  ChannelRescaling rescaling() const { return {"smoothquant", producer, readers, factors, renamed, {}}; }
};

// Per-channel largest |x| of each named tensor over the calibration inputs (`channels[i]` values for
// tensors[i], the tensor's last axis).
using ChannelRanges = std::function<std::vector<std::vector<double>>(const std::vector<std::string>& tensors,
                                                                     const std::vector<int64_t>& channels)>;

// Smooths every tensor whose readers all ask for it (`alpha_of` gives a reader's α, or nothing when it
// does not ask) with the same α, measuring the tensors with `ranges` (one call, on the graph before any
// change), then applying the factors with apply_rescaling (quant/channel_views.hpp). The tensors between
// the producer and the readers get the suffix ".smoothed". Tensors where
// some reader does not ask, or whose producer or a reader is not of the kinds above, are left as they
// are; an InputError names two readers of one tensor that ask with different α.
std::vector<SmoothedTensor> smooth_activations(Graph& g,
                                               const std::function<std::optional<double>(const std::string&)>& alpha_of,
                                               const ChannelRanges& ranges);

}  // namespace chipref
