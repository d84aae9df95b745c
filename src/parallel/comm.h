#pragma once
// Comm: a group of ranks and the collectives between them. One interface over every backend:
// SelfComm (one rank, no launcher: copies), MpiComm (host buffers over MPI; comm_mpi.h) and, for
// GPUs, an NCCL backend with device buffers and a stream.
//
// Every operation has an asynchronous form returning a CommHandle and a blocking form that waits
// on it. Buffers handed to an asynchronous operation must stay valid and untouched until the
// handle completes. All ranks of a group must issue the group's collectives in the same order
// (the MPI rule); operations of one process complete in any order.
//
// Failure: a backend error or a watchdog timeout (a collective that outlives its deadline) turns
// into a Status from wait(), naming the operation, the group and, for a timeout, the ranks that
// did not arrive. After a failure the group is unusable; the process should report and exit
// (cli/ calls abort_world() so no peer hangs).
// Thread-safety: one thread issues operations; handles may be waited on from that thread only.
//
// Wait accounting: the time a caller spends blocked in CommHandle::wait() or wait_for() is added
// to the CommWaitTally of the group that issued the operation, so a rank can tell how much of a
// step it spent waiting for its peers, group by group (train/comm_waits.h).

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace symphony {

// kBf16: bfloat16 bit patterns (uint16_t); reductions convert each pair to fp32, combine and
// round to nearest even, so a sum over n ranks rounds n - 1 times (as NCCL's bf16 sum does).
enum class CommDType : uint8_t { kF32, kF64, kI32, kI64, kU8, kBf16 };
int64_t comm_dtype_bytes(CommDType dtype);

template <typename T>
constexpr CommDType comm_dtype_of();
template <>
constexpr CommDType comm_dtype_of<float>() { return CommDType::kF32; }
template <>
constexpr CommDType comm_dtype_of<double>() { return CommDType::kF64; }
template <>
constexpr CommDType comm_dtype_of<int32_t>() { return CommDType::kI32; }
template <>
constexpr CommDType comm_dtype_of<int64_t>() { return CommDType::kI64; }
template <>
constexpr CommDType comm_dtype_of<uint8_t>() { return CommDType::kU8; }

enum class ReduceOp : uint8_t { kSum, kMax, kMin };

// Seconds callers spent blocked waiting on operations, summed. Several groups may share one.
// Thread-safety: add() and seconds() may run concurrently.
class CommWaitTally {
 public:
  void add(double seconds) { ns_.fetch_add(int64_t(seconds * 1e9), std::memory_order_relaxed); }
  double seconds() const { return double(ns_.load(std::memory_order_relaxed)) * 1e-9; }

 private:
  std::atomic<int64_t> ns_{0};
};

// Completion of one asynchronous operation. Copyable; all copies share the state. A default
// constructed handle is complete and ok.
class CommHandle {
 public:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    Status status;
    double completed_s = 0;  // steady_seconds() when it completed
    std::shared_ptr<CommWaitTally> wait_tally;  // charged with blocked waits; may be null
  };

  CommHandle() = default;
  explicit CommHandle(std::shared_ptr<State> state) : state_(std::move(state)) {}
  static CommHandle completed(Status status = Status::ok());

  // Blocks until the operation finished; its outcome. Idempotent. The time blocked is added to
  // the issuing group's wait tally.
  Status wait() const;
  // Blocks until the operation finished or `seconds` passed; whether it finished (its outcome
  // is then wait()'s). The time blocked is added to the issuing group's wait tally.
  bool wait_for(double seconds) const;
  bool done() const;
  // steady_seconds() at completion; 0 while it has not completed (or for a default handle).
  double completed_s() const;

 private:
  std::shared_ptr<State> state_;
};

// Seconds of the monotonic clock (std::chrono::steady_clock), for timing communication.
double steady_seconds();

// Time of overlapped communication: how long operations were in flight, and how much of that
// the issuing thread spent waiting (the exposed part).
struct ExchangeTimes {
  double in_flight_s = 0;  // summed over operations: issue to completion
  double exposed_s = 0;    // summed over operations: time the caller waited
  void add(const ExchangeTimes& o) { in_flight_s += o.in_flight_s, exposed_s += o.exposed_s; }
  double hidden_fraction() const {
    return in_flight_s > 0 ? 1.0 - std::min(1.0, exposed_s / in_flight_s) : 0.0;
  }
};

// Marks a handle's state complete and wakes its waiters.
void complete_comm_handle(CommHandle::State& state, Status status);

class Comm {
 public:
  virtual ~Comm() = default;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& name() const { return name_; }  // e.g. "world", "dp", "dp_cp"

  // The tally charged with the time callers block on this group's operations. A new group has
  // its own; one made by split() starts with its parent's. set_wait_tally() replaces it for the
  // operations issued afterwards (never null).
  const std::shared_ptr<CommWaitTally>& wait_tally() const { return wait_tally_; }
  void set_wait_tally(std::shared_ptr<CommWaitTally> tally);

  // data[i] = op over ranks of data[i]; count elements.
  virtual CommHandle all_reduce_async(void* data, int64_t count, CommDType dtype, ReduceOp op) = 0;
  // send: size() * recv_count elements; this rank receives block rank() reduced over ranks.
  virtual CommHandle reduce_scatter_async(const void* send, void* recv, int64_t recv_count,
                                          CommDType dtype, ReduceOp op) = 0;
  // recv: size() * send_count elements, block r from rank r.
  virtual CommHandle all_gather_async(const void* send, void* recv, int64_t send_count,
                                      CommDType dtype) = 0;
  // Block r of send (count elements each) goes to rank r; block r of recv comes from rank r.
  virtual CommHandle all_to_all_async(const void* send, void* recv, int64_t count,
                                      CommDType dtype) = 0;
  // Variable blocks: send_counts[r] elements to rank r, packed in rank order; likewise recv.
  virtual CommHandle all_to_all_v_async(const void* send, std::span<const int64_t> send_counts,
                                        void* recv, std::span<const int64_t> recv_counts,
                                        CommDType dtype) = 0;
  virtual CommHandle broadcast_async(void* data, int64_t count, CommDType dtype, int root) = 0;
  virtual CommHandle send_async(const void* data, int64_t count, CommDType dtype, int peer,
                                int tag) = 0;
  virtual CommHandle recv_async(void* data, int64_t count, CommDType dtype, int peer, int tag) = 0;
  virtual CommHandle barrier_async() = 0;

  // A new group of the ranks that pass the same `color`, ordered by `key` (MPI_Comm_split).
  // Collective over this group.
  virtual Result<std::unique_ptr<Comm>> split(int color, int key, std::string name) = 0;

  // Blocking forms.
  Status all_reduce(void* data, int64_t count, CommDType dtype, ReduceOp op) {
    return all_reduce_async(data, count, dtype, op).wait();
  }
  Status reduce_scatter(const void* send, void* recv, int64_t recv_count, CommDType dtype,
                        ReduceOp op) {
    return reduce_scatter_async(send, recv, recv_count, dtype, op).wait();
  }
  Status all_gather(const void* send, void* recv, int64_t send_count, CommDType dtype) {
    return all_gather_async(send, recv, send_count, dtype).wait();
  }
  Status all_to_all(const void* send, void* recv, int64_t count, CommDType dtype) {
    return all_to_all_async(send, recv, count, dtype).wait();
  }
  Status all_to_all_v(const void* send, std::span<const int64_t> send_counts, void* recv,
                      std::span<const int64_t> recv_counts, CommDType dtype) {
    return all_to_all_v_async(send, send_counts, recv, recv_counts, dtype).wait();
  }
  Status broadcast(void* data, int64_t count, CommDType dtype, int root) {
    return broadcast_async(data, count, dtype, root).wait();
  }
  Status send(const void* data, int64_t count, CommDType dtype, int peer, int tag) {
    return send_async(data, count, dtype, peer, tag).wait();
  }
  Status recv(void* data, int64_t count, CommDType dtype, int peer, int tag) {
    return recv_async(data, count, dtype, peer, tag).wait();
  }
  Status barrier() { return barrier_async().wait(); }

  // Typed conveniences.
  template <typename T>
  Status all_reduce(std::span<T> data, ReduceOp op = ReduceOp::kSum) {
    return all_reduce(data.data(), int64_t(data.size()), comm_dtype_of<T>(), op);
  }
  template <typename T>
  Status all_gather(std::span<const T> send, std::span<T> recv) {
    return all_gather(send.data(), recv.data(), int64_t(send.size()), comm_dtype_of<T>());
  }
  template <typename T>
  Status broadcast(std::span<T> data, int root) {
    return broadcast(data.data(), int64_t(data.size()), comm_dtype_of<T>(), root);
  }

 protected:
  Comm(int rank, int size, std::string name) : rank_(rank), size_(size), name_(std::move(name)) {}

 private:
  int rank_;
  int size_;
  std::string name_;
  std::shared_ptr<CommWaitTally> wait_tally_ = std::make_shared<CommWaitTally>();
};

// The group of one rank: every collective is a copy (or nothing), every handle is complete.
// Point-to-point to oneself is not supported (a SYM_CHECK failure).
std::unique_ptr<Comm> make_self_comm(std::string name = "self");

}  // namespace symphony
