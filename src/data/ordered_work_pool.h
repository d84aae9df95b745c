#pragma once
// Runs a function over a stream of inputs on several threads and hands the results back in input
// order, so the output is the same whatever the thread count. At most `max_in_flight` inputs are
// submitted and not yet taken at any time, which bounds memory.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "core/check.h"

namespace symphony {

// Usage: one producer thread calls submit() then close(); one consumer thread calls take() until
// it returns nullopt. Either side may call cancel() to stop both (submit() then returns false and
// take() nullopt). `work` runs on the pool's threads and must not throw.
// Thread-safety: submit/close from one thread, take from one thread, cancel from any.
template <typename In, typename Out>
class OrderedWorkPool {
 public:
  using Work = std::function<Out(In&&)>;

  // REQUIRES: threads >= 1, max_in_flight >= 1.
  OrderedWorkPool(int threads, int64_t max_in_flight, Work work)
      : max_in_flight_(max_in_flight), work_(std::move(work)) {
    SYM_CHECK(threads >= 1 && max_in_flight >= 1, "threads {} max_in_flight {}", threads,
              max_in_flight);
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { worker_loop(); });
  }

  OrderedWorkPool(const OrderedWorkPool&) = delete;
  OrderedWorkPool& operator=(const OrderedWorkPool&) = delete;

  ~OrderedWorkPool() {
    cancel();
    for (std::thread& t : threads_) t.join();
  }

  // Blocks while max_in_flight inputs are waiting to be taken. False once cancelled.
  bool submit(In in) {
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] { return cancelled_ || next_submit_ - next_take_ < max_in_flight_; });
    if (cancelled_) return false;
    SYM_CHECK(!closed_, "submit after close");
    pending_.emplace_back(next_submit_++, std::move(in));
    work_ready_.notify_one();
    return true;
  }

  // No more inputs: take() returns nullopt once every submitted result has been taken.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    work_ready_.notify_all();
    result_ready_.notify_all();
  }

  void cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    work_ready_.notify_all();
    result_ready_.notify_all();
    space_.notify_all();
  }

  // The result of the next input in submission order; blocks until it is ready.
  std::optional<Out> take() {
    std::unique_lock lock(mu_);
    result_ready_.wait(lock, [&] {
      return cancelled_ || done_.count(next_take_) > 0 || (closed_ && next_take_ == next_submit_);
    });
    if (cancelled_) return std::nullopt;
    auto it = done_.find(next_take_);
    if (it == done_.end()) return std::nullopt;
    std::optional<Out> out(std::move(it->second));
    done_.erase(it);
    ++next_take_;
    space_.notify_one();
    return out;
  }

 private:
  void worker_loop() {
    std::unique_lock lock(mu_);
    while (true) {
      work_ready_.wait(lock, [&] { return cancelled_ || closed_ || !pending_.empty(); });
      if (cancelled_) return;
      if (pending_.empty()) {
        if (closed_) return;
        continue;
      }
      auto [seq, in] = std::move(pending_.front());
      pending_.pop_front();
      lock.unlock();
      Out out = work_(std::move(in));
      lock.lock();
      done_.emplace(seq, std::move(out));
      if (seq == next_take_) result_ready_.notify_one();
    }
  }

  const int64_t max_in_flight_;
  const Work work_;
  std::mutex mu_;
  std::condition_variable space_, work_ready_, result_ready_;
  std::deque<std::pair<int64_t, In>> pending_;
  std::map<int64_t, Out> done_;  // [sequence number] finished, not yet taken
  int64_t next_submit_ = 0;
  int64_t next_take_ = 0;
  bool closed_ = false;
  bool cancelled_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace symphony
