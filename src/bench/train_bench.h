#pragma once
// Throughput of full training steps (forward, backward, optimizer) of a config on random tokens,
// independent of any dataset: what `symphony bench train` reports.

#include <cstdint>
#include <functional>
#include <vector>

#include "config/run_config.h"
#include "tensor/exec.h"

namespace symphony {

struct TrainBenchResult {
  double tokens_per_s = 0;
  double step_time_s = 0;      // median over timed steps
  double gflops = 0;           // achieved model GFLOP/s (monitor/flops.h)
  double flops_per_token = 0;
  int64_t tokens_per_step = 0;
  double first_loss = 0;
  double last_loss = 0;
  std::vector<double> step_times_s;  // each timed step, in order
};

// `after_step`, when given, runs after each timed step, outside its timing (a ceiling probe).
TrainBenchResult bench_train(const RunConfig& config, const Exec& ex, int64_t warmup_steps,
                             int64_t timed_steps, const std::function<void()>& after_step = {});

}  // namespace symphony
