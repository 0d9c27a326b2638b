#pragma once
// Each subcommand adds itself to the app and sets `exit_code` when it runs. Commands are thin:
// they parse options, call the library, and format the result.

#include <CLI/CLI.hpp>

namespace chipref::cli {

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
