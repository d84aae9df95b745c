#include "model/pipeline_split.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <utility>

#include "core/check.h"
#include "parallel/pipeline_stages.h"
#include "parallel/pipeline_timeline.h"

namespace symphony {

namespace {

// The step time of the interleaved schedule over p ranks with v chunks each, 4p micro-batches,
// each virtual stage's passes taking its cost (forward a third, backward two thirds), for the
// split `units`.
double interleaved_step(std::span<const double> cost, int p, int v, double first, double last,
                        std::span<const int64_t> units) {
  std::vector<StageTimes> chunks;
  size_t at = 0;
  for (size_t s = 0; s < units.size(); ++s) {
    double c = s == 0 ? first : 0.0;
    for (int64_t u = 0; u < units[s]; ++u) c += cost[at++];
    if (s + 1 == units.size()) c += last;
    chunks.push_back({.forward_s = c / 3, .backward_input_s = 2 * c / 3});
  }
  const Result<PipelineTimeline> tl =
      simulate_pipeline(PipelineSchedule::kInterleaved, p, 4 * p, v, chunks, 0.0);
  SYM_CHECK(tl.has_value(), "{}", tl.has_value() ? "" : tl.error().message());
  return tl->step_s;
}

// Splits of n units into k virtual stages of at least one unit each: C(n - 1, k - 1), or more
// than `cap` (then cap + 1).
int64_t split_count(int64_t n, int64_t k, int64_t cap) {
  double c = 1;
  for (int64_t i = 1; i < k; ++i) {
    c = c * double(n - i) / double(i);
    if (c > double(cap)) return cap + 1;
  }
  return int64_t(std::llround(c));
}

// Every split of the units into units.size() virtual stages; the one with the shortest simulated
// step, the first in lexicographic order among equals.
std::vector<int64_t> best_interleaved_split(std::span<const double> cost, int p, int v,
                                            double first, double last,
                                            std::vector<int64_t> units) {
  const int64_t n = int64_t(cost.size()), k = int64_t(units.size());
  std::vector<int64_t> trial(size_t(k), 1), best_units = units;
  double best = interleaved_step(cost, p, v, first, last, units);
  auto go = [&](auto&& self, int64_t stage, int64_t left) -> void {
    if (stage == k - 1) {
      trial[size_t(stage)] = left;
      const double t = interleaved_step(cost, p, v, first, last, trial);
      if (t < best * (1 - 1e-9)) {
        best = t;
        best_units = trial;
      }
      return;
    }
    for (int64_t u = 1; u <= left - (k - 1 - stage); ++u) {
      trial[size_t(stage)] = u;
      self(self, stage + 1, left - u);
    }
  };
  go(go, 0, n);
  return best_units;
}

// The interleaved schedule passes a micro-batch through the chunks in turn, so chunks of unequal
// cost leave ranks idle even when each rank's total is balanced. With few enough splits, the best
// of them all; otherwise, from `units`, moves one unit at a time across the boundary between two
// neighbouring virtual stages while that shortens the simulated step (steepest descent; ties keep
// the earlier split), every stage keeping a unit.
std::vector<int64_t> refine_interleaved_split(std::span<const double> cost, int p, int v,
                                              double first, double last,
                                              std::vector<int64_t> units) {
  constexpr int64_t kExhaustive = 20000;
  if (split_count(int64_t(cost.size()), int64_t(units.size()), kExhaustive) <= kExhaustive)
    return best_interleaved_split(cost, p, v, first, last, std::move(units));
  double best = interleaved_step(cost, p, v, first, last, units);
  for (;;) {
    std::vector<int64_t> best_move;
    for (size_t b = 0; b + 1 < units.size(); ++b)
      for (int dir : {-1, 1}) {
        std::vector<int64_t> moved = units;
        moved[b] += dir;
        moved[b + 1] -= dir;
        if (moved[b] < 1 || moved[b + 1] < 1) continue;
        const double t = interleaved_step(cost, p, v, first, last, moved);
        if (t < best * (1 - 1e-9)) {
          best = t;
          best_move = std::move(moved);
        }
      }
    if (best_move.empty()) return units;
    units = std::move(best_move);
  }
}

// The cost of each unit (sub-layer or layer) and what the first and last virtual stages add.
struct SplitCosts {
  std::vector<double> units;
  double first = 0, last = 0;
  double head = 0;  // the whole LM head and loss (6 V D), wherever the head split puts it
};

SplitCosts split_costs(const ModelConfig& model, const ParallelConfig& parallel, int64_t seq_len,
                       bool halves) {
  SplitCosts out;
  const double core = 3.0 * double(model.attention_core_dims()) * double(seq_len + 1);
  const double attention = 6.0 * double(model.attention_matmul_params()) + core;
  for (int64_t l = 0; l < model.num_hidden_layers; ++l) {
    const double whole = 6.0 * double(model.layer_matmul_params(l)) + core;
    if (halves) {
      out.units.push_back(attention);
      out.units.push_back(whole - attention);
    } else {
      out.units.push_back(whole);
    }
  }
  const double vd = double(model.vocab_size) * double(model.hidden_size);
  out.head = 6.0 * vd;
  out.last = out.head;
  // The MTP modules run on the last stage: each an eh_proj, a layer and the LM head again.
  for (int64_t l = model.num_hidden_layers; l < model.num_layers_with_mtp(); ++l)
    out.last += 6.0 * (2.0 * double(model.hidden_size) * double(model.hidden_size) +
                       double(model.layer_matmul_params(l)) + vd) +
                core;
  out.first = double(model.hidden_size);
  // The head split moves a share of the LM head to the first stage (the MTP modules stay).
  out.first += parallel.pp_head_share * out.head;
  out.last -= parallel.pp_head_share * out.head;
  return out;
}

}  // namespace

std::vector<int64_t> pipeline_layer_split(const ModelConfig& model, const ParallelConfig& parallel,
                                          int64_t seq_len, StageUnit unit) {
  const bool halves = unit == StageUnit::kSublayer;
  if (!parallel.pp_layers.empty()) {
    if (halves) return sublayer_counts(parallel.pp_layers);
    std::vector<int64_t> layers;
    for (double n : parallel.pp_layers) {
      SYM_CHECK(n == std::floor(n), "a whole-layer split of parallel.pp_layers entry {}", n);
      layers.push_back(int64_t(n));
    }
    return layers;
  }
  const int count = int(parallel.pp * parallel.vpp);
  if (count <= 1) return {};
  const SplitCosts costs = split_costs(model, parallel, seq_len, halves);
  const std::vector<double>& cost = costs.units;
  const double embedding = costs.first, head = costs.last;
  if (parallel.vpp <= 1) return balance_pipeline_layers(cost, count, embedding, head);
  // Interleaved: a rank runs all its chunks for every micro-batch, so its total is what must be
  // balanced. Each rank's count comes from the split over pp stages, then is spread over its
  // chunks, earlier chunks taking the remainder (virtual stage chunk * pp + stage).
  const int p = int(parallel.pp), v = int(parallel.vpp);
  const std::vector<int64_t> per_rank = balance_pipeline_layers(cost, p, embedding, head);
  std::vector<int64_t> spread = balance_pipeline_layers(cost, count, embedding, head);
  if (*std::min_element(per_rank.begin(), per_rank.end()) >= v)
    for (int r = 0; r < p; ++r)
      for (int c = 0; c < v; ++c)
        spread[size_t(c * p + r)] =
            per_rank[size_t(r)] / v + (c < per_rank[size_t(r)] % v ? 1 : 0);
  return refine_interleaved_split(cost, p, v, embedding, head, std::move(spread));
}

double head_share_for_stage_times(const ModelConfig& model, const ParallelConfig& parallel,
                                  int64_t seq_len, std::span<const double> busy_s) {
  SYM_CHECK(parallel.pp == 2 && parallel.vpp == 1 && busy_s.size() == 2,
            "the head split's share for pp = {} x vpp = {} and {} stage times", parallel.pp,
            parallel.vpp, busy_s.size());
  const SplitCosts costs = split_costs(model, parallel, seq_len, true);
  const std::vector<int64_t> units = pipeline_layer_split(model, parallel, seq_len);
  double last = costs.last;
  for (size_t u = size_t(units[0]); u < costs.units.size(); ++u) last += costs.units[u];
  if (!(last > 0) || !(busy_s[1] > 0)) return parallel.pp_head_share;
  const double head_s = busy_s[1] * costs.head / last;  // the whole head's time, estimated
  const double share = parallel.pp_head_share + (busy_s[1] - busy_s[0]) / (2.0 * head_s);
  return std::clamp(share, 0.0, 0.9);
}

}  // namespace symphony
