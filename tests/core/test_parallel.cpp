// core/parallel.hpp: every item runs once whatever the thread count, a failure stops new items and is
// rethrown, calls nest and run from several threads at once without deadlock, and the pool's threads
// outlive a call (they are reused, not started per call).

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/parallel.hpp"

using namespace chipref;

TEST_CASE("Parallel/every item runs exactly once, for any count and number of workers", "[core][parallel]") {
  for (int64_t workers = 1; workers <= 8; ++workers)
    for (int64_t count : {0, 1, 2, 3, 7, 64, 1000}) {
      std::vector<std::atomic<int>> runs(static_cast<size_t>(count));
      for_each_index_in_parallel(count, workers, [&](int64_t i) { ++runs[i]; });
      INFO(workers << " workers, " << count << " items");
      for (int64_t i = 0; i < count; ++i) CHECK(runs[i] == 1);
    }
}

TEST_CASE("Parallel/the first failure is rethrown, no item starts after it, and the pool goes on", "[core][parallel]") {
  // one worker: the items run in order, so exactly those before the failing one and itself ran
  std::vector<int> ran;
  CHECK_THROWS_WITH(for_each_index_in_parallel(10, 1,
                                               [&](int64_t i) {
                                                 ran.push_back(static_cast<int>(i));
                                                 if (i == 4) throw std::runtime_error("item 4");
                                               }),
                    "item 4");
  CHECK(ran == std::vector<int>{0, 1, 2, 3, 4});
  // several workers: the others stop taking items once the failure is caught (each item takes 100 µs,
  // so finishing all 1000 would take 25 ms a worker; the failure comes at the 11th)
  for (int round = 0; round < 5; ++round) {
    std::atomic<int> ran_items{0};
    CHECK_THROWS_WITH(for_each_index_in_parallel(1000, 4,
                                                 [&](int64_t i) {
                                                   ++ran_items;
                                                   if (i == 10) throw std::runtime_error("item 10");
                                                   std::this_thread::sleep_for(std::chrono::microseconds(100));
                                                 }),
                      "item 10");
    CHECK(ran_items < 200);
  }
  std::atomic<int> total{0};
  for_each_index_in_parallel(100, 4, [&](int64_t) { ++total; });
  CHECK(total == 100);
}

TEST_CASE("Parallel/calls nest and run from several threads at once", "[core][parallel]") {
  std::atomic<int64_t> sum{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for_each_index_in_parallel(
          8, 3, [&](int64_t i) { for_each_index_in_parallel(50, 3, [&](int64_t j) { sum += i * 50 + j; }); });
    });
  for (std::thread& t : callers) t.join();
  CHECK(sum == 4 * (399 * 400 / 2));  // each caller: items 0..399
}

TEST_CASE("Parallel/helpers are pool threads kept between calls", "[core][parallel]") {
  for_each_index_in_parallel(2, 2, [](int64_t) {});
  const int64_t threads = WorkerPool::shared().threads();
  CHECK(threads >= 1);
  for (int call = 0; call < 20; ++call) {
    std::set<std::thread::id> ids;
    std::mutex m;
    for_each_index_in_parallel(20, 2, [&](int64_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      const std::lock_guard<std::mutex> lock(m);
      ids.insert(std::this_thread::get_id());
    });
    CHECK(ids.size() == 2);  // the caller and a helper
  }
  CHECK(WorkerPool::shared().threads() == threads);  // no thread started for any of the 20 calls
}
