#pragma once
// Layout search: enumerate every valid layout for the cluster's GPU count (divisibility of heads,
// KV heads, FFN widths, layers over pipeline stages, experts, sequence and batch; tensor
// parallelism inside a node unless allowed across), drop those that do not fit in memory, rank
// the rest by step time, and say for each loser what lost it the race.

#include <cstdint>
#include <string>
#include <vector>

#include "plan/evaluation.h"

namespace symphony::plan {

// Why a layout is slower than the best one: the component of its step time that grew most.
enum class LossReason : uint8_t {
  kNone,
  kOutOfMemory,
  kBubble,
  kCommunication,
  kCompute,
  kOptimizer
};
std::string_view loss_reason_name(LossReason r);

struct RankedLayout {
  Evaluation eval;
  LossReason reason = LossReason::kNone;  // against the best layout
  double slowdown = 0;                    // step time / best step time - 1
};

struct SearchSpace {
  Precision precision = Precision::kBf16;
  std::vector<int64_t> micro_batch_sizes = {1, 2, 4, 8};
  std::vector<Recompute> recompute = {Recompute::kNone, Recompute::kSelective, Recompute::kFull};
  int64_t max_cp = 32;
  int64_t max_vpp = 8;
};

struct SearchResult {
  std::vector<RankedLayout> top;  // the fastest layouts that fit, best first
  int64_t evaluated = 0;          // valid layouts considered
  int64_t out_of_memory = 0;
  int64_t fitting = 0;
  int64_t lost_to_bubble = 0, lost_to_communication = 0, lost_to_compute = 0, lost_to_optimizer = 0;
  bool has_smallest = false;
  Evaluation smallest;  // the layout needing the least memory (fits or not)
  double seconds = 0;   // wall time of the search
};

// Searches ctx.cluster.num_gpus GPUs. REQUIRES: ctx.cluster.validate() is ok.
SearchResult search_layouts(const PlanContext& ctx, const SearchSpace& space, int64_t top_k);

// The layout of `space` needing the least memory per GPU when ctx's model runs on `num_gpus` GPUs
// of ctx's cluster (same batch, same node size); has_value() false when no layout is valid there.
// Stops at the first layout that fits, so `fits` answers "would this many GPUs do?" cheaply.
struct GpuCountProbe {
  bool valid = false;  // some layout is valid on that many GPUs
  bool fits = false;   // and one of them fits
  PlanLayout layout;   // the one that fits, else the leanest
  double memory_bytes = 0;
};
GpuCountProbe probe_gpu_count(const PlanContext& ctx, const SearchSpace& space, int64_t num_gpus);

// Compares a layout with the best one.
RankedLayout rank_against(const Evaluation& best, const Evaluation& other);

// Every valid layout of the search space (for tests).
std::vector<PlanLayout> enumerate_layouts(const PlanContext& ctx, const SearchSpace& space);

}  // namespace symphony::plan
