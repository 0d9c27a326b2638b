#pragma once
// Items 0..count−1 on up to `workers` threads (the calling thread one of them), each taken in turn from a
// shared counter; after a failure no new item starts, and the first exception is rethrown once all have
// stopped. Results belong in per-item slots, so they do not depend on the number of threads.
//
// The helpers come from one process-wide pool whose threads live as long as the process: a kernel splits
// a single layer over threads many times an image, and starting a thread costs tens of microseconds.
// The caller always works on its own items, so a call made from inside an item (a threaded chunk whose
// layer splits again) or from several threads at once finishes even when every pool thread is busy.
// Waking a sleeping thread takes 50–200 µs on a virtual machine, as long as a split layer's half: an
// idle helper and a caller waiting for its helpers first spin for kSpin before they sleep. The spin
// pauses (x86 `pause`) rather than yields: sched_yield is a system call, and on a virtual machine it
// alone delayed a helper by 20–50 µs.

#include <algorithm>
#include <atomic>
#include <chrono>
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
      ++queued_;
      wake_.notify_all();
    }
    work_on(job);
    if (helpers > 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      // helpers that have not picked the job up by now would find no item left: they must not touch it
      if (const auto it = std::find(queue_.begin(), queue_.end(), &job); it != queue_.end())
        queue_.erase(it), --queued_;
      lock.unlock();
      spin_until([&] { return job.helpers_working == 0; });
      lock.lock();
      finished_.wait(lock, [&] { return job.helpers_working == 0; });
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
  static constexpr std::chrono::microseconds kSpin{500};

  struct Job {
    int64_t count = 0;
    const std::function<void(int64_t)>* f = nullptr;
    std::atomic<int64_t> next{0};
    int64_t helpers_wanted = 0;               // under the pool's mutex
    std::atomic<int64_t> helpers_working{0};  // changed under the pool's mutex, read without it
    std::mutex failure_mutex;
    std::exception_ptr failure;
  };

  WorkerPool() = default;

  template <class Done>
  static void spin_until(Done done) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (!done() && std::chrono::steady_clock::now() < until) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#else
      std::this_thread::yield();
#endif
    }
  }

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
      lock.unlock();
      spin_until([&] { return queued_ > 0 || stopping_; });
      lock.lock();
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Job& job = *queue_.front();
      if (--job.helpers_wanted == 0) queue_.pop_front(), --queued_;
      ++job.helpers_working;
      lock.unlock();
      work_on(job);
      lock.lock();
      --job.helpers_working;  // the last touch of the job: its caller may free it from here on
      finished_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  std::atomic<int64_t> queued_{0};  // queue_.size(), for spinning helpers to read without the mutex
  std::deque<Job*> queue_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

template <class F>
void for_each_index_in_parallel(int64_t count, int64_t workers, F&& f) {
  if (workers <= 1 || count <= 1) {  // no pool, no std::function: the common single-thread case
    for (int64_t i = 0; i < count; ++i) f(i);
    return;
  }
  WorkerPool::shared().run(count, workers, std::function<void(int64_t)>(std::ref(f)));
}

// The batches [first, first + size) of `batch` items over [0, count): `produce(first, size)` on up to
// `workers` threads, then `consume(first, size, product)` for each batch in order on the calling thread,
// `2 * workers` batches at a time (what is alive at once stays bounded). Whatever consume accumulates,
// floats included, comes out the same for any number of workers. A produce that splits its own work
// again (an engine's chunks, a kernel's rows) finds the pool busy and runs that work on its own thread.
template <class Produce, class Consume>
void for_each_batch_in_order(int64_t count, int64_t batch, int64_t workers, Produce&& produce, Consume&& consume) {
  using Product = decltype(produce(int64_t{0}, int64_t{0}));
  const int64_t batches = batch > 0 ? (count + batch - 1) / batch : 0;
  const int64_t wave = std::max<int64_t>(1, workers) * 2;
  std::vector<Product> products;
  for (int64_t first_batch = 0; first_batch < batches; first_batch += wave) {
    const int64_t in_wave = std::min(wave, batches - first_batch);
    products.assign(static_cast<size_t>(in_wave), Product{});
    for_each_index_in_parallel(in_wave, workers, [&](int64_t i) {
      const int64_t first = (first_batch + i) * batch;
      products[static_cast<size_t>(i)] = produce(first, std::min(batch, count - first));
    });
    for (int64_t i = 0; i < in_wave; ++i) {
      const int64_t first = (first_batch + i) * batch;
      consume(first, std::min(batch, count - first), products[static_cast<size_t>(i)]);
    }
  }
}

}  // namespace chipref
