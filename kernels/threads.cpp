#include "kernels/threads.hpp"

#include <algorithm>

#include "core/parallel.hpp"

namespace chipref::kernels {
namespace {
thread_local int64_t intra_op_threads = 1;
}

IntraOpThreads::IntraOpThreads(int64_t threads) : previous_(intra_op_threads) {
  intra_op_threads = std::max<int64_t>(1, threads);
}
IntraOpThreads::~IntraOpThreads() { intra_op_threads = previous_; }
int64_t IntraOpThreads::current() { return intra_op_threads; }

void split_range(int64_t count, int64_t macs_per_item, int64_t align, const std::function<void(int64_t, int64_t)>& f) {
  if (count <= 0) return;
  align = std::max<int64_t>(1, align);
  const int64_t units = (count + align - 1) / align;  // the blocks are made of whole units of `align` items
  const int64_t worth = std::max<int64_t>(1, (count * std::max<int64_t>(1, macs_per_item)) / kMacsPerThread);
  const int64_t blocks = std::min({intra_op_threads, units, worth});
  if (blocks <= 1) return f(0, count);
  for_each_index_in_parallel(blocks, blocks, [&](int64_t b) {
    const int64_t begin = units * b / blocks * align, end = std::min(count, units * (b + 1) / blocks * align);
    if (begin < end) f(begin, end);
  });
}

}  // namespace chipref::kernels
