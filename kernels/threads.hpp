#pragma once
// Threads inside one op. An engine that runs a batch on one thread lends the op its other threads
// (IntraOpThreads, for the calling thread only); a kernel splits its outputs (a convolution's output
// positions, a linear layer's output channels, attention's heads) into blocks with split_range. Every
// output integer is computed by exactly one thread with the same arithmetic as without the split, so
// the results do not depend on the number of threads.

#include <cstdint>
#include <functional>

namespace chipref::kernels {

// While alive, ops run on this thread may use up to `threads` threads (itself included). Nests: the
// previous count comes back when it ends. Other threads keep their own count (1 unless set).
class IntraOpThreads {
 public:
  explicit IntraOpThreads(int64_t threads);
  ~IntraOpThreads();
  IntraOpThreads(const IntraOpThreads&) = delete;
  IntraOpThreads& operator=(const IntraOpThreads&) = delete;
  static int64_t current();

 private:
  int64_t previous_;
};

// Below this many multiply-adds a block is not worth handing to another thread: at 2^22 MobileNetV2's
// small 1×1 layers ran slower on two threads than on one (each thread fills its own operand planes, and
// the int32 output crosses cores); a block of 2^24 takes about 50 µs in the GEMMs.
inline constexpr int64_t kMacsPerThread = int64_t{1} << 24;

// Runs f(begin, end) over blocks covering items 0..count−1 once, each block a multiple of `align` items
// (but the last), at most IntraOpThreads::current() blocks and none below kMacsPerThread when each item
// costs `macs_per_item`; on the calling thread alone when one block is all there is. Blocks run
// concurrently: f must write only its own items' outputs.
void split_range(int64_t count, int64_t macs_per_item, int64_t align, const std::function<void(int64_t, int64_t)>& f);

}  // namespace chipref::kernels
