#include "plan/search.h"

#include <algorithm>
#include <chrono>

#include "core/check.h"

namespace symphony::plan {
namespace {

std::vector<int64_t> divisors(int64_t n, int64_t limit) {
  std::vector<int64_t> d;
  for (int64_t i = 1; i <= std::min(n, limit); ++i)
    if (n % i == 0) d.push_back(i);
  return d;
}

// The layouts of these sizes on n GPUs, one per ZeRO stage that has replicas to shard over; none
// when ParallelLayout refuses the sizes (ep not dividing dp * cp * tp).
std::vector<ParallelLayout> parallel_layouts(int64_t n, int64_t dp, int64_t tp, int64_t pp,
                                             int64_t cp, int64_t ep) {
  std::vector<ParallelLayout> layouts;
  for (ZeroStage zero : {ZeroStage::kNone, ZeroStage::kOptimizer, ZeroStage::kGradients,
                         ZeroStage::kParameters}) {
    ParallelConfig config;
    config.dp = dp, config.tp = tp, config.pp = pp, config.cp = cp, config.ep = ep;
    config.zero_stage = zero;
    Result<ParallelLayout> layout = ParallelLayout::create(config, int(n));
    if (!layout) break;
    const bool replicas = layout->size(Axis::kData) * layout->size(Axis::kContext) > 1 ||
                          layout->size(Axis::kExpertData) > 1;
    if (zero != ZeroStage::kNone && !replicas) break;
    layouts.push_back(*layout);
  }
  return layouts;
}

template <typename F>
void for_each_layout(const PlanContext& ctx, const SearchSpace& space, F visit) {
  const ModelCosts& m = ctx.model;
  const ModelConfig& c = m.config;
  const BatchSpec& b = ctx.batch;
  const int64_t n = ctx.cluster.num_gpus, gpn = ctx.cluster.gpus_per_node;
  const int64_t tp_limit = ctx.options.tp_placement == TpPlacement::kWithinNode ? gpn : n;
  for (int64_t tp : divisors(n, tp_limit)) {
    if (c.num_attention_heads % tp) continue;
    if (!c.mla() && c.num_key_value_heads % tp && tp % c.num_key_value_heads) continue;
    if (m.num_dense_layers > 0 && c.intermediate_size % tp) continue;
    if (c.num_experts > 0 && c.n_shared_experts > 0 && c.moe_intermediate_size % tp) continue;
    for (int64_t pp : divisors(n / tp, m.num_layers)) {
      for (int64_t cp : divisors(n / (tp * pp), space.max_cp)) {
        if (cp > 1 && b.seq_len % (2 * cp)) continue;
        const int64_t dp = n / (tp * pp * cp);
        if (b.sequences() % dp) continue;
        const std::vector<int64_t> eps =
            c.num_experts > 0 ? divisors(c.num_experts, c.num_experts) : std::vector<int64_t>{1};
        for (int64_t ep : eps) {
          const std::vector<ParallelLayout> parallels = parallel_layouts(n, dp, tp, pp, cp, ep);
          for (int64_t mbs : space.micro_batch_sizes) {
            if (b.sequences() % (dp * mbs)) continue;
            const int64_t micro = b.sequences() / (dp * mbs);
            for (const ParallelLayout& parallel : parallels) {
              for (Recompute rc : space.recompute) {
                PlanLayout l;
                l.parallel = parallel;
                l.mbs = mbs, l.recompute = rc, l.precision = space.precision;
                if (pp == 1) {
                  visit(l);
                  continue;
                }
                for (PipelineSchedule s : {PipelineSchedule::k1F1B, PipelineSchedule::kGpipe,
                                           PipelineSchedule::kZeroBubble}) {
                  l.schedule = s;
                  visit(l);
                }
                if (pp % 2 == 0 && micro >= 2 * pp) {
                  l.schedule = PipelineSchedule::kDualPipe;
                  visit(l);
                }
                if (micro % pp == 0) {
                  l.schedule = PipelineSchedule::kInterleaved;
                  for (int64_t v = 2; v <= space.max_vpp && pp * v <= m.num_layers; ++v) {
                    l.vpp = v;
                    visit(l);
                  }
                  l.vpp = 1;
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace

std::string_view loss_reason_name(LossReason r) {
  switch (r) {
    case LossReason::kNone: return "-";
    case LossReason::kOutOfMemory: return "OOM";
    case LossReason::kBubble: return "bubble";
    case LossReason::kCommunication: return "communication";
    case LossReason::kCompute: return "compute";
    case LossReason::kOptimizer: return "optimizer";
  }
  return "?";
}

RankedLayout rank_against(const Evaluation& best, const Evaluation& other) {
  RankedLayout r;
  r.eval = other;
  if (!other.fits) {
    r.reason = LossReason::kOutOfMemory;
    return r;
  }
  r.slowdown = other.time.step_s / best.time.step_s - 1.0;
  if (r.slowdown <= 1e-12) return r;
  const TimeBreakdown &a = best.time, &b = other.time;
  const std::pair<double, LossReason> deltas[] = {
      {b.bubble - a.bubble, LossReason::kBubble},
      {b.communication() - a.communication(), LossReason::kCommunication},
      {b.compute - a.compute, LossReason::kCompute},
      {b.optimizer - a.optimizer, LossReason::kOptimizer},
  };
  double largest = -1;
  for (auto [d, reason] : deltas)
    if (d > largest) largest = d, r.reason = reason;
  return r;
}

std::vector<PlanLayout> enumerate_layouts(const PlanContext& ctx, const SearchSpace& space) {
  std::vector<PlanLayout> all;
  for_each_layout(ctx, space, [&](const PlanLayout& l) { all.push_back(l); });
  return all;
}

GpuCountProbe probe_gpu_count(const PlanContext& ctx, const SearchSpace& space, int64_t num_gpus) {
  PlanContext probe = ctx;
  probe.cluster.num_gpus = num_gpus;
  GpuCountProbe r;
  const double capacity = ctx.cluster.accelerator.memory_bytes;
  for_each_layout(probe, space, [&](const PlanLayout& l) {
    if (r.fits) return;
    const double memory = plan_memory(probe, l).total();
    if (!r.valid || memory < r.memory_bytes) {
      r.layout = l;
      r.memory_bytes = memory;
    }
    r.valid = true;
    r.fits = memory <= capacity;
  });
  return r;
}

SearchResult search_layouts(const PlanContext& ctx, const SearchSpace& space, int64_t top_k) {
  const auto start = std::chrono::steady_clock::now();
  SearchResult result;
  // What ranking and loss attribution need of each fitting layout; the top K are evaluated again
  // in full at the end. Keeping full Evaluations of every layout would cost more memory traffic
  // than the evaluations themselves.
  struct Fitting {
    PlanLayout layout;
    double step_s, bubble, communication, compute, optimizer, memory;
  };
  std::vector<Fitting> fitting;
  const double capacity = ctx.cluster.accelerator.memory_bytes;
  for_each_layout(ctx, space, [&](const PlanLayout& l) {
    ++result.evaluated;
    const MemoryBreakdown memory = plan_memory(ctx, l);
    const double total = memory.total();
    if (!result.has_smallest || total < result.smallest.memory.total()) {
      result.smallest.layout = l;
      result.smallest.memory = memory;
      result.smallest.fits = total <= capacity;
      result.has_smallest = true;
    }
    if (total > capacity) {
      ++result.out_of_memory;
      return;
    }
    const TimeBreakdown t = plan_step_time(ctx, l);
    fitting.push_back({l, t.step_s, t.bubble, t.communication(), t.compute, t.optimizer, total});
  });
  result.fitting = int64_t(fitting.size());
  if (!fitting.empty()) {
    // Ties (GPipe against 1F1B) go to the layout needing less memory.
    auto faster = [](const Fitting& a, const Fitting& b) {
      if (a.step_s != b.step_s) return a.step_s < b.step_s;
      return a.memory < b.memory;
    };
    const size_t k = std::min<size_t>(size_t(std::max<int64_t>(top_k, 1)), fitting.size());
    std::partial_sort(fitting.begin(), fitting.begin() + ptrdiff_t(k), fitting.end(), faster);
    const Evaluation best = evaluate(ctx, fitting.front().layout);
    for (size_t i = 0; i < fitting.size(); ++i) {
      const Fitting& f = fitting[i];
      if (i < k) {
        result.top.push_back(rank_against(best, evaluate(ctx, f.layout)));
        continue;
      }
      Evaluation e;
      e.fits = true;
      e.time.step_s = f.step_s;
      e.time.bubble = f.bubble;
      e.time.tp_comm = f.communication;
      e.time.compute = f.compute;
      e.time.optimizer = f.optimizer;
      switch (rank_against(best, e).reason) {
        case LossReason::kBubble: ++result.lost_to_bubble; break;
        case LossReason::kCommunication: ++result.lost_to_communication; break;
        case LossReason::kCompute: ++result.lost_to_compute; break;
        case LossReason::kOptimizer: ++result.lost_to_optimizer; break;
        default: break;
      }
    }
    for (const RankedLayout& r : result.top) {
      switch (r.reason) {
        case LossReason::kBubble: ++result.lost_to_bubble; break;
        case LossReason::kCommunication: ++result.lost_to_communication; break;
        case LossReason::kCompute: ++result.lost_to_compute; break;
        case LossReason::kOptimizer: ++result.lost_to_optimizer; break;
        default: break;
      }
    }
    result.smallest = evaluate(ctx, result.smallest.layout);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace symphony::plan
