#pragma once
// chipref's own data files (the reference RTL and its adapters, the shipped configs and example models)
// wherever this chipref is: `cmake --install` puts them in <prefix>/share/chipref beside <prefix>/bin, so an
// installed chipref needs no source tree; a build-tree chipref reads them from the source tree it was built
// from. CHIPREF_DATA_DIR, when set, overrides both (a relocated share/chipref).

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace chipref {

// Where this process's program lies (empty if the system does not say).
inline std::filesystem::path running_program() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path{} : self;
}

// The installed share/chipref of a program in <prefix>/bin (empty if there is none).
inline std::filesystem::path installed_data_dir() {
  const std::filesystem::path program = running_program();
  if (program.empty()) return {};
  const std::filesystem::path share = program.parent_path().parent_path() / "share" / "chipref";
  std::error_code ec;
  return std::filesystem::is_directory(share, ec) ? share : std::filesystem::path{};
}

// `relative` (a path as in the source tree, "rtl_bridge/rtl/mac_array.sv") under CHIPREF_DATA_DIR, else
// the installed share/chipref, else `source_dir`.
inline std::string chipref_data_file(const std::string& relative, const std::string& source_dir) {
  if (const char* dir = std::getenv("CHIPREF_DATA_DIR"); dir && *dir)
    return (std::filesystem::path(dir) / relative).string();
  if (const std::filesystem::path share = installed_data_dir(); !share.empty()) return (share / relative).string();
  return (std::filesystem::path(source_dir) / relative).string();
}

}  // namespace chipref
