#pragma once
// Items 0..count−1 on up to `workers` threads (the calling thread one of them), each taken in turn from a
// shared counter; after a failure no new item starts, and the first exception is rethrown once all have
// stopped. Results belong in per-item slots, so they do not depend on the number of threads.
//
// The helpers come from one process-wide pool whose threads live as long as the process: a kernel splits
// a single layer over threads many times an image, and starting a thread costs tens of microseconds.
// The caller always works on its own items, so a call made from inside an item (a threaded chunk whose
// layer splits again) or from several threads at once finishes even when every pool thread is busy.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace chipref {

class WorkerPool {
 public:
  static WorkerPool& shared() {
    static WorkerPool pool;
    return pool;
  }

  void run(int64_t count, int64_t workers, const std::function<void(int64_t)>& f) {
    Job job;
    job.count = count, job.f = &f;
    const int64_t helpers = std::min<int64_t>(std::min(workers, count) - 1, kMaxThreads);
    if (helpers > 0) {
      const std::lock_guard<std::mutex> lock(mutex_);
      while (static_cast<int64_t>(threads_.size()) < helpers) threads_.emplace_back([this] { serve(); });
      job.helpers_wanted = helpers;
      queue_.push_back(&job);
      wake_.notify_all();
    }
    work_on(job);
    if (helpers > 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      // helpers that have not picked the job up by now would find no item left: they must not touch it
      if (const auto it = std::find(queue_.begin(), queue_.end(), &job); it != queue_.end()) queue_.erase(it);
      job.finished.wait(lock, [&] { return job.helpers_working == 0; });
    }
    if (job.failure) std::rethrow_exception(job.failure);
  }

  int64_t threads() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int64_t>(threads_.size());
  }

  ~WorkerPool() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      wake_.notify_all();
    }
    for (std::thread& t : threads_) t.join();
  }

 private:
  static constexpr int64_t kMaxThreads = 256;

  struct Job {
    int64_t count = 0;
    const std::function<void(int64_t)>* f = nullptr;
    std::atomic<int64_t> next{0};
    int64_t helpers_wanted = 0, helpers_working = 0;  // under the pool's mutex
    std::condition_variable finished;
    std::mutex failure_mutex;
    std::exception_ptr failure;
  };

  WorkerPool() = default;

  static void work_on(Job& job) {
    for (int64_t i = job.next++; i < job.count; i = job.next++) try {
        (*job.f)(i);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(job.failure_mutex);
        if (!job.failure) job.failure = std::current_exception();
        job.next = job.count;
      }
  }

  void serve() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Job& job = *queue_.front();
      if (--job.helpers_wanted == 0) queue_.pop_front();
      ++job.helpers_working;
      lock.unlock();
      work_on(job);
      lock.lock();
      // the caller may free the job as soon as the mutex is released after this
      if (--job.helpers_working == 0) job.finished.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job*> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

template <class F>
void for_each_index_in_parallel(int64_t count, int64_t workers, F&& f) {
  if (workers <= 1 || count <= 1) {  // no pool, no std::function: the common single-thread case
    for (int64_t i = 0; i < count; ++i) f(i);
    return;
  }
  WorkerPool::shared().run(count, workers, std::function<void(int64_t)>(std::ref(f)));
}

}  // namespace chipref
