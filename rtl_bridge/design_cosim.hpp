#pragma once
// Every input of a layer through a design: a fresh instance out of reset per input, driven by the
// protocol its adapter names, each output scored (cosim.hpp). One path for the reference blocks linked
// into chipref (reference_blocks.hpp) and a user's design built at run time (dut_cosim.hpp).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rtl_bridge/cosim.hpp"
#include "rtl_bridge/dut_adapter.hpp"
#include "rtl_bridge/dut_runtime.hpp"

namespace chipref::cosim {

// A design to drive: its adapter, bound to the design's ports (bind_dut_ports), and a maker of fresh
// instances.
struct Design {
  std::string name;  // what reports call it: the block ("mulshift"), or "dut mulshift" for a user's design
  DutAdapter adapter;
  DesignMaker make;
  int64_t lut_depth = int64_t{1} << 30;      // lut: the most table entries the design holds
  int64_t max_reduction = int64_t{1} << 40;  // mac_array: the longest reduction (K) of a tile it holds
};

struct DesignRun {
  explicit DesignRun(std::string layer_name, int64_t watchdog_cycles = 1000)
      : layer(std::move(layer_name)), watchdog(watchdog_cycles) {}
  std::string layer;
  int64_t watchdog = 1000;     // cycles without a handshake before a run counts as hung
  std::string trace;           // write an FST waveform around the first mismatch (or the hang) here; empty: none
  int64_t trace_window = 100;  // cycles before and after the first mismatch in the waveform
};

// The stimulus is the adapter's block's.
CosimResult cosim_design(const Design& design, const std::vector<MulShiftStimulus>& inputs, const DesignRun& run);
CosimResult cosim_design(const Design& design, const std::vector<LutStimulus>& inputs, const DesignRun& run);
CosimResult cosim_design(const Design& design, const std::vector<MacArrayStimulus>& inputs, const DesignRun& run);
CosimResult cosim_design(const Design& design, const std::vector<SparseStimulus>& inputs, const DesignRun& run);
CosimResult cosim_design(const Design& design, const std::vector<MxDotStimulus>& inputs, const DesignRun& run);

// The layer's stimulus read from the vectors in `vectors_dir` for the adapter's block (its array size,
// N:M pattern, block lanes and formats; a LUT of any depth), then the above.
CosimResult cosim_design(const Design& design, const std::string& vectors_dir, const DesignRun& run);

}  // namespace chipref::cosim
