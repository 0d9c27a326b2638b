#pragma once
// The SystemC engine: the IntGraph as a netlist of cycle-agnostic SystemC modules (docs/systemc.md).
// Each op is one module (MacArray, MulShift, Lut, SparseDecoder, Add, Pool, Softmax, LayerNorm,
// Movement); tensors move between modules as transactions over sc_fifo (one transaction = one chunk
// of images); every module computes through prepare_int_op, the same preparation and kernels as the
// DirectEngine, so both give the same integers. Boundary monitors on every module count what crosses
// it; the MacArray also counts its tile schedule for the configured array geometry and dataflow.
// This header does not include SystemC.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/int_graph.hpp"
#include "sim/direct_engine.hpp"

namespace chipref {

// What crossed one side of a module: transactions, elements and bits (elements × the value's width).
struct PortCount {
  int64_t transactions = 0, elements = 0, bits = 0;
};

struct ModuleStats {
  std::string name;  // the op's name
  std::string kind;  // MacArray, MulShift, Lut, SparseDecoder, Add, Pool, Softmax, LayerNorm, Movement
  std::string op_type;
  PortCount in, out;                // activation inputs (all of them) and the output
  PortCount weights;                // MacArray: weight tiles loaded into the array (one transaction per tile)
  int64_t macs = 0;                 // MacArray: multiply-accumulates of the layer (no padding, no idle PEs)
  int64_t pe_slots = 0;             // MacArray: PE-steps the tile schedule occupies (macs / pe_slots = utilisation)
  int64_t activation_elements = 0;  // MacArray: activation elements streamed into the array (re-reads counted)
  int64_t overflow_events = 0;      // MacArray: accumulator overflow events
};

// The MacArray's tile schedule for one transaction, in the docs/systemc.md model. A MAC layer is
// `groups` independent matrix products, each of `positions` output vectors × `reduction` (K) ×
// `channels` (M per group). Weight-stationary: each weight tile (rows of K × cols of M) is loaded once
// and every position streams through it. Output-stationary: each output tile (rows positions × cols
// channels) stays in the PEs while its K activations and K weights per PE row and column stream in.
struct MacTileSchedule {
  int64_t tiles = 0, weight_elements = 0, activation_elements = 0, macs = 0, pe_slots = 0;
};
MacTileSchedule mac_tile_schedule(const HardwareConfig& hw, int64_t groups, int64_t positions, int64_t reduction,
                                  int64_t channels);

namespace systemc {
class ModuleFactory;  // sim/systemc/modules.hpp
}

class SystemCEngine : public Engine {
 public:
  // Checks the graph, builds and elaborates the netlist (in its own SystemC simulation context, so that
  // several engines may exist in one process). The graph must outlive the engine. InputError naming the
  // layer if the hardware geometry cannot map it; skip-zero sparse kernels are not modelled (the
  // SparseDecoder feeds the array dense weights).
  explicit SystemCEngine(const IntGraph& graph);
  explicit SystemCEngine(const IntGraph& graph, const HardwareConfig& hardware);
  // With `replace`, ops it builds a module for (RTL blocks behind adapters) use that module instead of
  // the model's; the factory must outlive the engine.
  SystemCEngine(const IntGraph& graph, const HardwareConfig& hardware,
                std::shared_ptr<const systemc::ModuleFactory> replace);
  ~SystemCEngine();
  SystemCEngine(const SystemCEngine&) = delete;
  SystemCEngine& operator=(const SystemCEngine&) = delete;

  // As DirectEngine::run: float [N, ...] in, the dequantized output out; with a trace, every module's
  // output tensor (the whole batch) and the MACs' overflow counts. Not const: the simulation advances.
  Tensor run(const Tensor& input, RunTrace* trace) override;
  using Engine::run;
  std::string name() const override { return "systemc"; }
  const HardwareConfig* tile_streams_hardware() const override { return &hardware(); }
  // Boundary monitors, one per module in netlist order, summed over every run so far.
  std::vector<ModuleStats> stats() const;
  const HardwareConfig& hardware() const;
  size_t module_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The engine of a name over `graph` (which must outlive it): "direct" (DirectEngine) or "systemc"
// (SystemCEngine with the graph's hardware section); InputError for another name. What `vectors verify`
// regenerates a manifest's vectors with.
std::unique_ptr<Engine> make_engine_by_name(const IntGraph& graph, const std::string& name);

}  // namespace chipref
