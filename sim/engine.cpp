#include "sim/engine.hpp"

#include <algorithm>
#include <stdexcept>

namespace chipref {

namespace {
void append_codes(CodeTensor& into, const CodeTensor& rows) {
  if (into.shape.empty() && into.data.empty()) {
    into = rows;
    return;
  }
  if (rows.shape.size() != into.shape.size() || into.shape.empty() ||
      !std::equal(into.shape.begin() + 1, into.shape.end(), rows.shape.begin() + 1))
    throw std::logic_error("run_fixed_batches: a traced tensor changed shape between runs: " +
                           shape_to_string(into.shape) + " then " + shape_to_string(rows.shape));
  into.shape[0] += rows.shape[0];
  into.data.insert(into.data.end(), rows.data.begin(), rows.data.end());
}
}  // namespace

int64_t fixed_batch(const IntGraph& graph) {
  return !graph.input_shape.empty() && graph.input_shape[0] > 0 ? graph.input_shape[0] : 0;
}

void require_multiple_of_fixed_batch(const IntGraph& graph, int64_t inputs) {
  const int64_t batch = fixed_batch(graph);
  if (batch > 0 && inputs % batch)
    throw InputError(graph.source_model + ": the model was exported with a fixed batch of " + std::to_string(batch) +
                     "; " + std::to_string(inputs) + " inputs are not a multiple of it");
}

Tensor run_fixed_batches(const IntGraph& graph, const Tensor& input, RunTrace* trace,
                         const std::function<Tensor(const Tensor&, RunTrace*)>& run) {
  const int64_t batch = fixed_batch(graph), n = input.rank() > 0 ? input.shape[0] : 0;
  if (batch <= 0) throw std::logic_error("run_fixed_batches: the graph's batch is not fixed");
  require_multiple_of_fixed_batch(graph, n);
  Tensor output;
  for (int64_t first = 0; first < n; first += batch) {
    RunTrace part;
    part.with_tile_streams = trace && trace->with_tile_streams;
    append_rows(output, run(rows_of(input, first, batch), trace ? &part : nullptr));
    if (!trace) continue;
    for (const auto& [name, codes] : part.values) append_codes(trace->values[name], codes);
    for (const auto& [name, counter] : part.overflows) trace->overflows[name].events += counter.events;
    for (const auto& [name, streams] : part.tile_streams) {
      TileStreams& all = trace->tile_streams[name];
      append_codes(all.weights, streams.weights);
      append_codes(all.activations, streams.activations);
      append_codes(all.accumulators, streams.accumulators);
    }
  }
  return output;
}

}  // namespace chipref
