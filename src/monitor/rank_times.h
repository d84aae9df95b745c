#pragma once
// Where one rank's training steps went: its own work (compute, waiting for data, the checkpoint
// stall) and the time it was blocked waiting for its peers in each kind of communication. Summed
// over the steps of a window; per_step() gives the means. Gathered over the ranks every
// monitor.rank_stats_every steps (train/rank_stats.h), packed as doubles.
//   compute_s = step_s - data_wait_s - checkpoint_stall_s - sum(comm_wait_s)

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace symphony {

// The communication a rank waits in, by the group that carries it (train/comm_waits.h).
enum class WaitKind : uint8_t {
  kDataParallel,  // gradient reduction and ZeRO gathers, the step's loss and router reductions
  kExpert,        // the expert-parallel all-to-all
  kTensor,        // tensor- and expert-tensor-parallel collectives
  kContext,       // the context-parallel group
  kPipeline,      // pipeline sends and receives between stages
  kOther,         // the world group and anything split from it (stop requests, checkpoints)
};
constexpr int kNumWaitKinds = 6;
std::string_view wait_kind_name(WaitKind kind);  // "data_parallel", "expert", ...

struct RankTimes {
  double steps = 0;               // steps summed
  double step_s = 0;              // wall time of the steps
  double compute_s = 0;           // what is left of it: forward, backward, optimizer
  double data_wait_s = 0;         // blocked on the data loader
  double checkpoint_stall_s = 0;  // the training thread held by checkpoint saves
  std::array<double, kNumWaitKinds> comm_wait_s{};  // [WaitKind] blocked in communication

  static constexpr int kPackedSize = 5 + kNumWaitKinds;

  double comm_wait_total_s() const;
  // Time the rank spent on its own work, not waiting for peers: compute + data wait.
  double busy_s() const { return compute_s + data_wait_s; }
  void add(const RankTimes& other);
  // Every field divided by `steps` (zeros when steps is 0).
  RankTimes per_step() const;
  void pack(std::span<double, kPackedSize> out) const;
  static RankTimes unpack(std::span<const double, kPackedSize> in);
};

// One step's RankTimes: compute is the wall time less the waits, never negative.
RankTimes step_times(double step_s, double data_wait_s, double checkpoint_stall_s,
                     const std::array<double, kNumWaitKinds>& comm_wait_s);

}  // namespace symphony
