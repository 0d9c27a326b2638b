#pragma once
// Top-1 classification accuracy of a graph on labelled images, with the float reference executor.

#include <cstdint>

#include "model/graph.hpp"
#include "model/io/idx.hpp"

namespace chipref {

struct Top1Result {
  int64_t correct = 0, count = 0;
  double top1() const { return count ? static_cast<double>(correct) / static_cast<double>(count) : 0.0; }
};

// Runs batches of `batch_size` images (1 when the graph's input has a static batch of 1); the first
// graph output must be [N, classes] logits. Shows a progress bar on a terminal.
Top1Result evaluate_top1(const Graph& graph, const LabelledImages& data, int64_t batch_size = 100);

}  // namespace chipref
