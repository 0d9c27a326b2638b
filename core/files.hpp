#pragma once
// Whole-file reads and atomic writes: every file chipref writes appears complete or not at all (written
// under a temporary name, then renamed over NAME). Errors are InputErrors naming the path and the system's reason.

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.hpp"
#include "core/staged_output.hpp"

namespace chipref {

inline std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open file: " + std::strerror(errno));
  // A regular file in one read into a string of its size (a stringstream copies every byte twice more:
  // 14 % of `chipref run` on a 38 MB .npy); a pipe, whose size is unknown, through the stream.
  if (in.seekg(0, std::ios::end)) {
    const std::streamoff size = in.tellg();
    if (size >= 0 && in.seekg(0, std::ios::beg)) {
      std::string bytes(static_cast<size_t>(size), '\0');
      in.read(bytes.data(), size);
      if (in.gcount() != size) throw InputError(path + ": read failed: " + std::strerror(errno));
      if (in.peek() == std::char_traits<char>::eof()) return bytes;
      in.clear();  // it grew while read: the rest through the stream below
      in.seekg(0, std::ios::beg);
    }
  }
  in.clear();
  in.seekg(0, std::ios::beg);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(path + ": read failed: " + std::strerror(errno));
  return ss.str();
}

// The bytes go to a temporary name of this process beside PATH (short whatever PATH's length, so a
// legal 255-byte name still works), then one rename puts them in place: a reader, a crash or a second
// writer never sees a half-written PATH. For a top-level output use write_output_file (it also locks).
inline void write_file_atomically(const std::string& path, const std::string& bytes) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path target(path);
  const std::filesystem::path tmp =
      target.parent_path() /
      (staged_detail::stem_of(target) + "tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path + ": cannot write file: " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();  // a full disk may only show when the last block is written
    if (!out) {
      const std::string reason = std::strerror(errno);
      std::remove(tmp.c_str());
      throw InputError(path + ": write failed: " + reason);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw InputError(path + ": cannot move into place: " + reason);
  }
}

// A file that is a command's output (export's ONNX, a report): locked against a second writer, what a
// dead run left is deleted, then written atomically.
inline void write_output_file(const std::string& path, const std::string& bytes) {
  StagedOutput staged(output_target(path), StagedOutput::Kind::file);
  write_file_atomically(staged.staging().string(), bytes);
  staged.commit();
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
    if (!p.empty() && text.size() >= bracketed.size() &&
        text.compare(text.size() - bracketed.size(), bracketed.size(), bracketed) == 0)
      text.erase(text.size() - bracketed.size());
  }
  if (!e.path2().empty()) text += " (" + e.path2().string() + ")";
  return e.path1().empty() ? text : e.path1().string() + ": " + text;
}

}  // namespace chipref
