#include "monitor/rank_times.h"

#include <algorithm>

namespace symphony {

std::string_view wait_kind_name(WaitKind kind) {
  switch (kind) {
    case WaitKind::kDataParallel:
      return "data_parallel";
    case WaitKind::kExpert:
      return "expert";
    case WaitKind::kTensor:
      return "tensor";
    case WaitKind::kContext:
      return "context";
    case WaitKind::kPipeline:
      return "pipeline";
    case WaitKind::kOther:
      return "other";
  }
  return "?";
}

double RankTimes::comm_wait_total_s() const {
  double total = 0;
  for (double s : comm_wait_s) total += s;
  return total;
}

void RankTimes::add(const RankTimes& other) {
  steps += other.steps;
  step_s += other.step_s;
  compute_s += other.compute_s;
  data_wait_s += other.data_wait_s;
  checkpoint_stall_s += other.checkpoint_stall_s;
  for (int k = 0; k < kNumWaitKinds; ++k) comm_wait_s[size_t(k)] += other.comm_wait_s[size_t(k)];
}

RankTimes RankTimes::per_step() const {
  RankTimes t;
  if (steps <= 0) return t;
  t.steps = 1;
  t.step_s = step_s / steps;
  t.compute_s = compute_s / steps;
  t.data_wait_s = data_wait_s / steps;
  t.checkpoint_stall_s = checkpoint_stall_s / steps;
  for (int k = 0; k < kNumWaitKinds; ++k) t.comm_wait_s[size_t(k)] = comm_wait_s[size_t(k)] / steps;
  return t;
}

void RankTimes::pack(std::span<double, kPackedSize> out) const {
  out[0] = steps;
  out[1] = step_s;
  out[2] = compute_s;
  out[3] = data_wait_s;
  out[4] = checkpoint_stall_s;
  std::copy(comm_wait_s.begin(), comm_wait_s.end(), out.begin() + 5);
}

RankTimes RankTimes::unpack(std::span<const double, kPackedSize> in) {
  RankTimes t;
  t.steps = in[0];
  t.step_s = in[1];
  t.compute_s = in[2];
  t.data_wait_s = in[3];
  t.checkpoint_stall_s = in[4];
  std::copy(in.begin() + 5, in.end(), t.comm_wait_s.begin());
  return t;
}

RankTimes step_times(double step_s, double data_wait_s, double checkpoint_stall_s,
                     const std::array<double, kNumWaitKinds>& comm_wait_s) {
  RankTimes t;
  t.steps = 1;
  t.step_s = step_s;
  t.data_wait_s = data_wait_s;
  t.checkpoint_stall_s = checkpoint_stall_s;
  t.comm_wait_s = comm_wait_s;
  t.compute_s = std::max(0.0, step_s - data_wait_s - checkpoint_stall_s - t.comm_wait_total_s());
  return t;
}

}  // namespace symphony
