#pragma once
// Throughput of full training steps (forward, backward, optimizer) of a config on random tokens,
// independent of any dataset: what `symphony bench train` reports. Under an MPI launcher every
// rank of `world` runs the config's parallel layout (data, expert parallelism, ZeRO) on its own
// random micro-batches; step times are rank 0's, which waits on the others' collectives. Under
// pipeline parallelism every stage of a pipeline draws the same micro-batches.

#include <cstdint>
#include <functional>
#include <vector>

#include "config/run_config.h"
#include "core/status.h"
#include "parallel/comm.h"
#include "parallel/expert_exchange.h"
#include "parallel/pipeline_timeline.h"
#include "tensor/exec.h"

namespace symphony {

// Bytes of training state one rank holds (weights, gradients and AdamW moments, as allocated)
// and the part of them that belongs to routed experts.
struct RankStateBytes {
  int64_t weights = 0, grads = 0, optimizer = 0, communication = 0;
  int64_t expert_weights = 0, expert_grads = 0, expert_optimizer = 0;
  int64_t total() const { return weights + grads + optimizer + communication; }
  int64_t expert_total() const { return expert_weights + expert_grads + expert_optimizer; }
};

struct TrainBenchResult {
  double tokens_per_s = 0;     // global tokens per step / median step time
  double step_time_s = 0;      // median over timed steps
  double gflops = 0;           // achieved model GFLOP/s (monitor/flops.h)
  double flops_per_token = 0;
  int64_t tokens_per_step = 0;  // over every rank
  double first_loss = 0;
  double last_loss = 0;
  std::vector<double> step_times_s;  // each timed step, in order
  ExchangeTimes exchange;            // expert all-to-all per timed step (mean), this rank
  double exposed_grad_comm_s = 0;    // gradient communication not hidden, per step (mean)
  ExchangeTimes tensor_comm;         // tensor-parallel collectives per step (mean), this rank
  RankStateBytes state;              // this rank's
  int64_t activation_bytes = 0;      // activations the model allocated on this rank
  std::string layout;                // ParallelLayout::describe()
  // Pipeline parallel (train/pipeline_report.h): medians over the timed steps, and the last timed
  // step's timeline; bubbles are -1 without a pipeline.
  double pipeline_bubble = -1;
  double pipeline_bubble_analytic = -1;
  double pipeline_bubble_replayed = -1;
  double pipeline_imbalance = -1;
  int64_t micro_batches = 1;         // per data-parallel rank (and pipeline) per step
  PipelineTimeline pipeline_timeline;
};

// GEMMs run in config.train.precision (ex's own matmul precision is replaced), as in training.
// `after_step`, when given, runs after each timed step, outside its timing (a ceiling probe).
// `world`: the ranks running the layout; nullptr for one process.
// Failure: a layout that does not fit the world (naming parallel.*), a communication error.
Result<TrainBenchResult> bench_train(const RunConfig& config, const Exec& ex,
                                     int64_t warmup_steps, int64_t timed_steps,
                                     const std::function<void()>& after_step = {},
                                     Comm* world = nullptr);

}  // namespace symphony
