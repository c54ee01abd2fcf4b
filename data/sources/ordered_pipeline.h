#pragma once
// Parallel map that keeps the input order: the calling thread push()es work
// items, worker threads run `work` on them, and the calling thread
// `consume`s the results in push order. At most `max_in_flight` items are
// pushed but not yet consumed, so memory stays bounded however long the
// input is: push() consumes finished results while the window is full.
// A worker's exception is rethrown by the push()/finish() that reaches its
// item. With threads <= 1 everything runs inline on the calling thread.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace hmt {

template <class In, class Out>
class OrderedPipeline {
 public:
  OrderedPipeline(int threads, size_t max_in_flight, std::function<Out(In&)> work, std::function<void(Out&)> consume)
      : work_(std::move(work)), consume_(std::move(consume)), max_in_flight_(std::max<size_t>(max_in_flight, 1)) {
    if (threads <= 1) return;
    for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { run_worker(); });
  }
  ~OrderedPipeline() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    work_ready_.notify_all();
    for (auto& w : workers_) w.join();
  }
  OrderedPipeline(const OrderedPipeline&) = delete;
  OrderedPipeline& operator=(const OrderedPipeline&) = delete;

  void push(In item) {
    if (workers_.empty()) {
      Out out = work_(item);
      consume_(out);
      return;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    while (pushed_ - consumed_ >= max_in_flight_) consume_one(lock);
    jobs_.emplace_back(pushed_++, std::move(item));
    lock.unlock();
    work_ready_.notify_one();
  }

  void finish() {
    if (workers_.empty()) return;
    std::unique_lock<std::mutex> lock(mutex_);
    while (consumed_ < pushed_) consume_one(lock);
  }

 private:
  struct Result {
    std::optional<Out> out;
    std::exception_ptr error;
  };

  // Waits for the oldest unconsumed item and consumes it outside the lock.
  void consume_one(std::unique_lock<std::mutex>& lock) {
    result_ready_.wait(lock, [&] { return results_.count(consumed_) > 0; });
    Result result = std::move(results_[consumed_]);
    results_.erase(consumed_);
    ++consumed_;
    lock.unlock();
    if (result.error) {
      lock.lock();
      std::rethrow_exception(result.error);
    }
    consume_(*result.out);
    lock.lock();
  }

  void run_worker() {
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      auto [sequence, item] = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      Result result;
      try {
        result.out.emplace(work_(item));
      } catch (...) {
        result.error = std::current_exception();
      }
      lock.lock();
      results_[sequence] = std::move(result);
      lock.unlock();
      result_ready_.notify_all();
    }
  }

  std::function<Out(In&)> work_;
  std::function<void(Out&)> consume_;
  size_t max_in_flight_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_ready_, result_ready_;
  std::deque<std::pair<size_t, In>> jobs_;
  std::map<size_t, Result> results_;
  size_t pushed_ = 0, consumed_ = 0;
  bool stop_ = false;
};

}  // namespace hmt
