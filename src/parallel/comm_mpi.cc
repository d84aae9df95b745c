#include "parallel/comm_mpi.h"

// The C API only: the deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <malloc.h>
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "core/check.h"
#include "core/leak_check.h"
#include "kernels/bf16_bits.h"

namespace symphony {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kQueryTag = 1;  // on the diagnosis communicator: int64 group id
constexpr int kReplyTag = 2;  // int64 {group id, collectives started}

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, size_t(length));
}

MPI_Datatype mpi_type(CommDType dtype) {
  switch (dtype) {
    case CommDType::kF32: return MPI_FLOAT;
    case CommDType::kF64: return MPI_DOUBLE;
    case CommDType::kI32: return MPI_INT32_T;
    case CommDType::kI64: return MPI_INT64_T;
    case CommDType::kU8: return MPI_UINT8_T;
    case CommDType::kBf16: return MPI_UINT16_T;
  }
  return MPI_BYTE;
}

// MPI has no bfloat16: its reductions are user-defined operations on MPI_UINT16_T, created once
// after MPI_Init and freed before MPI_Finalize. Each combines in fp32 and rounds to nearest even.
template <typename Combine>
void bf16_reduce(void* in, void* inout, int* len, MPI_Datatype*) {
  const uint16_t* a = static_cast<const uint16_t*>(in);
  uint16_t* b = static_cast<uint16_t*>(inout);
  for (int i = 0; i < *len; ++i)
    b[i] = bf16_bits_from_f32(Combine{}(f32_from_bf16_bits(a[i]), f32_from_bf16_bits(b[i])));
}
struct Bf16Sum {
  float operator()(float x, float y) const { return x + y; }
};
struct Bf16Max {
  float operator()(float x, float y) const { return std::isnan(x) || x > y ? x : y; }
};
struct Bf16Min {
  float operator()(float x, float y) const { return std::isnan(x) || x < y ? x : y; }
};
MPI_Op g_bf16_ops[3] = {MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL};  // [ReduceOp]

void create_bf16_ops() {
  MPI_Op_create(&bf16_reduce<Bf16Sum>, 1, &g_bf16_ops[int(ReduceOp::kSum)]);
  MPI_Op_create(&bf16_reduce<Bf16Max>, 1, &g_bf16_ops[int(ReduceOp::kMax)]);
  MPI_Op_create(&bf16_reduce<Bf16Min>, 1, &g_bf16_ops[int(ReduceOp::kMin)]);
}

void free_bf16_ops() {
  for (MPI_Op& op : g_bf16_ops)
    if (op != MPI_OP_NULL) MPI_Op_free(&op);
}

MPI_Op mpi_op(ReduceOp op, CommDType dtype) {
  if (dtype == CommDType::kBf16) return g_bf16_ops[int(op)];
  switch (op) {
    case ReduceOp::kSum: return MPI_SUM;
    case ReduceOp::kMax: return MPI_MAX;
    case ReduceOp::kMin: return MPI_MIN;
  }
  return MPI_SUM;
}

std::string_view dtype_label(CommDType dtype) {
  switch (dtype) {
    case CommDType::kF32: return "f32";
    case CommDType::kF64: return "f64";
    case CommDType::kI32: return "i32";
    case CommDType::kI64: return "i64";
    case CommDType::kU8: return "u8";
    case CommDType::kBf16: return "bf16";
  }
  return "?";
}

int to_int_count(int64_t count) {
  SYM_CHECK(count >= 0 && count <= INT_MAX, "MPI message of {} elements exceeds INT_MAX", count);
  return int(count);
}

std::string join_ranks(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ", ") + std::to_string(r);
  return out;
}

// One registered communicator: what the watchdog needs to diagnose its collectives.
struct Group {
  MPI_Comm comm = MPI_COMM_NULL;
  std::string name;
  std::vector<int> world_ranks;  // [group rank] -> world rank
  int64_t started = 0;           // collectives started by this process, in issue order
};

// An operation queued to, then run by, the progress thread.
struct Op {
  std::function<int(MPI_Request*)> start;  // issues the non-blocking call; an MPI error code
  std::shared_ptr<CommHandle::State> state;
  std::string what;       // "all_reduce of 1048576 f32"
  int group = -1;
  int64_t seq = -1;       // collective index within the group; -1 for point-to-point
  MPI_Request request = MPI_REQUEST_NULL;
  Clock::time_point started_at;
  std::function<void()> synchronous;  // set instead of `start` for blocking set-up calls
  std::shared_ptr<CommWaitTally> wait_tally;  // the issuing group's
};

class MpiEngine {
 public:
  MpiEngine(double timeout_s, int world_rank, int world_size)
      : timeout_s_(timeout_s), world_rank_(world_rank), world_size_(world_size) {}

  // Called on the initialising thread before start().
  void register_world(MPI_Comm diag) { diag_ = diag; }

  int add_group(Group group) {
    groups_.push_back(std::move(group));
    return int(groups_.size()) - 1;
  }
  const Group& group(int id) const { return groups_[size_t(id)]; }

  void start() { thread_ = std::thread([this] { loop(); }); }

  // Stops the thread once everything queued has completed (or failed).
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool poisoned() const { return poisoned_.load(); }

  CommHandle submit(Op op) {
    auto state = std::make_shared<CommHandle::State>();
    state->wait_tally = op.wait_tally;
    op.state = state;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (poisoned_.load()) {
        complete_comm_handle(*state, Error::internal("{}: communication failed earlier: {}",
                                                     op.what, poison_message_));
        return CommHandle(state);
      }
      queue_.push_back(std::move(op));
    }
    cv_.notify_all();
    return CommHandle(state);
  }

  // Runs fn on the progress thread, in queue order, and waits for it.
  Status run_sync(std::string what, std::function<void()> fn) {
    Op op;
    op.what = std::move(what);
    op.synchronous = std::move(fn);
    return submit(std::move(op)).wait();
  }

 private:
  void loop() {
    int idle_rounds = 0;
    post_diag_receive();
    while (true) {
      std::deque<Op> incoming;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (queue_.empty() && inflight_.empty()) {
          if (stop_) break;
          // Nothing outstanding: wake for new work, and now and then to answer diagnosis queries.
          cv_.wait_for(lock, std::chrono::milliseconds(5));
        }
        incoming.swap(queue_);
      }
      bool progressed = !incoming.empty();
      for (Op& op : incoming) start_op(std::move(op));
      progressed |= test_inflight();
      progressed |= serve_queries();
      if (poisoned_.load()) break;
      if (check_deadlines()) break;
      if (progressed) {
        idle_rounds = 0;
      } else if (!inflight_.empty()) {
        // Non-blocking collectives advance only inside MPI_Test, so the thread keeps testing;
        // it yields the core between tests so ranks still computing are not starved, and only
        // after a long quiet spell sleeps briefly.
        ++idle_rounds;
        if (idle_rounds > 20000)
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        else if (idle_rounds > 64)
          std::this_thread::yield();
      }
    }
    if (!poisoned_.load() && diag_request_ != MPI_REQUEST_NULL) {
      MPI_Cancel(&diag_request_);
      MPI_Wait(&diag_request_, MPI_STATUS_IGNORE);
    }
  }

  void start_op(Op op) {
    if (poisoned_.load()) {
      complete_comm_handle(*op.state, Error::internal("{}: communication failed earlier: {}",
                                                      op.what, poison_message_));
      return;
    }
    if (op.synchronous) {
      op.synchronous();
      complete_comm_handle(*op.state, Status::ok());
      return;
    }
    if (op.group >= 0 && op.seq == -2) op.seq = groups_[size_t(op.group)].started++;
    op.started_at = Clock::now();
    const int rc = op.start(&op.request);
    if (rc != MPI_SUCCESS) {
      complete_comm_handle(*op.state, Error::internal("{} on group '{}': MPI error: {}", op.what,
                                                      groups_[size_t(op.group)].name,
                                                      mpi_error_string(rc)));
      return;
    }
    inflight_.push_back(std::move(op));
  }

  bool test_inflight() {
    bool progressed = false;
    for (size_t i = 0; i < inflight_.size();) {
      Op& op = inflight_[i];
      int flag = 0;
      MPI_Status status;
      const int rc = MPI_Test(&op.request, &flag, &status);
      if (rc != MPI_SUCCESS || flag) {
        Status result = rc == MPI_SUCCESS
                            ? Status::ok()
                            : Error::internal("{} on group '{}': MPI error: {}", op.what,
                                              groups_[size_t(op.group)].name, mpi_error_string(rc));
        complete_comm_handle(*op.state, std::move(result));
        inflight_.erase(inflight_.begin() + std::ptrdiff_t(i));
        progressed = true;
      } else {
        ++i;
      }
    }
    return progressed;
  }

  void post_diag_receive() {
    MPI_Irecv(&diag_query_, 1, MPI_INT64_T, MPI_ANY_SOURCE, kQueryTag, diag_, &diag_request_);
  }

  // Answers other ranks' watchdogs: how many collectives of the asked group this rank started.
  bool serve_queries() {
    bool served = false;
    while (diag_request_ != MPI_REQUEST_NULL) {
      int flag = 0;
      MPI_Status status;
      MPI_Test(&diag_request_, &flag, &status);
      if (!flag) break;
      const int64_t id = diag_query_;
      auto reply = std::make_unique<int64_t[]>(2);
      reply[0] = id;
      reply[1] = id >= 0 && id < int64_t(groups_.size()) ? groups_[size_t(id)].started : -1;
      MPI_Request send;
      MPI_Isend(reply.get(), 2, MPI_INT64_T, status.MPI_SOURCE, kReplyTag, diag_, &send);
      replies_.push_back({send, std::move(reply)});
      post_diag_receive();
      served = true;
    }
    for (size_t i = 0; i < replies_.size();) {
      int flag = 0;
      MPI_Test(&replies_[i].request, &flag, MPI_STATUS_IGNORE);
      if (flag) {
        replies_.erase(replies_.begin() + std::ptrdiff_t(i));
      } else {
        ++i;
      }
    }
    return served;
  }

  // The diagnosis (asking the peers how far they got) starts this long before the deadline, so
  // the error comes when timeout_s is reached, not after it.
  double diagnosis_lead_s() const { return std::clamp(timeout_s_ / 4, 0.05, 10.0); }

  // True when an operation timed out (the engine is then poisoned). An operation that completes
  // while its peers are being asked is not a timeout: the main loop then completes it as usual.
  bool check_deadlines() {
    const Clock::time_point now = Clock::now();
    for (Op& op : inflight_) {
      const double age_s = std::chrono::duration<double>(now - op.started_at).count();
      if (age_s <= timeout_s_ - diagnosis_lead_s()) continue;
      std::optional<std::string> message = diagnose(op);
      if (!message) return false;
      poison(*message);
      return true;
    }
    return false;
  }

  // True once `op` has completed; leaves the request for test_inflight() to collect.
  static bool op_completed(Op& op) {
    int flag = 0;
    return MPI_Request_get_status(op.request, &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag;
  }

  // Asks every peer of the stalled group how many of its collectives it started, answering the
  // peers' own questions meanwhile, until the deadline of `op`. Returns the watchdog's message, or
  // nothing when `op` completed before its deadline.
  std::optional<std::string> diagnose(Op& op) {
    const Group& g = groups_[size_t(op.group)];
    const int64_t id = op.group;
    std::vector<int> peers;
    for (int r : g.world_ranks)
      if (r != world_rank_) peers.push_back(r);
    std::vector<int64_t> answers(peers.size() * 2, -1);
    std::vector<MPI_Request> recvs(peers.size());
    for (size_t i = 0; i < peers.size(); ++i) {
      // The query is sent like a reply: its buffer lives until serve_queries() sees it delivered.
      Reply query{MPI_REQUEST_NULL, std::make_unique<int64_t[]>(1)};
      query.payload[0] = id;
      MPI_Isend(query.payload.get(), 1, MPI_INT64_T, peers[i], kQueryTag, diag_, &query.request);
      replies_.push_back(std::move(query));
      MPI_Irecv(&answers[2 * i], 2, MPI_INT64_T, peers[i], kReplyTag, diag_, &recvs[i]);
    }
    std::vector<bool> answered(peers.size(), false);
    const Clock::time_point deadline =
        op.started_at +
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s_));
    size_t pending = peers.size();
    bool completed = false;
    while (Clock::now() < deadline) {
      for (size_t i = 0; i < peers.size(); ++i) {
        if (answered[i]) continue;
        int flag = 0;
        MPI_Test(&recvs[i], &flag, MPI_STATUS_IGNORE);
        if (flag) answered[i] = true, --pending;
      }
      serve_queries();  // peers diagnosing the same stall ask us too
      if (op_completed(op)) {
        completed = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // After a completion every peer is alive and answers soon: collect the answers, so none is
    // left to be matched by a later diagnosis. Answers still missing after that are abandoned (a
    // dead or stopped peer never sends one).
    const Clock::time_point drain_until =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(completed ? diagnosis_lead_s() : 0.0));
    while (pending > 0 && Clock::now() < drain_until) {
      for (size_t i = 0; i < peers.size(); ++i) {
        if (answered[i]) continue;
        int flag = 0;
        MPI_Test(&recvs[i], &flag, MPI_STATUS_IGNORE);
        if (flag) answered[i] = true, --pending;
      }
      serve_queries();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (size_t i = 0; i < peers.size(); ++i) {
      if (answered[i]) continue;
      MPI_Cancel(&recvs[i]);
      MPI_Wait(&recvs[i], MPI_STATUS_IGNORE);
    }
    if (completed) return std::nullopt;
    const double age_s = std::chrono::duration<double>(Clock::now() - op.started_at).count();
    std::vector<int> arrived{world_rank_}, behind, silent;
    std::string behind_detail;
    for (size_t i = 0; i < peers.size(); ++i) {
      if (!answered[i]) {
        silent.push_back(peers[i]);
      } else if (answers[2 * i + 1] > op.seq) {
        arrived.push_back(peers[i]);
      } else {
        behind.push_back(peers[i]);
        behind_detail += fmt::format("{}rank {} has started {} of them", behind_detail.empty() ? "" : "; ",
                                     peers[i], answers[2 * i + 1]);
      }
    }
    std::sort(arrived.begin(), arrived.end());
    std::vector<int> missing = behind;
    missing.insert(missing.end(), silent.begin(), silent.end());
    std::sort(missing.begin(), missing.end());
    std::string message = fmt::format(
        "watchdog: {} (collective #{} of group '{}', {} ranks) did not complete within {:.0f} s "
        "on rank {}; ranks that did not arrive: {}",
        op.what, op.seq + 1, g.name, g.world_ranks.size(), age_s, world_rank_,
        missing.empty() ? "none (all arrived; the operation itself stalled)" : join_ranks(missing));
    if (!behind.empty()) message += fmt::format(" [{}]", behind_detail);
    if (!silent.empty())
      message += fmt::format(" [no answer from rank(s) {}: dead, stopped or unreachable]",
                             join_ranks(silent));
    message += fmt::format("; arrived: {}. World ranks; raise parallel.timeout_s if a rank is "
                           "legitimately slower", join_ranks(arrived));
    return message;
  }

  void poison(const std::string& message) {
    std::deque<Op> queued;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      poison_message_ = message;
      poisoned_.store(true);
      queued.swap(queue_);
    }
    for (Op& op : inflight_) complete_comm_handle(*op.state, Error::internal("{}", message));
    inflight_.clear();
    for (Op& op : queued)
      complete_comm_handle(*op.state, Error::internal("{}: {}", op.what, message));
  }

  struct Reply {
    MPI_Request request;
    std::unique_ptr<int64_t[]> payload;
  };

  double timeout_s_;
  int world_rank_;
  int world_size_;
  MPI_Comm diag_ = MPI_COMM_NULL;
  std::vector<Group> groups_;  // touched only by the progress thread after start()
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Op> queue_;
  bool stop_ = false;
  std::atomic<bool> poisoned_{false};
  std::string poison_message_;
  std::deque<Op> inflight_;
  int64_t diag_query_ = -1;
  MPI_Request diag_request_ = MPI_REQUEST_NULL;
  std::deque<Reply> replies_;
};

class MpiComm final : public Comm {
 public:
  MpiComm(MpiEngine& engine, int group_id, MPI_Comm comm, int rank, int size, std::string name)
      : Comm(rank, size, std::move(name)), engine_(engine), group_(group_id), comm_(comm) {}

  CommHandle all_reduce_async(void* data, int64_t count, CommDType dtype, ReduceOp op) override {
    const int n = to_int_count(count);
    MPI_Comm c = comm_;
    return collective(fmt::format("all_reduce of {} {}", count, dtype_label(dtype)),
                      [=](MPI_Request* r) {
                        return MPI_Iallreduce(MPI_IN_PLACE, data, n, mpi_type(dtype), mpi_op(op, dtype), c, r);
                      });
  }
  CommHandle reduce_scatter_async(const void* send, void* recv, int64_t recv_count,
                                  CommDType dtype, ReduceOp op) override {
    const int n = to_int_count(recv_count);
    to_int_count(recv_count * size());
    MPI_Comm c = comm_;
    return collective(fmt::format("reduce_scatter of {} {} per rank", recv_count, dtype_label(dtype)),
                      [=](MPI_Request* r) {
                        return MPI_Ireduce_scatter_block(send, recv, n, mpi_type(dtype), mpi_op(op, dtype), c, r);
                      });
  }
  CommHandle all_gather_async(const void* send, void* recv, int64_t send_count,
                              CommDType dtype) override {
    const int n = to_int_count(send_count);
    to_int_count(send_count * size());
    MPI_Comm c = comm_;
    const bool in_place =
        send == static_cast<const char*>(recv) + send_count * rank() * comm_dtype_bytes(dtype);
    return collective(fmt::format("all_gather of {} {} per rank", send_count, dtype_label(dtype)),
                      [=](MPI_Request* r) {
                        return MPI_Iallgather(in_place ? MPI_IN_PLACE : send, n, mpi_type(dtype),
                                              recv, n, mpi_type(dtype), c, r);
                      });
  }
  CommHandle all_to_all_async(const void* send, void* recv, int64_t count,
                              CommDType dtype) override {
    const int n = to_int_count(count);
    MPI_Comm c = comm_;
    return collective(fmt::format("all_to_all of {} {} per pair", count, dtype_label(dtype)),
                      [=](MPI_Request* r) {
                        return MPI_Ialltoall(send, n, mpi_type(dtype), recv, n, mpi_type(dtype), c, r);
                      });
  }
  CommHandle all_to_all_v_async(const void* send, std::span<const int64_t> send_counts, void* recv,
                                std::span<const int64_t> recv_counts, CommDType dtype) override {
    SYM_CHECK(int(send_counts.size()) == size() && int(recv_counts.size()) == size(),
              "all_to_all_v: {} send and {} recv counts for {} ranks", send_counts.size(),
              recv_counts.size(), size());
    // The count arrays must outlive the non-blocking call: they live in the closure, which the
    // progress thread keeps until the operation completes.
    auto counts = std::make_shared<std::vector<int>>(size_t(4 * size()));
    int64_t send_total = 0, recv_total = 0;
    for (int r = 0; r < size(); ++r) {
      (*counts)[size_t(r)] = to_int_count(send_counts[size_t(r)]);
      (*counts)[size_t(size() + r)] = to_int_count(send_total);
      (*counts)[size_t(2 * size() + r)] = to_int_count(recv_counts[size_t(r)]);
      (*counts)[size_t(3 * size() + r)] = to_int_count(recv_total);
      send_total += send_counts[size_t(r)];
      recv_total += recv_counts[size_t(r)];
    }
    const int p = size();
    MPI_Comm c = comm_;
    return collective(fmt::format("all_to_all_v of {} {} sent", send_total, dtype_label(dtype)),
                      [=](MPI_Request* r) {
                        const int* k = counts->data();
                        return MPI_Ialltoallv(send, k, k + p, mpi_type(dtype), recv, k + 2 * p,
                                              k + 3 * p, mpi_type(dtype), c, r);
                      });
  }
  CommHandle broadcast_async(void* data, int64_t count, CommDType dtype, int root) override {
    const int n = to_int_count(count);
    MPI_Comm c = comm_;
    return collective(fmt::format("broadcast of {} {} from rank {}", count, dtype_label(dtype), root),
                      [=](MPI_Request* r) { return MPI_Ibcast(data, n, mpi_type(dtype), root, c, r); });
  }
  CommHandle send_async(const void* data, int64_t count, CommDType dtype, int peer,
                        int tag) override {
    const int n = to_int_count(count);
    MPI_Comm c = comm_;
    return point_to_point(fmt::format("send of {} {} to rank {}", count, dtype_label(dtype), peer),
                          [=](MPI_Request* r) { return MPI_Isend(data, n, mpi_type(dtype), peer, tag, c, r); });
  }
  CommHandle recv_async(void* data, int64_t count, CommDType dtype, int peer, int tag) override {
    const int n = to_int_count(count);
    MPI_Comm c = comm_;
    return point_to_point(fmt::format("recv of {} {} from rank {}", count, dtype_label(dtype), peer),
                          [=](MPI_Request* r) { return MPI_Irecv(data, n, mpi_type(dtype), peer, tag, c, r); });
  }
  CommHandle barrier_async() override {
    MPI_Comm c = comm_;
    return collective("barrier", [=](MPI_Request* r) { return MPI_Ibarrier(c, r); });
  }

  Result<std::unique_ptr<Comm>> split(int color, int key, std::string name) override;

 private:
  CommHandle collective(std::string what, std::function<int(MPI_Request*)> start) {
    Op op;
    op.what = std::move(what);
    op.start = std::move(start);
    op.group = group_;
    op.seq = -2;  // numbered by the progress thread when started
    op.wait_tally = wait_tally();
    return engine_.submit(std::move(op));
  }
  CommHandle point_to_point(std::string what, std::function<int(MPI_Request*)> start) {
    Op op;
    op.what = std::move(what);
    op.start = std::move(start);
    op.group = group_;
    op.wait_tally = wait_tally();
    return engine_.submit(std::move(op));
  }

  MpiEngine& engine_;
  int group_;
  MPI_Comm comm_;
};

// Creates and registers a group on the progress thread. REQUIRES: running on that thread.
std::unique_ptr<Comm> register_comm(MpiEngine& engine, MPI_Comm comm, std::string name) {
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  MPI_Group world_group, group;
  MPI_Comm_group(MPI_COMM_WORLD, &world_group);
  MPI_Comm_group(comm, &group);
  std::vector<int> local(static_cast<size_t>(size)), world(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) local[size_t(r)] = r;
  MPI_Group_translate_ranks(group, size, local.data(), world_group, world.data());
  MPI_Group_free(&group);
  MPI_Group_free(&world_group);
  Group g;
  g.comm = comm;
  g.name = name;
  g.world_ranks = world;
  const int id = engine.add_group(std::move(g));
  return std::make_unique<MpiComm>(engine, id, comm, rank, size, std::move(name));
}

Result<std::unique_ptr<Comm>> MpiComm::split(int color, int key, std::string name) {
  std::unique_ptr<Comm> made;
  int rc = MPI_SUCCESS;
  SYM_TRY(engine_.run_sync("split", [&] {
    MPI_Comm out = MPI_COMM_NULL;
    rc = MPI_Comm_split(comm_, color, key, &out);
    if (rc == MPI_SUCCESS) made = register_comm(engine_, out, name);
  }));
  if (rc != MPI_SUCCESS)
    return Error::internal("splitting group '{}' into '{}': MPI error: {}", this->name(), name,
                           mpi_error_string(rc));
  made->set_wait_tally(wait_tally());
  return made;
}

MpiEngine* g_abort_engine = nullptr;  // for the fatal hook only

class MpiRuntime final : public Runtime {
 public:
  MpiRuntime(std::unique_ptr<MpiEngine> engine, std::unique_ptr<Comm> world)
      : engine_(std::move(engine)), world_(std::move(world)) {}

  ~MpiRuntime() override {
    // A barrier first, so no rank finalises while a peer still needs it; skipped when poisoned.
    Status s = engine_->poisoned() ? Status::ok() : world_->barrier();
    engine_->stop();
    world_.reset();
    g_abort_engine = nullptr;
    if (!s.is_ok() || engine_->poisoned()) MPI_Abort(MPI_COMM_WORLD, 1);
    free_bf16_ops();
    check_leaks_now();  // while OpenMPI's components are loaded (core/leak_check.h)
    MPI_Finalize();
  }

  Comm& world() override { return *world_; }
  bool distributed() const override { return true; }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    engine_->stop();  // the thread makes no MPI call once stopped or poisoned
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  std::unique_ptr<MpiEngine> engine_;
  std::unique_ptr<Comm> world_;
};

}  // namespace

// The MPI library allocates and frees a scratch buffer of the message's size inside every large
// reduction. glibc would hand that memory back to the kernel on each free and fault it in again on
// the next call, which costs more than the reduction itself where page faults are slow (a 64 MiB
// all-reduce of two ranks: 190 ms against 16 ms with the memory kept). Serving every allocation,
// the progress thread's included, from the one main heap (a thread's own heap cannot hold such a
// buffer, and an mmap'ed one is unmapped on free), growing it in large steps and never trimming it
// keeps the scratch memory mapped between calls; freed memory is reused, not returned.
static void keep_scratch_memory_mapped() {
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TOP_PAD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

Result<std::unique_ptr<Runtime>> start_mpi_runtime(const RuntimeOptions& options) {
  keep_scratch_memory_mapped();
  int provided = 0;
  int rc = MPI_SUCCESS;
  {
    IgnoreLeaksInScope ignore;  // OpenMPI's unloaded components (core/leak_check.h)
    rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
  }
  if (rc != MPI_SUCCESS)
    return Error::internal("MPI_Init_thread failed: {}", mpi_error_string(rc));
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    return Error::internal("the MPI library provides thread level {}, below "
                           "MPI_THREAD_SERIALIZED, which the progress thread needs", provided);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  create_bf16_ops();
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  auto engine = std::make_unique<MpiEngine>(options.timeout_s, rank, size);
  MPI_Comm diag = MPI_COMM_NULL, world = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_WORLD, &diag);
  MPI_Comm_dup(MPI_COMM_WORLD, &world);
  engine->register_world(diag);
  std::unique_ptr<Comm> world_comm = register_comm(*engine, world, "world");
  engine->start();
  g_abort_engine = engine.get();
  // A failed SYM_CHECK on one rank must end the job, not leave its peers waiting.
  add_fatal_hook([] {
    if (g_abort_engine != nullptr) MPI_Abort(MPI_COMM_WORLD, 1);
  });
  return std::unique_ptr<Runtime>(std::make_unique<MpiRuntime>(std::move(engine), std::move(world_comm)));
}

}  // namespace symphony
