#pragma once
// Running another program through the shell (Verilator and make for a DUT build, sbatch and squeue for
// a sweep on Slurm) and quoting the words given to it.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

// Runs `command` through /bin/sh and waits for it; its exit status, or 128 + the signal that ended it.
// The shell (and the program it execs: write `exec PROGRAM` last) is killed when the calling thread
// ends, so a chipref killed mid-run leaves no program behind writing into its staging directory.
inline int run_shell_tied_to_caller(const std::string& command) {
  const pid_t parent = ::getpid();
  const char* text = command.c_str();
  const pid_t pid = ::fork();
  if (pid < 0) throw InputError("cannot start `" + command + "`: " + std::strerror(errno));
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // chipref died before the signal was armed
    ::execl("/bin/sh", "sh", "-c", text, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw InputError("cannot wait for `" + command + "`: " + std::strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace chipref
