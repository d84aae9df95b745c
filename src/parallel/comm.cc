#include "parallel/comm.h"

#include <chrono>
#include <cstring>

#include "core/check.h"

namespace symphony {

int64_t comm_dtype_bytes(CommDType dtype) {
  switch (dtype) {
    case CommDType::kF32: return 4;
    case CommDType::kF64: return 8;
    case CommDType::kI32: return 4;
    case CommDType::kI64: return 8;
    case CommDType::kU8: return 1;
    case CommDType::kBf16: return 2;
  }
  return 1;
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

CommHandle CommHandle::completed(Status status) {
  auto state = std::make_shared<State>();
  state->done = true;
  state->completed_s = steady_seconds();
  state->status = std::move(status);
  return CommHandle(std::move(state));
}

Status CommHandle::wait() const {
  if (!state_) return Status::ok();
  std::unique_lock<std::mutex> lock(state_->mutex);
  if (!state_->done) {
    const double start = steady_seconds();
    state_->cv.wait(lock, [&] { return state_->done; });
    if (state_->wait_tally) state_->wait_tally->add(steady_seconds() - start);
  }
  return state_->status;
}

bool CommHandle::wait_for(double seconds) const {
  if (!state_) return true;
  std::unique_lock<std::mutex> lock(state_->mutex);
  if (state_->done) return true;
  const double start = steady_seconds();
  const bool done = state_->cv.wait_for(lock, std::chrono::duration<double>(seconds),
                                        [&] { return state_->done; });
  if (state_->wait_tally) state_->wait_tally->add(steady_seconds() - start);
  return done;
}

double CommHandle::completed_s() const {
  if (!state_) return 0;
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->completed_s;
}

bool CommHandle::done() const {
  if (!state_) return true;
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->done;
}

void Comm::set_wait_tally(std::shared_ptr<CommWaitTally> tally) {
  SYM_CHECK(tally != nullptr, "group '{}': null wait tally", name_);
  wait_tally_ = std::move(tally);
}

void complete_comm_handle(CommHandle::State& state, Status status) {
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.status = std::move(status);
    state.done = true;
    state.completed_s = steady_seconds();
  }
  state.cv.notify_all();
}

namespace {

class SelfComm final : public Comm {
 public:
  explicit SelfComm(std::string name) : Comm(0, 1, std::move(name)) {}

  CommHandle all_reduce_async(void*, int64_t, CommDType, ReduceOp) override {
    return CommHandle::completed();
  }
  CommHandle reduce_scatter_async(const void* send, void* recv, int64_t recv_count,
                                  CommDType dtype, ReduceOp) override {
    return copy(send, recv, recv_count, dtype);
  }
  CommHandle all_gather_async(const void* send, void* recv, int64_t send_count,
                              CommDType dtype) override {
    return copy(send, recv, send_count, dtype);
  }
  CommHandle all_to_all_async(const void* send, void* recv, int64_t count,
                              CommDType dtype) override {
    return copy(send, recv, count, dtype);
  }
  CommHandle all_to_all_v_async(const void* send, std::span<const int64_t> send_counts, void* recv,
                                std::span<const int64_t> recv_counts, CommDType dtype) override {
    SYM_CHECK(send_counts.size() == 1 && recv_counts.size() == 1 &&
                  send_counts[0] == recv_counts[0],
              "all_to_all_v on one rank: counts must be one equal pair");
    return copy(send, recv, send_counts[0], dtype);
  }
  CommHandle broadcast_async(void*, int64_t, CommDType, int root) override {
    SYM_CHECK(root == 0, "broadcast root {} in a group of one", root);
    return CommHandle::completed();
  }
  CommHandle send_async(const void*, int64_t, CommDType, int peer, int) override {
    fatal(fmt::format("send to rank {} in the one-rank group '{}'", peer, name()));
  }
  CommHandle recv_async(void*, int64_t, CommDType, int peer, int) override {
    fatal(fmt::format("recv from rank {} in the one-rank group '{}'", peer, name()));
  }
  CommHandle barrier_async() override { return CommHandle::completed(); }
  Result<std::unique_ptr<Comm>> split(int, int, std::string name) override {
    auto made = std::make_unique<SelfComm>(std::move(name));
    made->set_wait_tally(wait_tally());
    return std::unique_ptr<Comm>(std::move(made));
  }

 private:
  static CommHandle copy(const void* send, void* recv, int64_t count, CommDType dtype) {
    if (send != recv && count > 0)
      std::memmove(recv, send, size_t(count * comm_dtype_bytes(dtype)));
    return CommHandle::completed();
  }
};

}  // namespace

std::unique_ptr<Comm> make_self_comm(std::string name) {
  return std::make_unique<SelfComm>(std::move(name));
}

}  // namespace symphony
