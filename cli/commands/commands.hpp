#pragma once
// Each subcommand adds itself to the app and sets `exit_code` when it runs. Commands are thin:
// they parse options, call the library, and format the result.

#include <CLI/CLI.hpp>

#include <cmath>
#include <string>

namespace chipref::cli {

// CLI11 reads "nan" and "inf" as numbers: an option that must be a finite number (and, if `positive`,
// one > 0) checks it.
inline CLI::Validator finite_number(bool positive = false) {
  return CLI::Validator(
      [positive](std::string& text) {
        try {
          size_t used = 0;
          const double v = std::stod(text, &used);
          if (used == text.size() && std::isfinite(v) && (!positive || v > 0)) return std::string();
        } catch (const std::exception&) {
        }
        return "'" + text + "' is not a finite number" + (positive ? " > 0" : "");
      },
      positive ? "FINITE > 0" : "FINITE");
}

void add_cosim_command(CLI::App& app, int& exit_code);
void add_demo_command(CLI::App& app, int& exit_code);
void add_eval_command(CLI::App& app, int& exit_code);
void add_export_command(CLI::App& app, int& exit_code);
void add_inspect_command(CLI::App& app, int& exit_code);
void add_quantize_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_sweep_command(CLI::App& app, int& exit_code);
void add_vectors_command(CLI::App& app, int& exit_code);

}  // namespace chipref::cli
