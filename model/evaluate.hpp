#pragma once
// Top-1 classification accuracy of a graph on labelled images, with the float reference executor.

#include <cstdint>
#include <functional>

#include "model/graph.hpp"
#include "model/io/datasets.hpp"
#include "model/io/idx.hpp"

namespace chipref {

struct Top1Result {
  int64_t correct = 0, count = 0;
  double top1() const { return count ? static_cast<double>(correct) / static_cast<double>(count) : 0.0; }
};

// Adds to `result` the rows of float logits [B, classes] whose first maximum is labels[first + row].
// InputError naming `what` if the logits are not [B, classes] float.
void count_top1(const Tensor& logits, int64_t rows, const std::vector<int64_t>& labels, int64_t first,
                const std::string& what, Top1Result& result);

// Runs a batch of images [B, ...] to logits [B, classes].
using BatchRunner = std::function<Tensor(const Tensor& images)>;

// Feeds `data` in batches of `batch_size` to `run` and counts first-maximum argmax hits. `what` names
// the model in messages. Shows a progress bar on a terminal.
Top1Result evaluate_top1(const BatchRunner& run, const LabelledImages& data, int64_t batch_size,
                         const std::string& what);

// The float reference executor on an imported graph (a static batch dimension overrides batch_size).
Top1Result evaluate_top1(const Graph& graph, const LabelledImages& data, int64_t batch_size = 100);

// Top-1 and top-5 accuracy with per-class counts. A label's rank counts the scores above it, and equal
// scores at lower indices (the first maximum wins a tie, as for top-1).
struct ClassificationResult {
  int64_t count = 0, top1 = 0, top5 = 0;
  std::vector<int64_t> per_class_count, per_class_top1;  // indexed by label
  void add(const Tensor& logits, int64_t rows, const std::vector<int64_t>& labels, int64_t first,
           const std::string& what);
};

// Feeds `data` (which must have labels) in batches of `batch_size` to `run`, `threads` batches side by side
// (reading, running and scoring; `run` must be safe to call from several threads). The counts do not
// depend on `threads`. Shows a progress bar with images/s on a terminal.
ClassificationResult evaluate_classifier(const BatchRunner& run, const Dataset& data, int64_t batch_size,
                                         const std::string& what, int64_t threads = 1);

// A runner of the float reference executor for inputs shaped like `data`'s (InputError when the graph's input
// does not take them); a static batch dimension of the graph replaces `batch_size`.
BatchRunner float_graph_runner(const Graph& graph, const SampleSource& data, int64_t& batch_size);

}  // namespace chipref
