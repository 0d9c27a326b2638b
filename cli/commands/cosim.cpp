#include <fmt/format.h>

#include "cli/commands/commands.hpp"
#include "core/error.hpp"
#include "rtl_bridge/dut_cosim.hpp"
#include "rtl_bridge/protocol_plugin.hpp"

namespace chipref::cli {

namespace {
struct CosimOptions {
  std::string block;
  std::vector<std::string> plugins;
  cosim::DutCosimOptions dut;
};

int run_cosim(const CosimOptions& o) {
  for (const std::string& plugin : o.plugins) cosim::load_protocol_plugin(plugin);
  const cosim::CosimResult r = cosim::cosim_block_or_dut(o.block, o.dut);
  fmt::print("{}", cosim::format_report(r));
  return r.passed() ? 0 : 3;
}
}  // namespace

void add_cosim_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<CosimOptions>();
  auto* cmd = app.add_subcommand(
      "cosim",
      "Drive a layer's golden vectors through RTL (a reference block, or your own design with a YAML adapter) "
      "and scoreboard every output (docs/cosim.md); exit 0 pass, 3 mismatch or hang");
  cmd->add_option("--block", o->block,
                  "Reference block: mulshift (rtl/mulshift_unit.sv) for a mulshift layer, mac_array (rtl/mac_array.sv, "
                  "16 x 16 output-stationary) "
                  "for a conv_mac or linear_mac layer, mac_array_ws (rtl/mac_array_ws.sv, 16 x 16 weight-stationary, "
                  "16-step chunks, K up to 4096) for the same layers, lut (rtl/lut_unit.sv) for a lut layer, sparse "
                  "(rtl/sparse_decoder.sv, 2:4) for a "
                  "sparse_decode layer, mx_dot (rtl/mx_dot_unit.sv, one pair of blocks of up to 32 a handshake, exact "
                  "sums) for a block_mac layer in MXFP8 E4M3 or MXINT8")
      ->check(CLI::IsMember({"mulshift", "mac_array", "mac_array_ws", "lut", "sparse", "mx_dot"}));
  cmd->add_option("--dut", o->dut.sources,
                  "Your design's SystemVerilog/Verilog source (repeat for several files); needs --top and --adapter")
      ->check(CLI::ExistingFile);
  cmd->add_option("--top", o->dut.top, "The top module of --dut");
  cmd->add_option("--adapter", o->dut.adapter,
                  "YAML adapter of --dut: block, protocol, clock, reset and port roles (docs/cosim.md)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--protocol-plugin", o->plugins,
                  "A shared library of your own protocols, built against this chipref's installed headers "
                  "(docs/cosim.md, \"Protocols as plugins\"); the adapter's protocol: then names them. Repeatable")
      ->check(CLI::ExistingFile);
  cmd->add_option("--build-dir", o->dut.build_dir,
                  "Cache of built designs (default: $CHIPREF_CACHE_DIR, $XDG_CACHE_HOME/chipref or ~/.cache/chipref)");
  cmd->add_option("--vectors", o->dut.vectors_dir, "Directory written by chipref vectors (accumulators included)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--layer", o->dut.layer, "The IntGraph op to check, as chipref inspect names it")->required();
  cmd->add_option("--watchdog", o->dut.watchdog, "End the run when no handshake happened for this many cycles")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option(
      "--trace", o->dut.trace,
      "On a mismatch or hang, write an FST waveform of the cycles around the first one here (gtkwave opens it)");
  cmd->add_option("--trace-window", o->dut.trace_window,
                  "Cycles before and after the first mismatch in the --trace waveform")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30))
      ->capture_default_str();
  cmd->callback([&exit_code, o] { exit_code = run_cosim(*o); });
}

}  // namespace chipref::cli
