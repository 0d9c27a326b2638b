#pragma once
// What every fuzz harness shares: the invariant (a reader returns its result or throws a chipref error;
// any other exception escapes, and libFuzzer reports the uncaught exception's abort as a crash, as it
// does ASan's and UBSan's reports), and a private scratch directory for readers that take paths.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.hpp"

namespace chipref::fuzz {

template <class Read>
int only_chipref_errors(Read&& read) {
  try {
    read();
  } catch (const InputError&) {
  } catch (const VerificationMismatch&) {
  }
  return 0;
}

inline std::string bytes_of(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// One directory per process (libFuzzer's -fork and -jobs run several), removed by nobody: it is small
// and under the system's temporary directory.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path d =
        std::filesystem::temp_directory_path() / ("chipref_fuzz_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::string write_scratch(const std::string& name, const std::string& bytes) {
  const std::filesystem::path path = scratch_dir() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

}  // namespace chipref::fuzz
