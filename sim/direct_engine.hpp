#pragma once
// The DirectEngine runs an IntGraph with the sim/kernels functions, in plain C++. Parameters (weights
// as int32, per-channel multipliers) are prepared once; a run touches no float between the input
// quantize and the output dequantize.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/int_graph.hpp"
#include "quant/numerics/accumulator.hpp"
#include "sim/kernels/sparse.hpp"

namespace chipref {

// An integer tensor at run time: codes (or accumulators) in int32.
struct CodeTensor {
  Shape shape;
  std::vector<int32_t> data;
};

struct RunTrace {
  std::map<std::string, CodeTensor> values;            // every integer tensor of the run
  std::map<std::string, OverflowCounter> overflows;   // per MAC op
};

// How a MAC with N:M-compressed weights (a sparse_decode op in front of it) computes: on the weights
// decoded once (the dense kernels, every level), or from the kept values only (kernels/sparse.hpp).
// Both give the same integers and overflow counts.
enum class SparseKernel { decode, skip_zero };

// The compressed weights a sparse_decode op reads, checked (InputError naming the op, row and group).
kernels::NmWeights nm_weights_of(const IntGraph& graph, const Node& sparse_decode);
// A MAC's weight codes by name: the constant, or what the sparse_decode op producing it decodes.
Tensor mac_weight_codes(const IntGraph& graph, const std::string& name);

class DirectEngine {
 public:
  // Checks the graph (integer-only) and prepares every op; the graph must outlive the engine.
  explicit DirectEngine(const IntGraph& graph, SparseKernel sparse = SparseKernel::decode);
  // input: float [N, ...] as the graph's input shape; returns the float output of the dequantize op.
  // Without a trace, a large batch runs in chunks of kChunk images (same integers: every op treats the
  // images of a batch independently), so that a layer's output is still in cache when the next reads it.
  Tensor run(const Tensor& input, RunTrace* trace = nullptr) const;
  static constexpr int64_t kChunk = 8;

 private:
  Tensor run_whole(const Tensor& input, RunTrace* trace) const;
  using Env = std::map<std::string, CodeTensor>;
  struct Step {
    std::string name;
    std::function<void(Env&, RunTrace*)> run;
  };
  const IntGraph& graph_;
  std::vector<Step> steps_;
  std::map<std::string, Tensor> decoded_;  // sparse_decode outputs, decoded once
  std::map<std::string, std::shared_ptr<const kernels::NmWeights>> compressed_;
  bool images_independent_ = true;  // false if a reshape may mix the batch dimension with others
};

}  // namespace chipref
