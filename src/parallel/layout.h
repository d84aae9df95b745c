#pragma once
// ParallelLayout: how the world's ranks factor into mesh axes. Pure arithmetic, no communication:
// the trainer, the mesh and tests use it directly.
//
// The world is a 5-d grid with axes pp, dp, cp, ep, tp whose sizes multiply to the world size.
// Rank order: `order` lists the axes from innermost (fastest varying) to outermost. The default
// "tp,cp,ep,dp,pp" keeps a tensor-parallel group on consecutive ranks (one node), as Megatron-LM
// does: rank = tp + T*(cp + C*(ep + E*(dp + D*pp))).

#include <array>
#include <span>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace symphony {

enum class Axis : uint8_t { kPipeline, kData, kContext, kExpert, kTensor };
inline constexpr int kNumAxes = 5;
std::string_view axis_name(Axis axis);  // "pp", "dp", "cp", "ep", "tp"

enum class ZeroStage : uint8_t {
  kNone = 0,        // replicated weights, gradients and optimizer state; gradient all-reduce
  kOptimizer = 1,   // optimizer state sharded over dp
  kGradients = 2,   // gradients reduce-scattered and sharded too
  kParameters = 3,  // parameters sharded as well, gathered unit by unit when used (FSDP)
};

struct ParallelConfig {
  int64_t pp = 1;  // pipeline stages
  int64_t dp = 0;  // data-parallel replicas; 0 = whatever the other axes leave of the world
  int64_t cp = 1;  // context (sequence) parallel
  int64_t ep = 1;  // expert parallel
  int64_t tp = 1;  // tensor parallel
  std::string order = "tp,cp,ep,dp,pp";  // axes from innermost to outermost rank order
  int64_t zero_stage = 0;                // 0..3, see ZeroStage
  double bucket_mb = 25;                 // gradient all-reduce bucket size (zero_stage 0 and 1)
  double timeout_s = 600;                // a collective that takes longer fails (watchdog)
};

class ParallelLayout {
 public:
  // Resolves dp = 0 and checks the config against the world size: every size >= 1, their
  // product equals world_size, `order` is a permutation of the five axis names, zero_stage in
  // 0..3. Errors name the `parallel.<key>` at fault and its value.
  static Result<ParallelLayout> create(const ParallelConfig& config, int world_size);

  int size(Axis axis) const { return sizes_[int(axis)]; }
  int world_size() const { return world_size_; }
  ZeroStage zero_stage() const { return zero_; }
  // Position of `rank` along each axis, and back.
  std::array<int, kNumAxes> coords(int rank) const;
  int rank_of(const std::array<int, kNumAxes>& coords) const;
  // The ranks that share every coordinate of `rank` except those on `axes`, ordered by their
  // position within the group (first axis of `axes` fastest). `rank` is among them.
  std::vector<int> group_ranks(std::span<const Axis> axes, int rank) const;
  // Position of `rank` within its group over `axes` (the index into group_ranks()).
  int group_rank(std::span<const Axis> axes, int rank) const;
  // "dp=4 tp=2 ..." for logs; axes of size 1 are left out ("single process" when all are).
  std::string describe() const;

 private:
  std::array<int, kNumAxes> sizes_{};    // [axis]
  std::array<int, kNumAxes> strides_{};  // [axis] rank stride from `order`
  int world_size_ = 1;
  ZeroStage zero_ = ZeroStage::kNone;
};

}  // namespace symphony
