#pragma once
// The DirectEngine runs an IntGraph with the kernels/ functions, in plain C++. Parameters (weights
// as int32, per-channel multipliers) are prepared once; a run touches no float between the input
// quantize and the output dequantize.

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/int_graph.hpp"
#include "numerics/accumulator.hpp"
#include "ops/op_def.hpp"
#include "sim/engine.hpp"

namespace chipref {

// How a MAC with N:M-compressed weights (a sparse_decode op in front of it) computes: on the weights
// decoded once (the dense kernels, every level), or from the kept values only (kernels/sparse.hpp).
// Both give the same integers and overflow counts.
enum class SparseKernel { decode, skip_zero };

class DirectEngine : public Engine {
 public:
  // Checks the graph (integer-only) and prepares every op; the graph must outlive the engine.
  explicit DirectEngine(const IntGraph& graph, SparseKernel sparse = SparseKernel::decode);
  // input: float [N, ...] as the graph's input shape; returns the float output of the dequantize op.
  // Without a trace, a large batch runs in chunks of kChunk images (same integers: every op treats the
  // images of a batch independently), so that a layer's output is still in cache when the next reads it.
  Tensor run(const Tensor& input, RunTrace* trace = nullptr) const;
  // The same run, chunked as without a trace, calling `observe` with each op's output as it is computed
  // (the input quantize op included) instead of keeping copies: for statistics over many images, where
  // a trace of every tensor of a whole batch would cost more than the run itself. The output holds
  // images [first_image, first_image + images) of the batch.
  using OpObserver = std::function<void(const Node& op, const CodeTensor& output, const OverflowCounter& overflow,
                                        int64_t first_image, int64_t images)>;
  Tensor run(const Tensor& input, const OpObserver& observe) const;
  Tensor run(const Tensor& input, RunTrace* trace) override { return std::as_const(*this).run(input, trace); }
  std::string name() const override { return "direct"; }
  bool runs_concurrently() const override { return true; }
  // Runs without a trace or an observer use up to `jobs` threads: the chunks of a batch, and inside a
  // batch of one chunk its large layers' output channels. The outputs are byte-identical to one thread's.
  void set_jobs(int jobs) { jobs_ = std::max(jobs, 1); }
  static constexpr int64_t kChunk = 8;
  // MAC steps that untraced runs compute together with the mulshift after them (one pass, no int32 tensor).
  int64_t requantized_macs() const {
    return static_cast<int64_t>(std::count(requantized_by_next_.begin(), requantized_by_next_.end(), true));
  }
  // The steps (fused MACs, residual adds, max pools) whose codes untraced runs on avx512_vnni and above store in
  // bytes (their codes span at most 256 values and every step that reads them reads bytes): docs/numerics.md §5,
  // "Activations in bytes".
  int64_t steps_writing_bytes() const {
    return static_cast<int64_t>(std::count(bytes_out_.begin(), bytes_out_.end(), true));
  }

 private:
  Tensor run_chunked(const Tensor& input, const OpObserver* observe) const;
  Tensor run_whole(const Tensor& input, RunTrace* trace, const OpObserver* observe = nullptr,
                   int64_t first_image = 0) const;
  const IntGraph& graph_;
  std::vector<PreparedOp> steps_;
  std::map<std::string, Tensor> decoded_;             // sparse_decode outputs, decoded once
  bool images_independent_ = true;                    // false if some op may mix the images of a batch
  std::vector<std::vector<std::string>> free_after_;  // per step: the tensors no later step reads
  std::vector<bool> requantized_by_next_;             // per step: a MAC run with the next step's mulshift when untraced
  std::vector<bool> bytes_out_;                       // per step: its codes stored in bytes when untraced
  int jobs_ = 1;
};

}  // namespace chipref
