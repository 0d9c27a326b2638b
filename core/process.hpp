#pragma once
// Running another program through the shell (Verilator and make for a DUT build, sbatch and squeue for
// a sweep on Slurm) and quoting the words given to it.

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "core/error.hpp"

namespace chipref {

// `s` as one shell word, whatever it contains.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct CommandResult {
  int status = 0;  // the exit status; 128 if the program did not exit normally
  std::string output;
};

// Runs `command` through the shell with stderr folded into stdout, and returns both.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw InputError("cannot run `" + command + "`");
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

}  // namespace chipref
