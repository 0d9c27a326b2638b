#pragma once
// Replacing an output (a directory or a file) so that a crash at any point, a full disk or a second
// writer never costs the old output: the new one is built under a temporary name beside the target and
// swapped in by one rename as the last step (docs/errors.md, "Outputs").
//
// Names beside TARGET (one stem per target, at most ~100 bytes whatever TARGET's own length):
//   .NAME.HASH.chipref-tmp-PID-N   a run's staging area; after the swap it holds the old output, deleted
//   .NAME.HASH.chipref-lock        held (flock) while a run writes TARGET; deleted when it is done
//   .NAME.HASH.chipref-old         the old output, moved aside on a file system without RENAME_EXCHANGE
// NAME is TARGET's file name cut to 48 bytes, HASH 8 hex digits of the whole name. A leftover staging
// area is a run that died (kill -9, power): the next run for the same TARGET, holding the lock, deletes
// it (a sweep first takes its finished points as cache). A second writer waits for the lock, saying so.
//
// Guarantee: against the death of the process at any instant, TARGET is the complete old output or the
// complete new one (renameat2 RENAME_EXCHANGE, or a plain rename when there was no old output). Where
// the file system cannot exchange, the old output is moved aside first and a crash in that window is
// repaired by the next run (the moved-aside output is put back). Data is not fsync'ed: a power cut may
// lose the new output's contents, as for any program that does not sync.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace chipref {

namespace staged_detail {

namespace fs = std::filesystem;

inline std::string stem_of(const fs::path& target) {
  const std::string name = target.filename().string();
  uint64_t hash = 14695981039346656037ull;  // FNV-1a: a short, stable tag of the whole name
  for (const unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
  char tag[9];
  std::snprintf(tag, sizeof tag, "%08x", static_cast<unsigned>(hash ^ (hash >> 32)));
  return "." + name.substr(0, 48) + "." + tag + ".chipref-";
}

// The directory TARGET lies in ("." for a bare name): its staging areas, lock and leftovers go there.
inline fs::path parent_of(const fs::path& target) {
  return target.has_parent_path() ? target.parent_path() : fs::path(".");
}

inline std::string system_error(const std::string& what, const fs::path& path) {
  return path.string() + ": " + what + ": " + std::strerror(errno);
}

}  // namespace staged_detail

// TARGET spelled as the user gave it, without a trailing slash ("q/" names q).
inline std::filesystem::path output_target(const std::string& spelled) {
  std::filesystem::path target = std::filesystem::path(spelled).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  if (target.empty() || target == "." || target == "..")
    throw InputError("'" + spelled + "' is not a name an output can be written to");
  return target;
}

// The staging areas named for TARGET: what dead runs left, when called under TARGET's lock (a live
// run's staging area matches too, so without the lock only read what this returns).
inline std::vector<std::filesystem::path> staged_output_leftovers(const std::filesystem::path& target) {
  namespace fs = std::filesystem;
  std::vector<fs::path> found;
  const fs::path parent = staged_detail::parent_of(target);
  const std::string prefix = staged_detail::stem_of(target) + "tmp-";
  std::error_code error;
  for (fs::directory_iterator it(parent, error), end; !error && it != end; it.increment(error))
    if (it->path().filename().string().rfind(prefix, 0) == 0) found.push_back(it->path());
  std::sort(found.begin(), found.end());
  return found;
}

class StagedOutput {
 public:
  enum class Kind { directory, file };

  // Takes TARGET's lock (waiting, with a message on stderr, while another chipref writes it), cleans
  // up what dead runs left, and makes an empty staging directory (Kind::directory) or reserves a
  // staging file name (Kind::file). `harvest`, when given, sees each dead run's staging area before
  // it is deleted.
  StagedOutput(const std::filesystem::path& target, Kind kind,
               const std::function<void(const std::filesystem::path&)>& harvest = {})
      : target_(target),
        aside_(staged_detail::parent_of(target) / (staged_detail::stem_of(target) + "old")),
        kind_(kind) {
    namespace fs = std::filesystem;
    const fs::path parent = staged_detail::parent_of(target_);
    std::error_code error;
    if (!fs::is_directory(parent, error)) {
      fs::create_directories(parent, error);
      if (error) throw InputError(parent.string() + ": cannot create the output's directory: " + error.message());
    }
    const std::string stem = staged_detail::stem_of(target_);
    lock(parent / (stem + "lock"));
    try {
      for (const fs::path& left : staged_output_leftovers(target_)) {
        if (harvest && fs::is_directory(left)) harvest(left);
        fs::remove_all(left, error);
      }
      // A run that died between moving the old output aside and renaming the new one in (file systems
      // without RENAME_EXCHANGE): put the old one back.
      if (fs::exists(fs::symlink_status(aside_)) && !fs::exists(fs::symlink_status(target_)))
        fs::rename(aside_, target_, error);
      fs::remove_all(aside_, error);
      static std::atomic<unsigned> counter{0};
      staging_ = parent / (stem + "tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
      if (kind_ == Kind::directory && !fs::create_directory(staging_, error))
        throw InputError(staging_.string() + ": cannot create the staging directory for " + target_.string() + ": " +
                         error.message());
    } catch (...) {  // no destructor runs for a constructor that throws
      unlock();
      throw;
    }
  }
  StagedOutput(const StagedOutput&) = delete;
  StagedOutput& operator=(const StagedOutput&) = delete;

  ~StagedOutput() {
    std::error_code ignored;
    if (!committed_) std::filesystem::remove_all(staging_, ignored);
    unlock();
  }

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& staging() const { return staging_; }
  // An error message about a file being staged, naming it where the user will find it.
  std::string as_target(std::string message) const {
    for (size_t at; (at = message.find(staging_.string())) != std::string::npos;)
      message.replace(at, staging_.string().size(), target_.string());
    return message;
  }

  // The new output replaces the old one in one step; the old one is then deleted.
  void commit() {
    namespace fs = std::filesystem;
    const bool had_old = fs::exists(fs::symlink_status(target_));
    if (!had_old || kind_ == Kind::file) {  // a rename over a file replaces it in one step
      if (std::rename(staging_.c_str(), target_.c_str()) != 0)
        throw InputError(staged_detail::system_error("cannot move the new output into place", target_));
    } else if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0) {
      if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        throw InputError(staged_detail::system_error("cannot swap the new output into place", target_));
      if (std::rename(target_.c_str(), aside_.c_str()) != 0)
        throw InputError(staged_detail::system_error("cannot move the old output aside", target_));
      if (std::rename(staging_.c_str(), target_.c_str()) != 0) {
        const std::string message = staged_detail::system_error("cannot move the new output into place", target_);
        std::rename(aside_.c_str(), target_.c_str());
        throw InputError(message);
      }
      std::error_code ignored;
      fs::remove_all(aside_, ignored);
    }
    committed_ = true;
    std::error_code ignored;
    if (had_old && kind_ == Kind::directory)
      fs::remove_all(staging_, ignored);  // the old output, now under the staging name
  }

 private:
  // flock on a lock file that is deleted on release: after taking the lock, check that the name still
  // names the file locked (a releasing run may have deleted it meanwhile), else take the new one.
  void lock(const std::filesystem::path& path) {
    bool told = false;
    for (;;) {
      lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (lock_fd_ < 0) throw InputError(staged_detail::system_error("cannot create the output's lock file", path));
      if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) throw InputError(staged_detail::system_error("cannot lock", path));
        if (!told) {
          std::fprintf(stderr, "chipref: waiting for another chipref that is writing %s (lock %s)\n", target_.c_str(),
                       path.c_str());
          told = true;
        }
        if (::flock(lock_fd_, LOCK_EX) != 0) throw InputError(staged_detail::system_error("cannot lock", path));
      }
      struct stat held {
      }, named{};
      if (::fstat(lock_fd_, &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
          held.st_dev == named.st_dev) {
        lock_path_ = path;
        return;
      }
      ::close(lock_fd_);
    }
  }

  void unlock() {
    if (lock_fd_ < 0) return;
    ::unlink(lock_path_.c_str());
    ::close(lock_fd_);
    lock_fd_ = -1;
  }

  std::filesystem::path target_, aside_, staging_, lock_path_;
  Kind kind_;
  int lock_fd_ = -1;
  bool committed_ = false;
};

}  // namespace chipref
