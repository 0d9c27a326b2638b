#include <fmt/format.h>

#include "cli/commands/commands.hpp"
#include "rtl_bridge/reference_blocks.hpp"

namespace chipref::cli {

namespace {
struct CosimOptions {
  std::string block, vectors_dir, layer;
  int64_t watchdog = 1000;
};

int run_cosim(const CosimOptions& o) {
  const cosim::CosimResult r = cosim::cosim_reference_block(o.block, o.vectors_dir, o.layer, o.watchdog);
  fmt::print("{}", cosim::format_report(r));
  return r.passed() ? 0 : 3;
}
}  // namespace

void add_cosim_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<CosimOptions>();
  auto* cmd = app.add_subcommand("cosim", "Drive a layer's golden vectors through a Verilated reference RTL block and scoreboard every output "
                                          "(docs/cosim.md); exit 0 pass, 3 mismatch or hang");
  cmd->add_option("--block", o->block,
                  "Reference block: mulshift (rtl/mulshift_unit.sv) for a mulshift layer, mac_array (rtl/mac_array.sv, 16 x 16 output-stationary) "
                  "for a conv_mac or linear_mac layer, lut (rtl/lut_unit.sv) for a lut layer")
      ->required()
      ->check(CLI::IsMember({"mulshift", "mac_array", "lut"}));
  cmd->add_option("--vectors", o->vectors_dir, "Directory written by chipref vectors (accumulators included)")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--layer", o->layer, "The IntGraph op to check, as chipref inspect names it")->required();
  cmd->add_option("--watchdog", o->watchdog, "End the run when no handshake happened for this many cycles")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  cmd->callback([&exit_code, o] { exit_code = run_cosim(*o); });
}

}  // namespace chipref::cli
