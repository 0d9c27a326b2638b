// The chipref executable: parses the command line and dispatches to a subcommand.
// Exit codes (docs/architecture.md): 0 ok, 1 input/model/config error, 2 usage error, 3 verification mismatch.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <string>

#include "cli/commands/commands.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"chipref: bit-accurate reference simulator and golden-vector generator for quantized networks",
               "chipref"};
  app.set_version_flag("--version", std::string("chipref ") + chipref::kVersion);
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 input error, 2 usage error, 3 verification mismatch.\n");

  int exit_code = 0;
  chipref::cli::add_cosim_command(app, exit_code);
  chipref::cli::add_demo_command(app, exit_code);
  chipref::cli::add_eval_command(app, exit_code);
  chipref::cli::add_export_command(app, exit_code);
  chipref::cli::add_inspect_command(app, exit_code);
  chipref::cli::add_quantize_command(app, exit_code);
  chipref::cli::add_run_command(app, exit_code);
  chipref::cli::add_sweep_command(app, exit_code);
  chipref::cli::add_vectors_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming the problem: CLI11's own report spans several lines, and for an unknown
    // subcommand it only says that one is required.
    std::string problem = e.what();
    // The top level has only --help and --version (handled above), so any other first word is unknown.
    if (app.get_subcommands().empty() && argc > 1)
      problem = fmt::format(argv[1][0] == '-' ? "unknown option '{}'" : "unknown subcommand '{}'", argv[1]);
    fmt::print(stderr, "chipref: usage error: {} (see 'chipref --help')\n", problem);
    return 2;
  } catch (const chipref::VerificationMismatch& e) {
    fmt::print(stderr, "chipref: mismatch: {}\n", e.what());
    return 3;
  } catch (const chipref::InputError& e) {
    fmt::print(stderr, "chipref: error: {}\n", e.what());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {  // an output path the system refused: the user's to fix
    fmt::print(stderr, "chipref: error: {}\n", chipref::describe_filesystem_error(e));
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "chipref: internal error: {}\n", e.what());
    return 1;
  }
  return exit_code;
}
