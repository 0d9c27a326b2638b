#include <fmt/format.h>

#include <string>

#include "cli/commands/commands.hpp"
#include "quant/selfcheck.hpp"

namespace chipref::cli {

namespace {
int run_demo(int multiplier_bits) {
  const SelfCheckReport report = run_numerics_self_check(multiplier_bits);
  fmt::print("chipref demo: numerics self-check (requantization in every flavour and rounding mode)\n");
  fmt::print("each result is checked against zero_point + acc*scale within its bound (docs/numerics.md §3.2);\n");
  fmt::print("a '!' marks a result outside its bound\n");

  std::string last_label;
  for (const SelfCheckCase& c : report.cases) {
    if (c.label != last_label) {
      last_label = c.label;
      fmt::print("\n{}: scale {:.10g} -> multiplier {} ({} bits), shift {:+d} (represents {:.12g}); output {} zp {}\n",
                 c.label, c.scale, c.multiplier.multiplier, c.multiplier.bits, c.multiplier.shift,
                 c.multiplier.value(), c.out.name(), c.zero_point);
      fmt::print("{:>12} {:>16}", "acc", "exact");
      for (const std::string& name : report.column_names) fmt::print(" {:>17}", name);
      fmt::print("\n");
    }
    fmt::print("{:>12} {:>16.6f}", c.acc, c.exact);
    for (size_t i = 0; i < c.results.size(); ++i)
      fmt::print(" {:>16}{}", c.results[i], c.within_bound[i] ? ' ' : '!');
    fmt::print("\n");
  }
  const size_t checks = report.cases.size() * report.column_names.size();
  fmt::print("\n{} of {} results within their error bound: {}\n", checks - report.failures, checks,
             report.failures == 0 ? "PASS" : "FAIL");
  return report.failures == 0 ? 0 : 1;
}
}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("demo", "Run the main job on the shipped example (for now: the numerics self-check)");
  auto multiplier_bits = std::make_shared<int>(31);
  cmd->add_option("--multiplier-bits", *multiplier_bits, "Width of the requantization multiplier")
      ->check(CLI::Range(8, 31))
      ->capture_default_str();
  cmd->callback([&exit_code, multiplier_bits] { exit_code = run_demo(*multiplier_bits); });
}

}  // namespace chipref::cli
