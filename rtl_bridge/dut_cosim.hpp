#pragma once
// `chipref cosim --dut`: a user's own design, built and loaded at run time (dut_build.hpp,
// dut_runtime.hpp), driven through the protocol its YAML adapter names (dut_adapter.hpp) with the same
// golden stimulus and the same scoreboard as the reference blocks (cosim.hpp). docs/cosim.md.

#include <cstdint>
#include <string>
#include <vector>

#include "rtl_bridge/cosim.hpp"
#include "rtl_bridge/dut_adapter.hpp"

namespace chipref::cosim {

struct DutCosimOptions {
  std::vector<std::string> sources;
  std::string top, adapter, vectors_dir, layer;
  std::string build_dir;       // the build cache's root; empty: default_dut_cache_root()
  std::string trace;           // write an FST waveform around the first mismatch (or the hang) here; empty: none
  int64_t trace_window = 100;  // cycles before and after the first mismatch in the waveform
  int64_t watchdog = 1000;
};

// Builds (or finds in the cache) and runs the design. A line on stderr says where it was built.
CosimResult cosim_dut(const DutCosimOptions& options);

// The identity adapter of a reference block (rtl_bridge/adapters/<block>.yaml): `chipref cosim --block B
// --trace` runs the reference RTL through this path to get its waveform.
std::string reference_adapter_path(const std::string& block);
std::string reference_rtl_path(const std::string& block);
std::string reference_top(const std::string& block);

// What `chipref cosim` runs: `block` (a reference block) or `dut.sources` (the user's design, with its top
// and adapter), exactly one of them. A reference block with `dut.trace` set runs as a design with its
// identity adapter, which can write a waveform. InputError for a missing or contradictory choice.
CosimResult cosim_block_or_dut(const std::string& block, DutCosimOptions dut);

}  // namespace chipref::cosim
