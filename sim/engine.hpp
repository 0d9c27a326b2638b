#pragma once
// What every engine that runs an IntGraph offers: a run on float inputs, optionally traced. The
// DirectEngine and the SystemC engine implement it; golden-vector generation and the CLI's --engine take
// any Engine, so that nothing above sim/ picks an engine by name.

#include <functional>
#include <map>
#include <string>

#include "model/int_graph.hpp"
#include "numerics/accumulator.hpp"
#include "ops/op_def.hpp"

namespace chipref {

// A MAC array's interface streams for one transaction, in its tile order (docs/systemc.md): the
// weight tiles, the activation vectors fed to each tile, and the accumulators drained from it.
struct TileStreams {
  CodeTensor weights, activations, accumulators;
};

struct RunTrace {
  std::map<std::string, CodeTensor> values;          // every integer tensor of the run
  std::map<std::string, OverflowCounter> overflows;  // per MAC op
  std::map<std::string, TileStreams> tile_streams;   // per MAC op, from engines that model MAC arrays
  // Whether an engine that models MAC arrays records their tile streams: they re-stream the weights per
  // tile, which can cost more than the run itself where only the values are compared.
  bool with_tile_streams = true;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // input: float [N, ...] as the graph's input shape (already normalised); returns the float output of
  // the dequantize op. With a trace, every integer tensor of the run and the MACs' overflow counts.
  // Not const: an engine may advance a simulation.
  virtual Tensor run(const Tensor& input, RunTrace* trace) = 0;
  Tensor run(const Tensor& input) { return run(input, nullptr); }
  // How manifests and reports name it ("direct", "systemc").
  virtual std::string name() const = 0;
  // The MAC array whose tile streams a trace holds, or null for an engine without one.
  virtual const HardwareConfig* tile_streams_hardware() const { return nullptr; }
  // Whether run() may be called from several threads at once (each with its own trace).
  virtual bool runs_concurrently() const { return false; }
};

// The batch an IntGraph was exported with when it is fixed (torch.onnx.export's default is 1), else 0.
// Such a graph's constants hold that batch (a Reshape to [1, −1]), so that no other batch may run.
int64_t fixed_batch(const IntGraph& graph);
// InputError naming that batch when `inputs` is not a multiple of it (nothing when the batch is free).
void require_multiple_of_fixed_batch(const IntGraph& graph, int64_t inputs);

// Runs `input` [N, ...] as N / B runs of `run` on B images each, for a graph with fixed batch B ≠ N;
// InputError if N is not a multiple of B. The output and a trace's tensors are the runs' stacked along
// axis 0, overflow counts summed, tile streams concatenated in run order.
Tensor run_fixed_batches(const IntGraph& graph, const Tensor& input, RunTrace* trace,
                         const std::function<Tensor(const Tensor&, RunTrace*)>& run);

}  // namespace chipref
