#pragma once
// The figures of a training run that /metrics exposes (docs/monitoring.md lists each metric: name,
// unit, labels, meaning), and their Prometheus families. The trainer updates a RunMetricsSnapshot
// after every step (rank 0's view of the run) and the per-rank part after every window of
// monitor.rank_stats_every steps; monitor/metrics_server.h renders it on each scrape.

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "monitor/prometheus_text.h"
#include "monitor/rank_times.h"
#include "tensor/memory_stats.h"

namespace symphony {

struct RankMetrics {
  int rank = 0;
  std::string host;
  int64_t pid = 0;
  RankTimes per_step;  // the last window's per-step means (zeros before the first window)
  std::array<int64_t, kNumMemoryCategories> memory_bytes{};       // [category] now
  std::array<int64_t, kNumMemoryCategories> memory_peak_bytes{};  // [category] since start
  bool straggler = false;  // named by the straggler detector and still slow
};

struct RunMetricsSnapshot {
  int64_t step = 0;         // steps completed (0: none yet)
  int64_t total_steps = 0;  // train.steps
  // The last step's figures; NaN ones are not exposed (no step yet, no MoE layer, MFU without
  // monitor.peak_tflops, no evaluation yet).
  double loss = NAN;
  double eval_loss = NAN;
  double lr = NAN;
  double grad_norm = NAN;
  double tokens_per_s = NAN;
  double step_time_s = NAN;
  double mfu = NAN;                 // model FLOPs utilisation, 0..1
  double max_over_mean_load = NAN;  // router load imbalance: the worst MoE layer's max/mean
  double dropped_fraction = NAN;    // routed token slots dropped by expert capacity
  int64_t tokens = 0;               // tokens trained, this run and the runs it resumed
  int64_t dropped_tokens = 0;       // token slots dropped since this process started
  int64_t straggler_alarms = 0;     // stragglers named since this process started
  int64_t checkpoint_step = 0;      // step of the newest committed checkpoint (0: none)
  double checkpoint_unix_s = 0;     // when it was committed, or when the run started if none
  std::vector<RankMetrics> ranks;   // [rank]
};

// The families of `s`, checkpoint age taken at `now_unix_s` (seconds since the Unix epoch).
std::vector<MetricFamily> run_metric_families(const RunMetricsSnapshot& s, double now_unix_s);

// Seconds since the Unix epoch of the system clock.
double unix_seconds();

}  // namespace symphony
