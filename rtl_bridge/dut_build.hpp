#pragma once
// Building a user's own RTL design for `chipref cosim --dut` (docs/cosim.md "Bring your own DUT"):
// Verilator (C++ mode, -O3, FST tracing compiled in) and the C++ compiler turn the sources into a shared
// library with a small C interface (rtl_bridge/dut_runtime.hpp), cached under a content hash of
// everything that goes into it, so a second run of an unchanged design starts at once.

#include <map>
#include <string>
#include <vector>

namespace chipref::cosim {

// A top-level port as Verilator declares it in the model's header (VL_IN8(&name,msb,lsb) ...).
struct DutPort {
  std::string name;
  bool input = true;  // else an output (inout ports are read and written as outputs and inputs)
  int msb = 0, lsb = 0;
  int bytes = 0;  // of its storage in the model: 1, 2, 4, 8 or 4 per 32-bit word
  int width() const { return msb - lsb + 1; }
};

struct DutDesign {
  std::vector<std::string> sources;               // SystemVerilog / Verilog files, in order
  std::string top;                                // the top module
  std::map<std::string, std::string> parameters;  // top-level parameter overrides (Verilator -G)
};

struct BuiltDut {
  std::string library;    // the shared library to load
  std::string directory;  // its cache entry (build.log, ports.txt, the generated wrapper)
  std::vector<DutPort> ports;
  bool from_cache = false;
};

// The cache root when --build-dir is not given: $CHIPREF_CACHE_DIR, else $XDG_CACHE_HOME/chipref,
// else $HOME/.cache/chipref; each design is built in its own subdirectory dut-<hash>.
std::string default_dut_cache_root();

// Verilates and compiles `design` into `cache_root`/dut-<hash> unless that entry exists. The hash covers
// the sources' names and contents, the top module and its parameters, the Verilator and compiler versions and the
// wrapper's interface version. InputError (with Verilator's or the compiler's own messages and the log's path) when a
// source is missing, the design does not verilate, or the tools are not installed.
BuiltDut build_dut(const DutDesign& design, const std::string& cache_root);

// The ports of a Verilated model's header text (exposed for tests).
std::vector<DutPort> parse_model_ports(const std::string& header_text);

}  // namespace chipref::cosim
