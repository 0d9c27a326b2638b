#pragma once
// A progress bar on stderr for long work: redrawn at most 10 times a second when stderr is a terminal,
// silent otherwise (logs and CI stay clean). Header-only.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace chipref {

// Set on a worker thread whose own progress bar would fight its caller's (a sweep's points each
// quantize and evaluate; only the sweep's bar is drawn).
inline thread_local bool progress_bars_silenced = false;

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total)
      : label_(std::move(label)), total_(total), enabled_(isatty(2) != 0 && !progress_bars_silenced) {}
  ~ProgressBar() { finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(int64_t done) {
    done_ = done;
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    draw();
  }
  void finish() {
    if (enabled_ && !finished_) {
      draw();
      std::fputc('\n', stderr);
    }
    finished_ = true;
  }

 private:
  void draw() const {
    constexpr int kWidth = 30;
    const double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
    const int filled = static_cast<int>(frac * kWidth);
    const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
    std::fprintf(stderr, "\r%s [%s%s] %lld/%lld  %.1f/s, %.0fs elapsed, ETA %.0fs ", label_.c_str(),
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                 static_cast<long long>(done_), static_cast<long long>(total_), rate, elapsed, eta);
    std::fflush(stderr);
  }
  std::string label_;
  int64_t total_, done_ = 0;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_draw_{};
};

}  // namespace chipref
