#pragma once
// Items 0..count−1 on up to `workers` threads (the calling thread one of them), each taken in turn from a
// shared counter; after a failure no new item starts, and the first exception is rethrown once all have
// stopped. Results belong in per-item slots, so they do not depend on the number of threads.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace chipref {

template <class F>
void for_each_index_in_parallel(int64_t count, int64_t workers, F&& f) {
  std::atomic<int64_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto worker = [&] {
    for (int64_t i = next++; i < count; i = next++) try {
        f(i);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = count;
      }
  };
  std::vector<std::thread> threads;
  for (int64_t t = 1; t < std::min(workers, count); ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace chipref
