#pragma once
// Whole-file reads and atomic writes: every file chipref writes appears complete or not at all (written
// to NAME.tmp, then renamed over NAME). Errors are InputErrors naming the path and the system's reason.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.hpp"

namespace chipref {

inline std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open file: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(path + ": read failed: " + std::strerror(errno));
  return ss.str();
}

inline void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path + ": cannot write file: " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw InputError(path + ": write failed: " + std::strerror(errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path + ": cannot move into place: " + std::strerror(errno));
  }
}

// Whether PATH names a regular file, for paths read from a file (a sweep's model, a manifest's entries):
// one the system cannot even look at (a name too long, a symlink loop) is not one, rather than an
// exception without the file and line that named it.
inline bool is_existing_file(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

// A path the system refused (not a directory, no permission, a full disk) as one line for the user,
// "PATH: what was tried: the reason" (libstdc++ says "filesystem error: what: reason [PATH]").
inline std::string describe_filesystem_error(const std::filesystem::filesystem_error& e) {
  std::string text = e.what();
  const std::string prefix = "filesystem error: ";
  if (text.rfind(prefix, 0) == 0) text.erase(0, prefix.size());
  for (const std::filesystem::path& p : {e.path2(), e.path1()}) {
    const std::string bracketed = " [" + p.string() + "]";
    if (!p.empty() && text.size() >= bracketed.size() && text.compare(text.size() - bracketed.size(), bracketed.size(), bracketed) == 0)
      text.erase(text.size() - bracketed.size());
  }
  if (!e.path2().empty()) text += " (" + e.path2().string() + ")";
  return e.path1().empty() ? text : e.path1().string() + ": " + text;
}

}  // namespace chipref
